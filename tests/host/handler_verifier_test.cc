// The handler verifier: every rule, each with a program that breaks it (and,
// where it helps, the nearest program that keeps it).
#include "kernel/net/verifier.h"

#include <gtest/gtest.h>

#include <memory>

#include "tests/support/bpf_asm.h"

using namespace veneer;
using namespace veneer::net;
using namespace veneer::test::bpf_asm;

namespace {

struct Check {
  Status status;
  uint32_t insn;
  uint32_t max_path;
};

Check verify(const Program& p, uint32_t buffer = 64) {
  static Verifier* v = new Verifier;
  VerifyResult r = v->verify(p.data(), p.size(), buffer);
  return {r.status, r.insn, r.max_path};
}

Status status(const Program& p, uint32_t buffer = 64) { return verify(p, buffer).status; }

// r0 = 0; exit: the smallest accepted program.
const std::vector<BpfInsn> kReturn0 = {mov64_imm(0, 0), exit_insn()};

}  // namespace

TEST(HandlerVerifier, AcceptsTheSmallestProgram) {
  Check c = verify(Program{kReturn0});
  EXPECT_EQ(c.status, OK);
  EXPECT_EQ(c.max_path, 2u);
}

TEST(HandlerVerifier, OversizedOrEmptyProgram) {
  Program big{{}};
  for (uint32_t i = 0; i < kHandlerMaxInsns - 1; i++) big.insns.push_back(mov64_imm(0, 1));
  big.insns.push_back(exit_insn());
  EXPECT_EQ(status(big), OK) << "exactly 4096 instructions";
  big.insns.insert(big.insns.begin(), mov64_imm(0, 1));
  EXPECT_EQ(status(big), ERR_HANDLER_SIZE);
  EXPECT_EQ(status(Program{{}}), ERR_HANDLER_SIZE);
  EXPECT_EQ(status(Program{kReturn0}, kHandlerMaxBuffer + 1), ERR_HANDLER_SIZE);
}

TEST(HandlerVerifier, MalformedOrUnsupportedInstructions) {
  auto refused = [](BpfInsn i) { return status(Program{{mov64_imm(0, 0), i, exit_insn()}}); };
  EXPECT_EQ(refused(insn(b::ALU64 | 0xE0 | b::K, 0, 0, 0, 0)), ERR_HANDLER_BAD_INSN);   // no such operation
  EXPECT_EQ(refused(insn(b::ALU64 | b::MOV | b::K, 0, 1, 0, 5)), ERR_HANDLER_BAD_INSN); // src set with K
  EXPECT_EQ(refused(insn(b::ALU64 | b::ADD | b::X, 0, 1, 0, 5)), ERR_HANDLER_BAD_INSN); // imm set with X
  EXPECT_EQ(refused(insn(b::ALU64 | b::ADD | b::K, 0, 0, 1, 5)), ERR_HANDLER_BAD_INSN); // offset set
  EXPECT_EQ(refused(mov64_imm(10, 0)), ERR_HANDLER_BAD_INSN);                           // r10 is read only
  EXPECT_EQ(refused(mov64_imm(11, 0)), ERR_HANDLER_BAD_INSN);                           // no r11
  EXPECT_EQ(refused(mov64_reg(0, 12)), ERR_HANDLER_BAD_INSN);
  EXPECT_EQ(refused(insn(b::STX | b::ATOMIC | b::DW, 10, 0, -8, 0)), ERR_HANDLER_BAD_INSN);  // atomics
  EXPECT_EQ(refused(insn(b::LD | b::ABS | b::B, 0, 0, 0, 12)), ERR_HANDLER_BAD_INSN);   // legacy packet load
  EXPECT_EQ(refused(insn(b::JMP | b::CALL, 0, 1, 0, 1)), ERR_HANDLER_BAD_INSN);         // local function call
  EXPECT_EQ(refused(insn(b::JMP32 | b::JA, 0, 0, 0, 0)), ERR_HANDLER_BAD_INSN);         // gotol
  EXPECT_EQ(refused(insn(b::ALU | b::END | b::X, 0, 0, 0, 8)), ERR_HANDLER_BAD_INSN);   // swap of 8 bits
  EXPECT_EQ(refused(insn(b::ALU | b::MOV | b::X, 0, 1, 32, 0)), ERR_HANDLER_BAD_INSN);  // 32-bit movsx from 32
  EXPECT_EQ(refused(insn(b::LDX | b::MEMSX | b::DW, 0, 10, -8, 0)), ERR_HANDLER_BAD_INSN);
  // A 64-bit load needs its second slot, plain, and no pseudo source.
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), exit_insn(), {lddw(0, 1)[0]}}}), ERR_HANDLER_BAD_INSN);
  std::vector<BpfInsn> map_load = lddw(0, 1);
  map_load[0].regs = 1 << 4;  // src 1: a map by fd
  EXPECT_EQ(status(Program{map_load, {exit_insn()}}), ERR_HANDLER_BAD_INSN);
  EXPECT_EQ(status(Program{lddw(0, 0x1122334455667788ull), {exit_insn()}}), OK);
}

