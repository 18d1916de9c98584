// The handler JIT against the interpreter, instruction by instruction, and
// both against results worked out by hand for the cases the ISA defines
// specially (division by zero, signed overflow, shift masks, byte swaps).
// Register pairs include r0/r3 (x86 rax/rdx, which division uses) and r4
// (rcx, the shift count register).
#include "kernel/net/handler.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/bpf_asm.h"
#include "tests/support/host_code_memory.h"

using namespace veneer;
using namespace veneer::net;
using namespace veneer::test::bpf_asm;

namespace {

const uint64_t kValues[] = {0,
                            1,
                            2,
                            7,
                            31,
                            32,
                            63,
                            64,
                            0x7FFFFFFF,
                            0x80000000,
                            0xFFFFFFFF,
                            0x100000000,
                            0x123456789ABCDEF0,
                            0x8000000000000000,
                            0x7FFFFFFFFFFFFFFF,
                            ~0ull,
                            ~0ull - 6};  // -7

const std::pair<unsigned, unsigned> kRegisterPairs[] = {{0, 1}, {3, 4}, {4, 3}, {0, 3}, {3, 0}, {4, 0}, {5, 9}, {2, 2}};

struct Machine {
  Machine() { verifier = std::make_unique<Verifier>(); jit = std::make_unique<HandlerJit>(); }
  std::unique_ptr<Verifier> verifier;
  std::unique_ptr<HandlerJit> jit;
  veneer::test::HostCodeMemory host;
};

Machine& machine() {
  static Machine* m = new Machine;
  return *m;
}

// Results of one run: r0 and the 96-byte stack top and the buffer.
struct Outcome {
  uint64_t r0;
  uint8_t stack[kHandlerStackSize];
  uint8_t buffer[128];
  bool operator==(const Outcome& o) const {
    return r0 == o.r0 && !memcmp(stack, o.stack, sizeof stack) && !memcmp(buffer, o.buffer, sizeof buffer);
  }
};

// Runs `p` with the buffer holding `words` on the JIT and the interpreter.
void run_both(const Handler& h, const std::vector<uint64_t>& words, Outcome* jit, Outcome* interp,
              const HandlerHost* host = nullptr, const uint8_t* frame = nullptr, uint32_t len = 0) {
  for (Outcome* o : {jit, interp}) {
    memset(o, 0, sizeof *o);
    memcpy(o->buffer, words.data(), words.size() * 8);
    o->r0 = o == jit ? h.run(frame, len, o->buffer, o->stack, host) : h.interpret(frame, len, o->buffer, o->stack, host);
  }
}

Status load(Handler& h, const Program& p, uint32_t buffer = 128) {
  Machine& m = machine();
  return h.load(p.data(), p.size(), buffer, *m.verifier, *m.jit, &m.host.memory);
}

// Loads r0..r9 from the buffer (r3 last: it holds the buffer), runs `body`,
// stores r0..r9 on the stack, returns the register named by `result`.
Program with_registers(std::vector<BpfInsn> body, unsigned result) {
  Program p{{}};
  for (unsigned r = 0; r < 10; r++)
    if (r != 3) p.insns.push_back(ldx(b::DW, r, 3, int16_t(8 * r)));
  p.insns.push_back(ldx(b::DW, 3, 3, 24));
  p.insns.insert(p.insns.end(), body.begin(), body.end());
  for (unsigned r = 0; r < 10; r++) p.insns.push_back(stx(b::DW, 10, r, int16_t(-8 * int(r + 1))));
  p.insns.push_back(mov64_reg(0, result));
  p.insns.push_back(exit_insn());
  return p;
}

std::vector<uint64_t> registers(unsigned d, uint64_t a, unsigned s, uint64_t bval) {
  std::vector<uint64_t> w(10);
  for (unsigned r = 0; r < 10; r++) w[r] = 0x1111111111111111ull * (r + 1);  // distinct, so clobbers show
  w[d] = a;
  w[s] = bval;
  if (d == s) w[d] = a;
  return w;
}

struct AluForm {
  const char* name;
  uint8_t op;
  int16_t offset;
};
const AluForm kAluForms[] = {{"add", b::ADD, 0},  {"sub", b::SUB, 0},   {"mul", b::MUL, 0},    {"div", b::DIV, 0},
                             {"sdiv", b::DIV, 1}, {"or", b::OR, 0},     {"and", b::AND, 0},    {"lsh", b::LSH, 0},
                             {"rsh", b::RSH, 0},  {"mod", b::MOD, 0},   {"smod", b::MOD, 1},   {"xor", b::XOR, 0},
                             {"mov", b::MOV, 0},  {"movsx8", b::MOV, 8}, {"movsx16", b::MOV, 16}, {"movsx32", b::MOV, 32},
                             {"arsh", b::ARSH, 0}};

}  // namespace

