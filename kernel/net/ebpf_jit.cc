#include "ebpf_jit.h"

#include <stddef.h>

namespace veneer::net {

using namespace x86;

namespace {

const Reg kMap[bpf::kRegisters] = {RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP};
constexpr Reg kRun = R12;
constexpr Cond kAlways = Cond(0xFF);

Alu x86_alu(uint8_t o) {
  switch (o) {
    case bpf::ADD: return ADD;
    case bpf::SUB: return SUB;
    case bpf::OR: return OR;
    case bpf::AND: return AND;
    default: return XOR;
  }
}

Shift x86_shift(uint8_t o) { return o == bpf::LSH ? SHL : o == bpf::RSH ? SHR : SAR; }

Cond x86_cond(uint8_t o) {
  switch (o) {
    case bpf::JEQ: return E;
    case bpf::JNE: return NE;
    case bpf::JGT: return A;
    case bpf::JGE: return AE;
    case bpf::JLT: return B;
    case bpf::JLE: return BE;
    case bpf::JSGT: return G;
    case bpf::JSGE: return GE;
    case bpf::JSLT: return L;
    case bpf::JSLE: return LE;
    default: return NE;  // JSET, after test
  }
}

}  // namespace

bool HandlerJit::compile(const BpfInsn* prog, uint32_t n, const CodeMemory& memory, SealedCode* out) {
  prog_ = prog;
  n_ = n;
  emit(nullptr, 0);
  size_t size = size_;
  void* handle = nullptr;
  uint8_t* code = memory.allocate(memory.context, size, &handle);
  if (!code) return false;
  emit(code, size);
  if (overflow_ || size_ != size) {
    memory.release(memory.context, handle);
    return false;
  }
  const uint8_t* entry = memory.seal(memory.context, handle);
  if (!entry) {
    memory.release(memory.context, handle);
    return false;
  }
  *out = SealedCode{entry, handle, size};
  return true;
}

void HandlerJit::emit(uint8_t* buf, size_t cap) {
  Assembler as(buf, cap);
  as_ = &as;
  // Prologue: save what System V asks the callee to keep; rsp stays 16-byte
  // aligned at helper calls (six pushes and 8).
  as.push(RBP), as.push(RBX), as.push(R12), as.push(R13), as.push(R14), as.push(R15);
  as.alu_imm(SUB, true, RSP, 8);
  as.mov(true, kRun, RCX);
  as.load(8, RBP, Mem{kRun, int32_t(offsetof(HandlerRun, stack_top))});
  for (uint32_t pc = 0; pc < n_; pc++) {
    offset_[pc] = uint32_t(as.size());
    emit_insn(pc);
    if (prog_[pc].opcode == bpf::kLoadImm64) offset_[++pc] = uint32_t(as.size());
  }
  offset_[n_] = uint32_t(as.size());
  size_ = as.size();
  overflow_ = as.overflowed();
  as_ = nullptr;
}

size_t HandlerJit::jump_forward(Cond c) {
  if (c == kAlways) as_->jmp(as_->size());
  else as_->jcc(c, as_->size());
  return as_->size();
}

void HandlerJit::land(size_t jump_end) { as_->patch32(jump_end - 4, uint32_t(as_->size() - jump_end)); }

void HandlerJit::emit_insn(uint32_t pc) {
  Assembler& as = *as_;
  const BpfInsn& i = prog_[pc];
  const Reg d = kMap[bpf::dst(i)], s = kMap[bpf::src(i)];
  const uint8_t o = bpf::op(i.opcode);
  const bool reg_source = bpf::source(i.opcode) == bpf::X;
  switch (bpf::cls(i.opcode)) {
    case bpf::ALU:
    case bpf::ALU64: {
      const bool w = bpf::cls(i.opcode) == bpf::ALU64;
      switch (o) {
        case bpf::ADD:
        case bpf::SUB:
        case bpf::OR:
        case bpf::AND:
        case bpf::XOR:
          if (reg_source) as.alu(x86_alu(o), w, d, s);
          else as.alu_imm(x86_alu(o), w, d, i.imm);
          break;
        case bpf::MUL:
          if (reg_source) as.imul(w, d, s);
          else as.imul_imm(w, d, d, i.imm);
          break;
        case bpf::MOV:
          if (!reg_source) {
            if (w) as.mov_imm_sx(d, i.imm);
            else as.mov_imm32(d, uint32_t(i.imm));
          } else if (i.offset == 0) {
            as.mov(w, d, s);
          } else {
            as.movsx(w, unsigned(i.offset / 8), d, s);
          }
          break;
        case bpf::NEG: as.neg(w, d); break;
        case bpf::LSH:
        case bpf::RSH:
        case bpf::ARSH:
          if (reg_source) emit_shift(i);
          else as.shift_imm(x86_shift(o), w, d, uint8_t(i.imm & (w ? 63 : 31)));
          break;
        case bpf::DIV:
        case bpf::MOD: emit_div(i); break;
        case bpf::END: {
          bool swap = w || reg_source;
          if (i.imm == 16) {
            if (swap) as.rol16_8(d);
            as.movzx16(d, d);
          } else if (i.imm == 32) {
            if (swap) as.bswap(false, d);
            else as.mov(false, d, d);
          } else if (swap) {
            as.bswap(true, d);
          }
          break;
        }
      }
      break;
    }
    case bpf::LDX: {
      unsigned size = bpf::size_bytes(i.opcode);
      if (bpf::mode(i.opcode) == bpf::MEMSX) as.load_sx(size, d, Mem{s, i.offset});
      else as.load(size, d, Mem{s, i.offset});
      break;
    }
    case bpf::ST: as.store_imm(bpf::size_bytes(i.opcode), Mem{d, i.offset}, i.imm); break;
    case bpf::STX: as.store(bpf::size_bytes(i.opcode), Mem{d, i.offset}, s); break;
    case bpf::LD:
      as.mov_imm64(d, uint64_t(uint32_t(i.imm)) | uint64_t(uint32_t(prog_[pc + 1].imm)) << 32);
      break;
    default: {  // JMP, JMP32
      const bool w = bpf::cls(i.opcode) == bpf::JMP;
      const size_t target = offset_[uint32_t(int64_t(pc) + 1 + i.offset)];
      if (o == bpf::EXIT) {
        as.alu_imm(ADD, true, RSP, 8);
        as.pop(R15), as.pop(R14), as.pop(R13), as.pop(R12), as.pop(RBX), as.pop(RBP);
        as.ret();
      } else if (o == bpf::CALL) {
        as.mov(true, R9, kRun);
        as.mov_imm64(R10, uint64_t(reinterpret_cast<uintptr_t>(helper(i.imm)->fn)));
        as.call_reg(R10);
      } else if (o == bpf::JA) {
        as.jmp(target);
      } else {
        if (o == bpf::JSET) {
          if (reg_source) as.test(w, d, s);
          else as.test_imm(w, d, i.imm);
        } else {
          if (reg_source) as.alu(CMP, w, d, s);
          else as.alu_imm(CMP, w, d, i.imm);
        }
        as.jcc(x86_cond(o), target);
      }
      break;
    }
  }
}

// Shifts by a register: x86 wants the count in cl, and cl is BPF's r4.
void HandlerJit::emit_shift(const BpfInsn& i) {
  Assembler& as = *as_;
  const bool w = bpf::cls(i.opcode) == bpf::ALU64;
  const Reg d = kMap[bpf::dst(i)], s = kMap[bpf::src(i)];
  const Shift op = x86_shift(bpf::op(i.opcode));
  if (s == RCX) {
    as.shift_cl(op, w, d);
  } else if (d == RCX) {
    as.mov(true, R11, RCX);
    as.mov(true, RCX, s);
    as.shift_cl(op, w, R11);
    as.mov(true, RCX, R11);
  } else {
    as.mov(true, R11, RCX);
    as.mov(true, RCX, s);
    as.shift_cl(op, w, d);
    as.mov(true, RCX, R11);
  }
}

// Division and modulo, signed or not, with the ISA's results for a zero
// divisor (quotient 0, remainder = dividend) and for the minimum divided by
// -1 (wraps; remainder 0), where x86 would trap. x86 divides rdx:rax, which
// hold r0 and r3: both are saved in r10/r9 around it.
void HandlerJit::emit_div(const BpfInsn& i) {
  Assembler& as = *as_;
  const bool w = bpf::cls(i.opcode) == bpf::ALU64;
  const bool is_signed = i.offset == 1, is_mod = bpf::op(i.opcode) == bpf::MOD;
  const Reg d = kMap[bpf::dst(i)];
  if (bpf::source(i.opcode) == bpf::X) as.mov(w, R11, kMap[bpf::src(i)]);
  else if (w) as.mov_imm_sx(R11, i.imm);
  else as.mov_imm32(R11, uint32_t(i.imm));
  as.mov(true, R10, RAX);
  as.mov(true, R9, RDX);
  as.mov(w, RAX, d);  // the dividend (rdx is still intact if d is r3)
  as.test(w, R11, R11);
  size_t to_zero = jump_forward(E);
  size_t to_done_minus1 = 0;
  if (is_signed) {
    as.alu_imm(CMP, w, R11, -1);
    size_t to_normal = jump_forward(NE);
    if (is_mod) {
      as.alu(XOR, false, R11, R11);
    } else {
      as.neg(w, RAX);
      as.mov(true, R11, RAX);
    }
    to_done_minus1 = jump_forward(kAlways);
    land(to_normal);
    as.sign_extend_rax(w);
    as.idiv(w, R11);
  } else {
    as.alu(XOR, false, RDX, RDX);
    as.div(w, R11);
  }
  as.mov(true, R11, is_mod ? RDX : RAX);
  size_t to_done = jump_forward(kAlways);
  land(to_zero);
  if (is_mod) as.mov(true, R11, RAX);
  else as.alu(XOR, false, R11, R11);
  land(to_done);
  if (is_signed) land(to_done_minus1);
  as.mov(true, RAX, R10);
  as.mov(true, RDX, R9);
  as.mov(true, d, R11);
}

}  // namespace veneer::net