TEST(HandlerVerifier, JumpsOutOfRangeOrIntoAnInstruction) {
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), ja(5), exit_insn()}}), ERR_HANDLER_BAD_JUMP);
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_imm(b::JEQ, 2, 0, -3), exit_insn()}}), ERR_HANDLER_BAD_JUMP);
  Check into_lddw = verify(Program{{mov64_imm(0, 0), ja(1)}, lddw(1, 5), {exit_insn()}});
  EXPECT_EQ(into_lddw.status, ERR_HANDLER_BAD_JUMP);
  EXPECT_EQ(into_lddw.insn, 1u);
  // Falling off the end is a jump out of the program.
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_imm(b::JEQ, 2, 0, 1), exit_insn(), mov64_imm(0, 1)}}),
            ERR_HANDLER_BAD_JUMP);
}

TEST(HandlerVerifier, LoopsNeedAProvenBound) {
  // r0 counts to 100: followed to its exit; the worst case is exact.
  Program bounded{{mov64_imm(0, 0), alu64_imm(b::ADD, 0, 1), jmp_imm(b::JLT, 0, 100, -2), exit_insn()}};
  Check c = verify(bounded);
  EXPECT_EQ(c.status, OK);
  EXPECT_EQ(c.max_path, 1 + 100 * 2 + 1);
  // The same loop to 100,000: ends, but past the path bound.
  Program too_long{{mov64_imm(0, 0), alu64_imm(b::ADD, 0, 1), jmp_imm(b::JLT, 0, 100000, -2), exit_insn()}};
  EXPECT_EQ(status(too_long), ERR_HANDLER_UNBOUNDED);
  // No exit at all.
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), ja(-1), exit_insn()}}), ERR_HANDLER_UNBOUNDED);
  // An exit that depends on nothing the verifier can bound.
  Program unknown{{mov64_reg(0, 2), alu64_imm(b::MUL, 0, 3), jmp_imm(b::JNE, 0, 7, -2), exit_insn()}};
  EXPECT_EQ(status(unknown), ERR_HANDLER_UNBOUNDED);
  // A loop bounded by the frame length: at most 1514 iterations.
  Program by_len{{mov64_imm(0, 0), alu64_imm(b::ADD, 0, 1), jmp_reg(b::JLT, 0, 2, -2), exit_insn()}};
  Check l = verify(by_len);
  EXPECT_EQ(l.status, OK);
  EXPECT_EQ(l.max_path, 1 + kHandlerMaxFrame * 2 + 1);
}

TEST(HandlerVerifier, TooManyPathsOrOpenBranches) {
  // 30 independent bit tests (nothing narrows): 2^30 paths, no loop.
  Program paths{{mov64_imm(0, 0)}};
  for (int k = 0; k < 30; k++) {
    paths.insns.push_back(jmp_imm(b::JSET, 2, 1 << (k % 11), 1));
    paths.insns.push_back(alu64_imm(b::ADD, 0, 1));
  }
  paths.insns.push_back(exit_insn());
  EXPECT_EQ(status(paths), ERR_HANDLER_TOO_COMPLEX);
  // 12 such tests are fine: 4096 paths.
  paths.insns.erase(paths.insns.begin() + 1 + 2 * 12, paths.insns.end() - 1);
  EXPECT_EQ(status(paths), OK);
  // 80 branches open at once.
  Program open{{mov64_imm(0, 0)}};
  for (int k = 0; k < 80; k++) open.insns.push_back(jmp_imm(b::JSET, 2, 1 << (k % 11), 0));
  open.insns.push_back(exit_insn());
  EXPECT_EQ(status(open), ERR_HANDLER_TOO_COMPLEX);
}