TEST(HandlerJit, RegisterOperandsMatchTheInterpreter) {
  int runs = 0;
  for (const AluForm& f : kAluForms)
    for (uint8_t cls : {b::ALU64, b::ALU}) {
      if (f.offset == 32 && cls == b::ALU) continue;
      for (auto [d, s] : kRegisterPairs) {
        SCOPED_TRACE(std::string(f.name) + (cls == b::ALU64 ? "64" : "32") + " r" + std::to_string(d) + ", r" +
                     std::to_string(s));
        Handler h;
        Program p = with_registers({insn(cls | f.op | b::X, d, s, f.offset, 0)}, d);
        ASSERT_EQ(load(h, p), OK);
        for (uint64_t a : kValues)
          for (uint64_t bv : kValues) {
            Outcome jit, interp;
            run_both(h, registers(d, a, s, bv), &jit, &interp);
            ASSERT_TRUE(jit == interp) << std::hex << a << " op " << bv << ": jit " << jit.r0 << " interp " << interp.r0;
            uint64_t expect = bpf::alu(cls | f.op | b::X, f.offset, 0, d == s ? a : a, d == s ? a : bv);
            ASSERT_EQ(interp.r0, expect);
            runs++;
          }
        h.unload();
      }
    }
  EXPECT_GT(runs, 60000);
  EXPECT_EQ(machine().host.live, 0);
}

TEST(HandlerJit, ImmediateOperandsMatchTheInterpreter) {
  const int32_t imms[] = {0, 1, -1, 7, 31, 32, 63, 0x7FFFFFFF, INT32_MIN, -7};
  for (const AluForm& f : kAluForms) {
    if (f.op == b::MOV && f.offset) continue;  // sign-extending moves take a register
    for (uint8_t cls : {b::ALU64, b::ALU})
      for (int32_t imm : imms)
        for (unsigned d : {0u, 3u, 4u}) {
          SCOPED_TRACE(std::string(f.name) + (cls == b::ALU64 ? "64" : "32") + " imm " + std::to_string(imm));
          Handler h;
          Program p = with_registers({insn(cls | f.op | b::K, d, 0, f.offset, imm)}, d);
          ASSERT_EQ(load(h, p), OK);
          for (uint64_t a : kValues) {
            Outcome jit, interp;
            run_both(h, registers(d, a, d, a), &jit, &interp);
            ASSERT_TRUE(jit == interp) << std::hex << a << ": jit " << jit.r0 << " interp " << interp.r0;
          }
          h.unload();
        }
  }
  // Negation and byte swaps.
  const BpfInsn unary[] = {insn(b::ALU64 | b::NEG, 0, 0, 0, 0),        insn(b::ALU | b::NEG, 4, 0, 0, 0),
                           insn(b::ALU | b::END | b::K, 3, 0, 0, 16),  insn(b::ALU | b::END | b::K, 3, 0, 0, 32),
                           insn(b::ALU | b::END | b::K, 3, 0, 0, 64),  insn(b::ALU | b::END | b::X, 0, 0, 0, 16),
                           insn(b::ALU | b::END | b::X, 4, 0, 0, 32),  insn(b::ALU | b::END | b::X, 9, 0, 0, 64),
                           insn(b::ALU64 | b::END | b::K, 0, 0, 0, 16), insn(b::ALU64 | b::END | b::K, 8, 0, 0, 32),
                           insn(b::ALU64 | b::END | b::K, 2, 0, 0, 64)};
  for (const BpfInsn& i : unary) {
    Handler h;
    Program p = with_registers({i}, i.regs & 0xF);
    ASSERT_EQ(load(h, p), OK);
    for (uint64_t a : kValues) {
      Outcome jit, interp;
      run_both(h, registers(i.regs & 0xF, a, i.regs & 0xF, a), &jit, &interp);
      ASSERT_TRUE(jit == interp) << std::hex << int(i.opcode) << " " << a;
    }
    h.unload();
  }
}

