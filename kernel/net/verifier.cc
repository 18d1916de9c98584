#include "verifier.h"

namespace veneer::net {

using namespace bpf;

namespace {

constexpr uint64_t kMax32 = 0xFFFFFFFFu;
constexpr uint64_t kSignBit = 1ull << 63;
// Pointer offsets stay within +-2^30: far beyond any region, far from overflow.
constexpr int64_t kMaxOffset = int64_t(1) << 30;

bool is_pointer(uint8_t kind) { return kind >= 3; }

uint64_t cover(uint64_t x) {  // all ones up to x's highest set bit
  for (int s = 1; s < 64; s *= 2) x |= x >> s;
  return x;
}

uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

}  // namespace

VerifyResult Verifier::verify(const BpfInsn* prog, uint32_t n, uint32_t buffer_size) {
  prog_ = prog;
  n_ = n;
  buffer_size_ = buffer_size;
  pc_ = 0;
  explored_ = 0;
  max_path_ = 0;
  npending_ = 0;
  VerifyResult r;
  if (n == 0 || n > kHandlerMaxInsns || buffer_size > kHandlerMaxBuffer) {
    r.status = ERR_HANDLER_SIZE;
    return r;
  }
  r.status = check_structure();
  if (r.status == OK) r.status = walk();
  r.insn = r.status == OK ? 0 : pc_;
  r.max_path = r.status == OK ? max_path_ : 0;
  r.explored = explored_;
  return r;
}

// ---- pass 1: each instruction alone --------------------------------------------------

Status Verifier::check_structure() {
  for (uint32_t k = 0; k < kHandlerMaxInsns / 64; k++) second_slot_[k] = 0;
  for (pc_ = 0; pc_ < n_; pc_++) {
    Status s = check_insn(pc_);
    if (s != OK) return s;
    if (prog_[pc_].opcode == kLoadImm64) {
      pc_++;
      second_slot_[pc_ / 64] |= 1ull << (pc_ % 64);
    }
  }
  // No jump may land on the second slot of a 64-bit load.
  for (pc_ = 0; pc_ < n_; pc_++) {
    const BpfInsn& i = prog_[pc_];
    uint8_t c = cls(i.opcode), o = op(i.opcode);
    if ((second_slot_[pc_ / 64] >> (pc_ % 64) & 1) || (c != JMP && c != JMP32) || o == CALL || o == EXIT) continue;
    uint32_t target = uint32_t(int64_t(pc_) + 1 + i.offset);
    if (second_slot_[target / 64] >> (target % 64) & 1) return ERR_HANDLER_BAD_JUMP;
  }
  return OK;
}

Status Verifier::check_insn(uint32_t pc) {
  const BpfInsn& i = prog_[pc];
  unsigned d = dst(i), s = src(i);
  uint8_t c = cls(i.opcode), o = op(i.opcode);
  bool reg_source = source(i.opcode) == X;
  switch (c) {
    case ALU:
    case ALU64:
      if (d >= kFramePointer || s > kFramePointer || o >= 0xE0) return ERR_HANDLER_BAD_INSN;
      if (o == NEG) return (reg_source || s || i.imm || i.offset) ? ERR_HANDLER_BAD_INSN : OK;
      if (o == END) {
        if (s || i.offset || (i.imm != 16 && i.imm != 32 && i.imm != 64) || (c == ALU64 && reg_source))
          return ERR_HANDLER_BAD_INSN;
        return OK;
      }
      if ((!reg_source && s) || (reg_source && i.imm)) return ERR_HANDLER_BAD_INSN;
      if (o == DIV || o == MOD) return (i.offset == 0 || i.offset == 1) ? OK : ERR_HANDLER_BAD_INSN;
      if (o == MOV) {
        bool sx = reg_source && (i.offset == 8 || i.offset == 16 || (c == ALU64 && i.offset == 32));
        return (i.offset == 0 || sx) ? OK : ERR_HANDLER_BAD_INSN;
      }
      return i.offset ? ERR_HANDLER_BAD_INSN : OK;
    case LDX:
      if (mode(i.opcode) != MEM && (mode(i.opcode) != MEMSX || size_bytes(i.opcode) == 8)) return ERR_HANDLER_BAD_INSN;
      return (d >= kFramePointer || s > kFramePointer || i.imm) ? ERR_HANDLER_BAD_INSN : OK;
    case ST:
      return (mode(i.opcode) != MEM || s || d > kFramePointer) ? ERR_HANDLER_BAD_INSN : OK;
    case STX:  // atomics (mode ATOMIC) are not supported
      return (mode(i.opcode) != MEM || d > kFramePointer || s > kFramePointer || i.imm) ? ERR_HANDLER_BAD_INSN : OK;
    case LD: {  // only the plain 64-bit immediate; legacy packet loads and pseudo-loads refused
      if (i.opcode != kLoadImm64 || s || d >= kFramePointer || i.offset || pc + 1 >= n_) return ERR_HANDLER_BAD_INSN;
      const BpfInsn& next = prog_[pc + 1];
      return (next.opcode || next.regs || next.offset) ? ERR_HANDLER_BAD_INSN : OK;
    }
    default: {  // JMP, JMP32
      if (o == CALL) {  // helpers only (src 0): no local calls, no BTF ids
        if (c != JMP || reg_source || d || s || i.offset) return ERR_HANDLER_BAD_INSN;
        return helper(i.imm) ? OK : ERR_HANDLER_BAD_HELPER;
      }
      if (o == EXIT) return (c != JMP || reg_source || d || s || i.offset || i.imm) ? ERR_HANDLER_BAD_INSN : OK;
      if (o == JA) {
        if (c != JMP || reg_source || d || s || i.imm) return ERR_HANDLER_BAD_INSN;  // no gotol
      } else {
        if (o >= 0xE0 || d > kFramePointer || s > kFramePointer) return ERR_HANDLER_BAD_INSN;
        if ((!reg_source && s) || (reg_source && i.imm)) return ERR_HANDLER_BAD_INSN;
      }
      int64_t target = int64_t(pc) + 1 + i.offset;
      return (target < 0 || target >= int64_t(n_)) ? ERR_HANDLER_BAD_JUMP : OK;
    }
  }
}

// ---- pass 2: every path -------------------------------------------------------------

void Verifier::copy(State& to, const State& from) {
  for (unsigned r = 0; r < kRegisters; r++) to.regs[r] = from.regs[r];
  for (unsigned k = 0; k < kSlots; k++) to.spill[k] = from.spill[k];
  for (unsigned k = 0; k < kSlots / 8; k++) to.init[k] = from.init[k];
  to.pc = from.pc;
  to.path = from.path;
  to.frame_min = from.frame_min;
  to.looped = from.looped;
}

bool Verifier::push(const State& s) {
  if (npending_ == kMaxPending) return false;
  copy(pending_[npending_++], s);
  return true;
}

Status Verifier::walk() {
  State& s = cur_;
  for (unsigned r = 0; r < kRegisters; r++) s.regs[r] = Reg{kUninit, 0, 0};
  for (unsigned k = 0; k < kSlots; k++) s.spill[k] = Reg{kUninit, 0, 0};
  for (unsigned k = 0; k < kSlots / 8; k++) s.init[k] = 0;
  s.regs[1] = Reg{kFramePtr, 0, 0};
  s.regs[2] = Reg{kFrameLen, 0, kHandlerMaxFrame};
  s.regs[3] = Reg{kBufferPtr, 0, 0};
  s.regs[kFramePointer] = Reg{kStackPtr, 0, 0};  // offsets from the stack top
  s.pc = s.path = 0;
  s.frame_min = 0;
  s.looped = false;
  push(s);
  while (npending_) {
    copy(s, pending_[--npending_]);
    for (;;) {
      pc_ = s.pc;
      if (s.pc >= n_) {
        pc_ = n_ - 1;
        return ERR_HANDLER_BAD_JUMP;  // ran off the end
      }
      if (++explored_ > kBudget) return s.looped ? ERR_HANDLER_UNBOUNDED : ERR_HANDLER_TOO_COMPLEX;
      if (++s.path > kHandlerMaxPath) return ERR_HANDLER_UNBOUNDED;
      bool exited = false;
      Status st = step(s, &exited);
      if (st != OK) return st;
      if (exited) {
        if (s.path > max_path_) max_path_ = s.path;
        break;
      }
    }
  }
  return OK;
}

Status Verifier::step(State& s, bool* exited) {
  const BpfInsn& i = prog_[s.pc];
  Status st;
  switch (cls(i.opcode)) {
    case ALU:
    case ALU64: st = alu(s, i); s.pc++; return st;
    case LDX: st = load(s, i); s.pc++; return st;
    case ST:
    case STX: st = store(s, i); s.pc++; return st;
    case LD: {
      uint64_t v = uint64_t(uint32_t(i.imm)) | uint64_t(uint32_t(prog_[s.pc + 1].imm)) << 32;
      s.regs[dst(i)] = Reg{kNumber, v, v};
      s.pc += 2;
      return OK;
    }
    default: return branch(s, i, exited);
  }
}

Status Verifier::alu(State& s, const BpfInsn& i) {
  const bool wide = cls(i.opcode) == ALU64;
  const uint8_t o = op(i.opcode);
  const uint64_t max = wide ? ~0ull : kMax32;
  Reg& d = s.regs[dst(i)];
  Reg b = source(i.opcode) == X ? s.regs[src(i)] : Reg{kNumber, alu_imm(i.opcode, i.imm), alu_imm(i.opcode, i.imm)};
  if (b.kind == kUninit && source(i.opcode) == X && o != NEG && o != END) return ERR_HANDLER_UNINIT;

  if (o == MOV) {
    if (is_pointer(b.kind)) {
      if (!wide || i.offset) return ERR_HANDLER_POINTER_LEAK;
      d = b;
      return OK;
    }
    if (i.offset == 0 && (wide || b.hi <= kMax32)) {
      d = b;  // unchanged: the frame length stays the frame length
    } else if (b.lo == b.hi) {
      uint64_t v = bpf::alu(i.opcode, i.offset, i.imm, 0, b.lo);
      d = Reg{kNumber, v, v};
    } else {
      d = Reg{kNumber, 0, max};  // truncated or sign-extended
    }
    return OK;
  }
  if (d.kind == kUninit) return ERR_HANDLER_UNINIT;

  // Pointers: only a 64-bit add or subtract of a bounded number, or the
  // difference of two pointers into the same region.
  if (is_pointer(d.kind) || is_pointer(b.kind)) {
    if (!wide || (o != ADD && o != SUB)) return ERR_HANDLER_POINTER_LEAK;
    if (is_pointer(d.kind) && is_pointer(b.kind)) {
      if (o != SUB || d.kind != b.kind) return ERR_HANDLER_POINTER_LEAK;
      d = Reg{kNumber, 0, ~0ull};
      return OK;
    }
    if (o == SUB && !is_pointer(d.kind)) return ERR_HANDLER_POINTER_LEAK;  // number - pointer
    Reg ptr = is_pointer(d.kind) ? d : b;
    Reg num = is_pointer(d.kind) ? b : d;
    int64_t lo, hi;
    if (num.lo == num.hi && int64_t(num.lo) >= -kMaxOffset && int64_t(num.lo) <= kMaxOffset) {
      lo = hi = int64_t(num.lo);  // a constant, possibly negative
    } else if (num.hi <= uint64_t(kMaxOffset)) {
      lo = int64_t(num.lo);
      hi = int64_t(num.hi);
    } else {
      return ERR_HANDLER_BAD_ACCESS;  // an unbounded offset
    }
    int64_t plo = int64_t(ptr.lo), phi = int64_t(ptr.hi);
    if (o == ADD) plo += lo, phi += hi;
    else plo -= hi, phi -= lo;
    if (plo < -kMaxOffset || phi > kMaxOffset) return ERR_HANDLER_BAD_ACCESS;
    d = Reg{ptr.kind, uint64_t(plo), uint64_t(phi)};
    return OK;
  }

  // Numbers. Exact operands fold exactly, with the interpreter's semantics.
  Reg a = d;
  bool a_exact = a.lo == a.hi, b_exact = b.lo == b.hi;
  if ((a_exact && b_exact) || ((o == NEG || o == END) && a_exact)) {
    uint64_t v = bpf::alu(i.opcode, i.offset, i.imm, a.lo, b.lo);
    d = Reg{kNumber, v, v};
    return OK;
  }
  if (o == END) {
    d = Reg{kNumber, 0, i.imm == 16 ? 0xFFFFu : i.imm == 32 ? kMax32 : ~0ull};
    return OK;
  }
  if (!wide) {  // 32-bit operations see the low halves
    if (a.hi > kMax32) a = Reg{kNumber, 0, kMax32};
    if (b.hi > kMax32) b = Reg{kNumber, 0, kMax32};
  }
  uint64_t lo = 0, hi = max;
  unsigned shift_mask = wide ? 63 : 31;
  switch (o) {
    case ADD:
      if (a.hi <= max - b.hi) lo = a.lo + b.lo, hi = a.hi + b.hi;
      break;
    case SUB:
      if (a.lo >= b.hi) lo = a.lo - b.hi, hi = a.hi - b.lo;
      break;
    case MUL:
      if (b.hi == 0 || a.hi <= max / b.hi) lo = a.lo * b.lo, hi = a.hi * b.hi;
      break;
    case DIV:
      if (i.offset) break;
      if (b.lo >= 1) lo = a.lo / b.hi, hi = a.hi / b.lo;
      else hi = a.hi;  // divisor may be zero: the result is 0 then
      break;
    case MOD:
      if (i.offset) break;
      hi = b.lo >= 1 ? min64(a.hi, b.hi - 1) : a.hi;  // modulo by zero leaves dst
      break;
    case AND: hi = min64(a.hi, b.hi); break;
    case OR: lo = max64(a.lo, b.lo), hi = cover(a.hi | b.hi); break;
    case XOR: hi = cover(a.hi | b.hi); break;
    case LSH:
      if (b_exact && a.hi <= (max >> (b.lo & shift_mask)))
        lo = a.lo << (b.lo & shift_mask), hi = a.hi << (b.lo & shift_mask);
      break;
    case RSH:
      if (b_exact) lo = a.lo >> (b.lo & shift_mask), hi = a.hi >> (b.lo & shift_mask);
      else hi = a.hi;
      break;
    case ARSH:  // a non-negative value shifts like RSH
      if (a.hi < (wide ? kSignBit : 0x80000000u)) {
        if (b_exact) lo = a.lo >> (b.lo & shift_mask), hi = a.hi >> (b.lo & shift_mask);
        else hi = a.hi;
      }
      break;
    default: break;  // NEG: anything
  }
  d = Reg{kNumber, lo, hi};
  return OK;
}

Status Verifier::check_access(const State& s, const Reg& base, int32_t off, unsigned size, bool write,
                              int64_t* stack_off) {
  if (base.kind == kUninit) return ERR_HANDLER_UNINIT;
  if (!is_pointer(base.kind)) return ERR_HANDLER_BAD_ACCESS;  // a number is not an address
  // A pointer's offsets stay within +-kMaxOffset, so these sums cannot
  // overflow; a number's bounds could (found by handler_fuzz).
  int64_t lo = int64_t(base.lo) + off, hi = int64_t(base.hi) + off;
  switch (base.kind) {
    case kFramePtr:
      if (write || lo < 0 || hi + int64_t(size) > int64_t(s.frame_min)) return ERR_HANDLER_BAD_ACCESS;
      return OK;
    case kBufferPtr:
      if (lo < 0 || hi + int64_t(size) > int64_t(buffer_size_)) return ERR_HANDLER_BAD_ACCESS;
      return OK;
    case kStackPtr:
      if (lo != hi || lo < -int64_t(kHandlerStackSize) || lo + int64_t(size) > 0) return ERR_HANDLER_BAD_ACCESS;
      *stack_off = lo + kHandlerStackSize;
      return OK;
    default: return ERR_HANDLER_BAD_ACCESS;  // a number is not an address
  }
}

Status Verifier::load(State& s, const BpfInsn& i) {
  unsigned size = size_bytes(i.opcode);
  bool sx = mode(i.opcode) == MEMSX;
  const Reg base = s.regs[src(i)];
  int64_t so = 0;
  Status st = check_access(s, base, i.offset, size, false, &so);
  if (st != OK) return st;
  Reg value{kNumber, 0, sx || size == 8 ? ~0ull : (1ull << (8 * size)) - 1};
  if (base.kind == kStackPtr) {
    const Reg& slot = s.spill[so / 8];
    if (size == 8 && so % 8 == 0 && slot.kind != kUninit) {
      value = slot;  // a whole spilled register comes back as it was
    } else {
      for (int64_t b = so; b < so + int64_t(size); b++) {
        if (is_pointer(s.spill[b / 8].kind)) return ERR_HANDLER_POINTER_LEAK;  // part of a pointer
        if (!(s.init[b / 64] >> (b % 64) & 1)) return ERR_HANDLER_UNINIT;
      }
    }
  }
  s.regs[dst(i)] = value;
  return OK;
}

Status Verifier::store(State& s, const BpfInsn& i) {
  unsigned size = size_bytes(i.opcode);
  const Reg base = s.regs[dst(i)];
  Reg value = cls(i.opcode) == STX ? s.regs[src(i)] : Reg{kNumber, uint64_t(int64_t(i.imm)), uint64_t(int64_t(i.imm))};
  if (value.kind == kUninit) return ERR_HANDLER_UNINIT;
  int64_t so = 0;
  Status st = check_access(s, base, i.offset, size, true, &so);
  if (st != OK) return st;
  if (base.kind != kStackPtr) return is_pointer(value.kind) ? ERR_HANDLER_POINTER_LEAK : OK;
  if (size == 8 && so % 8 == 0) {
    s.spill[so / 8] = value;
  } else {
    if (is_pointer(value.kind)) return ERR_HANDLER_POINTER_LEAK;  // part of a pointer
    for (int64_t k = so / 8; k <= (so + int64_t(size) - 1) / 8; k++) {
      if (is_pointer(s.spill[k].kind)) {
        s.init[k / 8] &= ~(0xFFull << (8 * (k % 8)));  // the rest of a pointer is not data
      }
      s.spill[k] = Reg{kUninit, 0, 0};
    }
  }
  for (int64_t b = so; b < so + int64_t(size); b++) s.init[b / 64] |= 1ull << (b % 64);
  return OK;
}

void Verifier::narrow_frame_len(State& s, uint64_t lo, uint64_t hi) {
  for (unsigned r = 0; r < kRegisters; r++)
    if (s.regs[r].kind == kFrameLen) s.regs[r].lo = max64(s.regs[r].lo, lo), s.regs[r].hi = min64(s.regs[r].hi, hi);
  for (unsigned k = 0; k < kSlots; k++)
    if (s.spill[k].kind == kFrameLen) s.spill[k].lo = max64(s.spill[k].lo, lo), s.spill[k].hi = min64(s.spill[k].hi, hi);
  if (lo > s.frame_min) s.frame_min = lo;
}

Status Verifier::call(State& s, const BpfInsn& i) {
  const HelperInfo* h = helper(i.imm);
  for (unsigned a = 1; a <= h->nargs; a++) {
    if (s.regs[a].kind == kUninit) return ERR_HANDLER_UNINIT;
    if (is_pointer(s.regs[a].kind)) return ERR_HANDLER_BAD_HELPER;  // helpers take offsets, not addresses
  }
  if (i.imm == VENEER_HELPER_CHECKSUM && s.regs[1].hi > VENEER_REGION_BUFFER) return ERR_HANDLER_BAD_HELPER;
  for (unsigned a = 1; a <= 5; a++) s.regs[a] = Reg{kUninit, 0, 0};
  s.regs[0] = Reg{kNumber, 0, h->result_max};
  return OK;
}

Status Verifier::branch(State& s, const BpfInsn& i, bool* exited) {
  const uint8_t o = op(i.opcode);
  const uint32_t fall = s.pc + 1, taken = uint32_t(int64_t(s.pc) + 1 + i.offset);
  if (o == EXIT) {
    if (s.regs[0].kind == kUninit) return ERR_HANDLER_UNINIT;
    if (is_pointer(s.regs[0].kind)) return ERR_HANDLER_POINTER_LEAK;
    *exited = true;
    return OK;
  }
  if (o == CALL) {
    Status st = call(s, i);
    s.pc = fall;
    return st;
  }
  if (o == JA) {
    if (taken <= s.pc) s.looped = true;
    s.pc = taken;
    return OK;
  }
  const bool reg_source = source(i.opcode) == X;
  Reg a = s.regs[dst(i)];
  Reg b = reg_source ? s.regs[src(i)] : Reg{kNumber, jump_imm(i.opcode, i.imm), jump_imm(i.opcode, i.imm)};
  if (a.kind == kUninit || b.kind == kUninit) return ERR_HANDLER_UNINIT;

  bool can_take = true, can_fall = true;
  Reg at = a, bt = b, af = a, bf = b;  // narrowed on each side
  bool narrow = true;
  if (is_pointer(a.kind) || is_pointer(b.kind)) {
    narrow = false;
    bool null_test = is_pointer(a.kind) && !reg_source && i.imm == 0 && (o == JEQ || o == JNE);
    if (null_test) {  // pointers are never null
      can_take = o == JNE;
      can_fall = o == JEQ;
    } else if (!(is_pointer(a.kind) && a.kind == b.kind && cls(i.opcode) == JMP && o != JSET)) {
      return ERR_HANDLER_POINTER_LEAK;
    }
  } else {
    uint8_t rel = o;
    bool fits32 = a.hi <= kMax32 && b.hi <= kMax32;
    bool usable = cls(i.opcode) == JMP || fits32;  // 32-bit compares of 32-bit values are 64-bit compares
    if (rel >= JSGT && rel != JLT && rel != JLE) {  // signed: as unsigned when both are non-negative
      uint64_t limit = cls(i.opcode) == JMP ? kSignBit : 0x80000000u;
      if (a.hi < limit && b.hi < limit) rel = rel == JSGT ? JGT : rel == JSGE ? JGE : rel == JSLT ? JLT : JLE;
      else usable = false;
    }
    if (reg_source && src(i) == dst(i)) usable = false;
    if (a.lo == a.hi && b.lo == b.hi) {
      bool t = jump_taken(i.opcode, a.lo, b.lo);
      can_take = t;
      can_fall = !t;
      narrow = false;
    } else if (!usable || rel == JSET) {
      narrow = false;
    } else {
      // Make it "a REL b" with REL one of EQ, NE, GT, GE (swap LT/LE).
      bool swapped = rel == JLT || rel == JLE;
      Reg* x_t = swapped ? &bt : &at;
      Reg* y_t = swapped ? &at : &bt;
      Reg* x_f = swapped ? &bf : &af;
      Reg* y_f = swapped ? &af : &bf;
      Reg x = swapped ? b : a, y = swapped ? a : b;
      if (rel == JLT) rel = JGT;
      if (rel == JLE) rel = JGE;
      auto eq_narrow = [](Reg* p, Reg* q, const Reg& xx, const Reg& yy, bool* ok) {
        p->lo = q->lo = max64(xx.lo, yy.lo);
        p->hi = q->hi = min64(xx.hi, yy.hi);
        *ok = p->lo <= p->hi;
      };
      auto ne_narrow = [](Reg* p, Reg* q, const Reg& xx, const Reg& yy, bool* ok) {
        *ok = !(xx.lo == xx.hi && yy.lo == yy.hi && xx.lo == yy.lo);
        if (yy.lo == yy.hi) {
          if (p->lo == yy.lo && p->lo < p->hi) p->lo++;
          else if (p->hi == yy.lo && p->lo < p->hi) p->hi--;
        }
        if (xx.lo == xx.hi) {
          if (q->lo == xx.lo && q->lo < q->hi) q->lo++;
          else if (q->hi == xx.lo && q->lo < q->hi) q->hi--;
        }
      };
      if (rel == JEQ) {
        eq_narrow(x_t, y_t, x, y, &can_take);
        ne_narrow(x_f, y_f, x, y, &can_fall);
      } else if (rel == JNE) {
        ne_narrow(x_t, y_t, x, y, &can_take);
        eq_narrow(x_f, y_f, x, y, &can_fall);
      } else if (rel == JGT) {  // taken: x > y; fall: x <= y
        can_take = x.hi > y.lo;
        if (can_take) x_t->lo = max64(x.lo, y.lo + 1), y_t->hi = min64(y.hi, x.hi - 1);
        can_fall = x.lo <= y.hi;
        if (can_fall) x_f->hi = min64(x.hi, y.hi), y_f->lo = max64(y.lo, x.lo);
      } else {  // JGE. taken: x >= y; fall: x < y
        can_take = x.hi >= y.lo;
        if (can_take) x_t->lo = max64(x.lo, y.lo), y_t->hi = min64(y.hi, x.hi);
        can_fall = x.lo < y.hi;
        if (can_fall) x_f->hi = min64(x.hi, y.hi - 1), y_f->lo = max64(y.lo, x.lo + 1);
      }
    }
  }

  auto apply = [&](State& st, const Reg& na, const Reg& nb, uint32_t pc) {
    if (narrow) {
      st.regs[dst(i)] = na;
      if (na.kind == kFrameLen) narrow_frame_len(st, na.lo, na.hi);
      if (reg_source) {
        st.regs[src(i)] = nb;
        if (nb.kind == kFrameLen) narrow_frame_len(st, nb.lo, nb.hi);
      }
    }
    if (pc <= st.pc) st.looped = true;
    st.pc = pc;
  };
  if (can_take && can_fall) {
    // Go on with the later instruction and keep the earlier for later: the
    // short exit of a loop is finished before the next iteration is opened,
    // so open branches do not pile up.
    copy(other_, s);
    bool take_now = taken > fall;
    apply(other_, take_now ? af : at, take_now ? bf : bt, take_now ? fall : taken);
    apply(s, take_now ? at : af, take_now ? bt : bf, take_now ? taken : fall);
    if (!push(other_)) return ERR_HANDLER_TOO_COMPLEX;
  } else if (can_take) {
    apply(s, at, bt, taken);
  } else {
    apply(s, af, bf, fall);
  }
  return OK;
}

}  // namespace veneer::net