TEST(HandlerVerifier, FrameReadsNeedALengthCheck) {
  auto read_after_check = [](int32_t checked, int16_t off, uint8_t size) {
    // if len < checked goto out; r0 = *(size*)(frame + off); out: exit
    return status(Program{{mov64_imm(0, 0), jmp_imm(b::JLT, 2, checked, 1), ldx(size, 0, 1, off), exit_insn()}});
  };
  EXPECT_EQ(read_after_check(14, 12, b::H), OK);
  EXPECT_EQ(read_after_check(14, 13, b::H), ERR_HANDLER_BAD_ACCESS);  // one byte past what was checked
  EXPECT_EQ(read_after_check(14, -1, b::B), ERR_HANDLER_BAD_ACCESS);
  EXPECT_EQ(status(Program{{ldx(b::B, 0, 1, 0), exit_insn()}}), ERR_HANDLER_BAD_ACCESS);  // no check at all
  // The check through a copy of the length, and in the other direction.
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), mov64_reg(4, 2), jmp_imm(b::JGT, 4, 39, 1), exit_insn(),
                            ldx(b::W, 0, 1, 36), exit_insn()}}),
            OK);
  // Writing to the frame is never allowed.
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_imm(b::JLT, 2, 14, 1), st(b::B, 1, 0, 1), exit_insn()}}),
            ERR_HANDLER_BAD_ACCESS);
  // A variable offset is fine when its whole range is checked.
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_imm(b::JLT, 2, 80, 5), ldx(b::B, 4, 1, 14),
                            alu64_imm(b::AND, 4, 0x0F), alu64_reg(b::ADD, 4, 1), ldx(b::B, 0, 4, 60), exit_insn(),
                            exit_insn()}}),
            OK);
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_imm(b::JLT, 2, 80, 5), ldx(b::B, 4, 1, 14),
                            alu64_imm(b::AND, 4, 0x1F), alu64_reg(b::ADD, 4, 1), ldx(b::B, 0, 4, 60), exit_insn(),
                            exit_insn()}}),
            ERR_HANDLER_BAD_ACCESS);  // 31 + 60 reaches past 80
}

TEST(HandlerVerifier, StackAndBufferBounds) {
  EXPECT_EQ(status(Program{{st(b::DW, 10, -512, 1), ldx(b::DW, 0, 10, -512), exit_insn()}}), OK);
  EXPECT_EQ(status(Program{{st(b::DW, 10, -520, 1), mov64_imm(0, 0), exit_insn()}}), ERR_HANDLER_BAD_ACCESS);
  EXPECT_EQ(status(Program{{st(b::W, 10, -2, 1), mov64_imm(0, 0), exit_insn()}}), ERR_HANDLER_BAD_ACCESS);
  // A stack offset must be a constant.
  Program variable_stack{{mov64_imm(0, 0), jmp_imm(b::JLT, 2, 1, 5), ldx(b::B, 5, 1, 0), alu64_imm(b::AND, 5, 7),
                          mov64_reg(4, 10), alu64_reg(b::SUB, 4, 5), st(b::B, 4, -1, 0), exit_insn()}};
  EXPECT_EQ(status(variable_stack), ERR_HANDLER_BAD_ACCESS);
  // The granted buffer: its size is the bound.
  EXPECT_EQ(status(Program{{st(b::W, 3, 60, 7), mov64_imm(0, 0), exit_insn()}}, 64), OK);
  EXPECT_EQ(status(Program{{st(b::W, 3, 61, 7), mov64_imm(0, 0), exit_insn()}}, 64), ERR_HANDLER_BAD_ACCESS);
  EXPECT_EQ(status(Program{{st(b::W, 3, 61, 7), mov64_imm(0, 0), exit_insn()}}, 65), OK);
  // A number is not an address; an unbounded offset makes no pointer.
  EXPECT_EQ(status(Program{{mov64_imm(4, 4096), ldx(b::B, 0, 4, 0), exit_insn()}}), ERR_HANDLER_BAD_ACCESS);
  // ... even one whose bound plus the offset overflows (UBSan saw the sum
  // computed before the kind was checked; found by handler_fuzz).
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_imm(b::JLT, 2, 8, 3), ldx(b::DW, 4, 1, 0), alu64_imm(b::RSH, 4, 1),
                            ldx(b::B, 0, 4, 11), exit_insn()}}),
            ERR_HANDLER_BAD_ACCESS);
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_imm(b::JLT, 2, 8, 3), ldx(b::DW, 4, 1, 0), alu64_reg(b::ADD, 3, 4),
                            st(b::B, 3, 0, 0), exit_insn()}}),
            ERR_HANDLER_BAD_ACCESS);
}