// Results the ISA defines specially, worked out by hand.
TEST(HandlerJit, DefinedResultsForEdgeCases) {
  struct Case {
    const char* what;
    BpfInsn insn;  // dst r0, src r4
    uint64_t a, b, expect;
  };
  const uint64_t kMin = 0x8000000000000000ull;
  const Case cases[] = {
      {"div by zero is 0", insn(b::ALU64 | b::DIV | b::X, 0, 4, 0, 0), 7, 0, 0},
      {"mod by zero keeps dst", insn(b::ALU64 | b::MOD | b::X, 0, 4, 0, 0), 7, 0, 7},
      {"32-bit mod by zero clears the upper half", insn(b::ALU | b::MOD | b::X, 0, 4, 0, 0), 0xFFFFFFFF00000007, 0, 7},
      {"32-bit div by zero", insn(b::ALU | b::DIV | b::X, 0, 4, 0, 0), 0xFFFFFFFF00000007, 0, 0},
      {"div by a zero low half (32-bit)", insn(b::ALU | b::DIV | b::X, 0, 4, 0, 0), 9, 0x100000000, 0},
      {"sdiv min by -1 wraps", insn(b::ALU64 | b::DIV | b::X, 0, 4, 1, 0), kMin, ~0ull, kMin},
      {"smod min by -1 is 0", insn(b::ALU64 | b::MOD | b::X, 0, 4, 1, 0), kMin, ~0ull, 0},
      {"32-bit sdiv min by -1", insn(b::ALU | b::DIV | b::X, 0, 4, 1, 0), 0x80000000, 0xFFFFFFFF, 0x80000000},
      {"sdiv truncates", insn(b::ALU64 | b::DIV | b::X, 0, 4, 1, 0), uint64_t(-7), 2, uint64_t(-3)},
      {"smod takes the dividend's sign", insn(b::ALU64 | b::MOD | b::X, 0, 4, 1, 0), uint64_t(-7), 2, uint64_t(-1)},
      {"udiv of -7 by 2", insn(b::ALU64 | b::DIV | b::X, 0, 4, 0, 0), uint64_t(-7), 2, 0x7FFFFFFFFFFFFFFC},
      {"64-bit shift count masked by 63", insn(b::ALU64 | b::LSH | b::X, 0, 4, 0, 0), 1, 65, 2},
      {"32-bit shift count masked by 31", insn(b::ALU | b::LSH | b::X, 0, 4, 0, 0), 1, 33, 2},
      {"arsh keeps the sign", insn(b::ALU64 | b::ARSH | b::X, 0, 4, 0, 0), uint64_t(-16), 2, uint64_t(-4)},
      {"32-bit arsh", insn(b::ALU | b::ARSH | b::X, 0, 4, 0, 0), 0xFFFFFFF0, 2, 0xFFFFFFFC},
      {"32-bit add wraps and zero-extends", insn(b::ALU | b::ADD | b::X, 0, 4, 0, 0), 0xFFFFFFFF, 1, 0},
      {"movsx8", insn(b::ALU64 | b::MOV | b::X, 0, 4, 8, 0), 0, 0x80, 0xFFFFFFFFFFFFFF80},
      {"32-bit movsx8", insn(b::ALU | b::MOV | b::X, 0, 4, 8, 0), 0, 0x80, 0xFFFFFF80},
      {"movsx32", insn(b::ALU64 | b::MOV | b::X, 0, 4, 32, 0), 0, 0x80000000, 0xFFFFFFFF80000000},
      {"to big endian 16", insn(b::ALU | b::END | b::X, 0, 0, 0, 16), 0x12345678, 0, 0x7856},
      {"to little endian 16", insn(b::ALU | b::END | b::K, 0, 0, 0, 16), 0x12345678, 0, 0x5678},
      {"bswap 64", insn(b::ALU64 | b::END | b::K, 0, 0, 0, 64), 0x0102030405060708, 0, 0x0807060504030201},
      {"32-bit neg", insn(b::ALU | b::NEG, 0, 0, 0, 0), 1, 0, 0xFFFFFFFF},
  };
  for (const Case& c : cases) {
    Handler h;
    Program p = with_registers({c.insn}, 0);
    ASSERT_EQ(load(h, p), OK) << c.what;
    Outcome jit, interp;
    run_both(h, registers(0, c.a, 4, c.b), &jit, &interp);
    EXPECT_EQ(jit.r0, c.expect) << c.what;
    EXPECT_EQ(interp.r0, c.expect) << c.what;
    EXPECT_TRUE(jit == interp) << c.what;
    h.unload();
  }
}