TEST(HandlerVerifier, UninitialisedRegistersAndStack) {
  EXPECT_EQ(status(Program{{mov64_reg(0, 5), exit_insn()}}), ERR_HANDLER_UNINIT);
  EXPECT_EQ(status(Program{{exit_insn()}}), ERR_HANDLER_UNINIT);  // r0 never set
  EXPECT_EQ(status(Program{{alu64_imm(b::ADD, 0, 1), exit_insn()}}), ERR_HANDLER_UNINIT);
  EXPECT_EQ(status(Program{{ldx(b::DW, 0, 10, -8), exit_insn()}}), ERR_HANDLER_UNINIT);
  EXPECT_EQ(status(Program{{st(b::W, 10, -8, 1), ldx(b::DW, 0, 10, -8), exit_insn()}}), ERR_HANDLER_UNINIT);
  EXPECT_EQ(status(Program{{st(b::W, 10, -8, 1), st(b::W, 10, -4, 1), ldx(b::DW, 0, 10, -8), exit_insn()}}), OK);
  EXPECT_EQ(status(Program{{stx(b::DW, 10, 6, -8), mov64_imm(0, 0), exit_insn()}}), ERR_HANDLER_UNINIT);
  // Helper calls clobber r1..r5.
  EXPECT_EQ(status(Program{{mov64_imm(1, 1), call(VENEER_HELPER_WAKE_ENV), call(VENEER_HELPER_WAKE_ENV), exit_insn()}}),
            ERR_HANDLER_UNINIT);
  EXPECT_EQ(status(Program{{mov64_imm(1, 1), call(VENEER_HELPER_WAKE_ENV), mov64_reg(0, 1), exit_insn()}}),
            ERR_HANDLER_UNINIT);
  EXPECT_EQ(status(Program{{mov64_imm(6, 9), mov64_imm(1, 1), call(VENEER_HELPER_WAKE_ENV), mov64_reg(0, 6),
                            exit_insn()}}),
            OK) << "r6..r9 survive calls";
}

TEST(HandlerVerifier, HelpersAndTheirArguments) {
  EXPECT_EQ(status(Program{{mov64_imm(1, 1), call(99), exit_insn()}}), ERR_HANDLER_BAD_HELPER);
  EXPECT_EQ(status(Program{{mov64_imm(1, 1), call(0), exit_insn()}}), ERR_HANDLER_BAD_HELPER);
  // r1 is the frame pointer at entry: helpers take numbers, not addresses.
  EXPECT_EQ(status(Program{{call(VENEER_HELPER_WAKE_ENV), exit_insn()}}), ERR_HANDLER_BAD_HELPER);
  EXPECT_EQ(status(Program{{mov64_imm(1, 0), mov64_imm(2, 0), call(VENEER_HELPER_COPY_FRAME), exit_insn()}}),
            ERR_HANDLER_BAD_HELPER) << "r3 still holds the buffer pointer";
  EXPECT_EQ(status(Program{{mov64_imm(1, 0), mov64_imm(2, 0), mov64_imm(3, 4), call(VENEER_HELPER_COPY_FRAME),
                            exit_insn()}}),
            OK);
  // The checksum's region must be known to be 0 or 1.
  auto checksum_region = [](std::vector<BpfInsn> set_r1) {
    Program p{set_r1, {mov64_imm(2, 0), mov64_imm(3, 4), mov64_imm(4, 0), call(VENEER_HELPER_CHECKSUM), exit_insn()}};
    return status(p);
  };
  EXPECT_EQ(checksum_region({mov64_imm(1, 1)}), OK);
  EXPECT_EQ(checksum_region({mov64_imm(1, 2)}), ERR_HANDLER_BAD_HELPER);
  EXPECT_EQ(checksum_region({mov64_reg(1, 2)}), ERR_HANDLER_BAD_HELPER);  // the frame length: anything
  EXPECT_EQ(checksum_region({mov64_reg(1, 2), alu64_imm(b::AND, 1, 1)}), OK);
}

TEST(HandlerVerifier, PointersStayHidden) {
  EXPECT_EQ(status(Program{{mov64_reg(0, 1), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);        // returned
  EXPECT_EQ(status(Program{{stx(b::DW, 3, 1, 0), mov64_imm(0, 0), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);  // into the buffer
  EXPECT_EQ(status(Program{{alu32_imm(b::ADD, 1, 1), mov64_imm(0, 0), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);
  EXPECT_EQ(status(Program{{alu64_imm(b::MUL, 1, 2), mov64_imm(0, 0), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);
  EXPECT_EQ(status(Program{{alu64_imm(b::XOR, 1, 2), mov64_imm(0, 0), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_imm(b::JGT, 1, 5, 0), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_reg(b::JGT, 1, 3, 0), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);
  EXPECT_EQ(status(Program{{alu64_reg(b::SUB, 1, 3), mov64_imm(0, 0), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);
  EXPECT_EQ(status(Program{{mov64_imm(4, 8), alu64_reg(b::SUB, 4, 1), mov64_imm(0, 0), exit_insn()}}),
            ERR_HANDLER_POINTER_LEAK);
  // Spilled pointers come back whole, never in pieces.
  EXPECT_EQ(status(Program{{stx(b::DW, 10, 1, -8), ldx(b::W, 0, 10, -8), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);
  EXPECT_EQ(status(Program{{stx(b::W, 10, 1, -8), mov64_imm(0, 0), exit_insn()}}), ERR_HANDLER_POINTER_LEAK);
  EXPECT_EQ(status(Program{{stx(b::DW, 10, 1, -8), st(b::W, 10, -8, 0), ldx(b::DW, 0, 10, -8), exit_insn()}}),
            ERR_HANDLER_UNINIT) << "the untouched half of an overwritten pointer is not data";
  // What is allowed: spill and restore, null tests (never null), same-region
  // differences, comparing pointers into the same region.
  EXPECT_EQ(status(Program{{stx(b::DW, 10, 3, -16), ldx(b::DW, 4, 10, -16), st(b::B, 4, 0, 1), mov64_imm(0, 0),
                            exit_insn()}}),
            OK);
  EXPECT_EQ(status(Program{{mov64_imm(0, 0), jmp_imm(b::JEQ, 1, 0, 1), mov64_imm(0, 1), exit_insn()}}), OK);
  Check null_check = verify(Program{{mov64_imm(0, 0), jmp_imm(b::JEQ, 1, 0, 1), mov64_imm(0, 1), exit_insn()}});
  EXPECT_EQ(null_check.max_path, 4u) << "only the non-null branch is followed";
  EXPECT_EQ(status(Program{{mov64_reg(4, 3), alu64_imm(b::ADD, 4, 8), alu64_reg(b::SUB, 4, 3), mov64_reg(0, 4),
                            exit_insn()}}),
            OK);
  EXPECT_EQ(status(Program{{mov64_reg(4, 3), alu64_imm(b::ADD, 4, 8), mov64_imm(0, 0), jmp_reg(b::JGT, 4, 3, 0),
                            exit_insn()}}),
            OK);
}

TEST(HandlerVerifier, DivisionByZeroIsDefinedSoAccepted) {
  // The ISA defines x / 0 = 0 and x % 0 = x; nothing to refuse (the JIT test
  // checks the results).
  EXPECT_EQ(status(Program{{mov64_imm(0, 7), mov64_imm(4, 0), alu64_reg(b::DIV, 0, 4), exit_insn()}}), OK);
  EXPECT_EQ(status(Program{{mov64_imm(0, 7), alu64_imm(b::MOD, 0, 0), exit_insn()}}), OK);
  EXPECT_EQ(status(Program{{mov64_imm(0, 7), mov64_reg(4, 2), alu32_reg(b::DIV, 0, 4), exit_insn()}}), OK);
}

TEST(HandlerVerifier, ReportsTheRefusedInstruction) {
  Check c = verify(Program{{mov64_imm(0, 0), mov64_imm(4, 1), ldx(b::B, 5, 1, 3), exit_insn()}});
  EXPECT_EQ(c.status, ERR_HANDLER_BAD_ACCESS);
  EXPECT_EQ(c.insn, 2u);
}