TEST(HandlerJit, ConditionalJumpsMatch) {
  const uint8_t ops[] = {b::JEQ, b::JNE, b::JGT, b::JGE, b::JLT, b::JLE, b::JSET, b::JSGT, b::JSGE, b::JSLT, b::JSLE};
  for (uint8_t cls : {b::JMP, b::JMP32})
    for (uint8_t o : ops) {
      // r0 = 1; if r5 OP r4 goto +1; r0 = 2; exit
      Handler h;
      Program p = with_registers({mov64_imm(0, 1), insn(cls | o | b::X, 5, 4, 1, 0), mov64_imm(0, 2)}, 0);
      ASSERT_EQ(load(h, p), OK);
      for (uint64_t a : kValues)
        for (uint64_t bv : kValues) {
          Outcome jit, interp;
          run_both(h, registers(5, a, 4, bv), &jit, &interp);
          ASSERT_TRUE(jit == interp);
          ASSERT_EQ(jit.r0, bpf::jump_taken(cls | o, a, bv) ? 1u : 2u) << std::hex << int(o) << " " << a << " " << bv;
        }
      h.unload();
      for (int32_t imm : {0, 1, -1, 0x7FFFFFFF, INT32_MIN, 64}) {
        Handler k;
        Program pk = with_registers({mov64_imm(0, 1), insn(cls | o | b::K, 5, 0, 1, imm), mov64_imm(0, 2)}, 0);
        ASSERT_EQ(load(k, pk), OK);
        for (uint64_t a : kValues) {
          Outcome jit, interp;
          run_both(k, registers(5, a, 4, 0), &jit, &interp);
          ASSERT_TRUE(jit == interp);
          ASSERT_EQ(jit.r0, bpf::jump_taken(cls | o, a, bpf::jump_imm(cls, imm)) ? 1u : 2u);
        }
        k.unload();
      }
    }
}

TEST(HandlerJit, LoadsAndStoresOfEverySize) {
  // Stores of each size to stack and buffer, from registers and immediates,
  // then zero- and sign-extending loads back.
  Program p{{ldx(b::DW, 6, 3, 0), ldx(b::DW, 7, 3, 8), mov64_reg(8, 3)}};
  const uint8_t sizes[] = {b::B, b::H, b::W, b::DW};
  for (int k = 0; k < 4; k++) {
    uint8_t sz = sizes[k];
    int16_t at = int16_t(-8 - 8 * k);
    p.insns.push_back(stx(sz, 10, 6, int16_t(at - 64)));
    p.insns.push_back(st(sz, 10, int16_t(at - 128), -3));
    p.insns.push_back(stx(sz, 8, 7, int16_t(16 + 8 * k)));
    p.insns.push_back(ldx(sz, 9, 10, int16_t(at - 64)));
    p.insns.push_back(stx(b::DW, 10, 9, int16_t(at - 192)));
    if (sz != b::DW) {
      p.insns.push_back(insn(b::LDX | b::MEMSX | sz, 9, 10, int16_t(at - 128), 0));
      p.insns.push_back(stx(b::DW, 10, 9, int16_t(at - 256)));
    }
  }
  p.insns.push_back(mov64_imm(0, 0));
  p.insns.push_back(exit_insn());
  Handler h;
  ASSERT_EQ(load(h, p), OK);
  for (uint64_t a : kValues) {
    Outcome jit, interp;
    run_both(h, {a, ~a}, &jit, &interp);
    ASSERT_TRUE(jit == interp) << std::hex << a;
    uint64_t w;
    memcpy(&w, jit.stack + kHandlerStackSize - 8 - 192 - 8 * 1, 8);  // the H store read back
    EXPECT_EQ(w, a & 0xFFFF);
    memcpy(&w, jit.stack + kHandlerStackSize - 8 - 256, 8);  // B imm -3, sign-extended
    EXPECT_EQ(w, ~0ull - 2);
  }
}

namespace {
struct Recorder {
  std::vector<std::vector<uint8_t>> sent;
  std::vector<uint64_t> woken;
  int64_t answer = 0;
};
HandlerHost recording_host(Recorder* r) {
  return HandlerHost{r,
                     [](void* c, const uint8_t* f, uint32_t n) {
                       auto* rec = static_cast<Recorder*>(c);
                       rec->sent.emplace_back(f, f + n);
                       return rec->answer;
                     },
                     [](void* c, uint64_t v) { static_cast<Recorder*>(c)->woken.push_back(v); }};
}
}  // namespace

TEST(HandlerJit, HelpersSeeTheSameArgumentsAndCheckRanges) {
  // copy 10 frame bytes to buf+16; checksum them; wake with the sum; send
  // buf[16, 26); out-of-range copies and sends fail with -1.
  Program p{{mov64_imm(1, 16), mov64_imm(2, 2), mov64_imm(3, 10), call(VENEER_HELPER_COPY_FRAME), mov64_reg(6, 0),
             mov64_imm(1, VENEER_REGION_BUFFER), mov64_imm(2, 16), mov64_imm(3, 10), mov64_imm(4, 0x1234),
             call(VENEER_HELPER_CHECKSUM), mov64_reg(7, 0), mov64_reg(1, 0), call(VENEER_HELPER_WAKE_ENV),
             mov64_imm(1, 16), mov64_imm(2, 10), call(VENEER_HELPER_SEND_REPLY), mov64_reg(8, 0),
             mov64_imm(1, 120), mov64_imm(2, 0), mov64_imm(3, 9), call(VENEER_HELPER_COPY_FRAME), alu64_reg(b::ADD, 6, 0),
             mov64_imm(1, 0), mov64_imm(2, 60), mov64_imm(3, 1), call(VENEER_HELPER_COPY_FRAME), alu64_reg(b::ADD, 6, 0),
             mov64_imm(1, 100), mov64_imm(2, 29), call(VENEER_HELPER_SEND_REPLY), alu64_reg(b::ADD, 8, 0),
             mov64_imm(1, 0), mov64_imm(2, 60), mov64_imm(3, 1), mov64_imm(4, 0), call(VENEER_HELPER_CHECKSUM),
             alu64_reg(b::ADD, 7, 0), stx(b::DW, 10, 6, -8), stx(b::DW, 10, 7, -16), stx(b::DW, 10, 8, -24),
             mov64_imm(0, 0), exit_insn()}};
  Handler h;
  ASSERT_EQ(load(h, p), OK);
  uint8_t frame[60];
  for (int i = 0; i < 60; i++) frame[i] = uint8_t(i * 7 + 1);
  Recorder rj, ri;
  HandlerHost hj = recording_host(&rj), hi = recording_host(&ri);
  Outcome jit, interp;
  memset(&jit, 0, sizeof jit);
  memset(&interp, 0, sizeof interp);
  jit.r0 = h.run(frame, 60, jit.buffer, jit.stack, &hj);
  interp.r0 = h.interpret(frame, 60, interp.buffer, interp.stack, &hi);
  EXPECT_TRUE(jit == interp);
  EXPECT_EQ(rj.sent, ri.sent);
  EXPECT_EQ(rj.woken, ri.woken);
  ASSERT_EQ(rj.sent.size(), 1u);
  EXPECT_EQ(rj.sent[0], std::vector<uint8_t>(frame + 2, frame + 12));
  uint32_t sum = ones_complement_sum(frame + 2, 10, 0x1234);
  ASSERT_EQ(rj.woken, std::vector<uint64_t>{sum});
  uint64_t copies, sums, sends;
  memcpy(&copies, jit.stack + kHandlerStackSize - 8, 8);
  memcpy(&sums, jit.stack + kHandlerStackSize - 16, 8);
  memcpy(&sends, jit.stack + kHandlerStackSize - 24, 8);
  EXPECT_EQ(copies, 0 + ~0ull + ~0ull) << "copy in range, then two out of range";
  EXPECT_EQ(sums, sum + ~0ull) << "checksum in range, then one past the frame";
  EXPECT_EQ(sends, 0 + ~0ull) << "send in range, then one past the buffer";
}

TEST(HandlerJit, CodeIsSealedAndLenIsClamped) {
  Handler h;
  Program p{{mov64_reg(0, 2), exit_insn()}};
  ASSERT_EQ(load(h, p), OK);
  EXPECT_TRUE(veneer::test::is_sealed(reinterpret_cast<const void*>(h.entry()), h.code_size()));
  uint8_t frame[2000] = {}, buf[128], stack[kHandlerStackSize];
  EXPECT_EQ(h.run(frame, 2000, buf, stack, nullptr), kHandlerMaxFrame);
  EXPECT_EQ(h.interpret(frame, 2000, buf, stack, nullptr), kHandlerMaxFrame);
  h.unload();
  machine().host.fail_after = 0;
  EXPECT_EQ(load(h, p), ERR_NO_MEMORY);
  machine().host.fail_after = -1;
  EXPECT_FALSE(h.loaded());
}
