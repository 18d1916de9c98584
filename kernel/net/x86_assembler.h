// A small x86-64 instruction encoder for the two code generators (the packet
// filter compiler and the handler JIT). It writes into a caller's buffer or,
// with no buffer, only counts bytes: generators run twice, once to measure
// code size and learn label positions, then into memory of that size. Every
// branch is rel32, so both passes lay the code out identically.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace veneer::net::x86 {

enum Reg : uint8_t { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15, NONE = 0xFF };

enum Cond : uint8_t {
  O = 0, NO = 1, B = 2, AE = 3, E = 4, NE = 5, BE = 6, A = 7,
  S = 8, NS = 9, L = 0xC, GE = 0xD, LE = 0xE, G = 0xF,
};

// Group-1 arithmetic, in the order of their /digit and opcode rows.
enum Alu : uint8_t { ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7 };
// Group-2 shifts and rotates (/digit).
enum Shift : uint8_t { ROL = 0, ROR = 1, SHL = 4, SHR = 5, SAR = 7 };

// [base + index*(1<<scale) + disp]; base NONE: [index*(1<<scale) + disp].
struct Mem {
  Reg base;
  int32_t disp = 0;
  Reg index = NONE;
  uint8_t scale = 0;
};

class Assembler {
 public:
  Assembler(uint8_t* buf, size_t capacity) : buf_(buf), cap_(capacity) {}

  size_t size() const { return pos_; }
  // True if the code did not fit the buffer (nothing past capacity is written).
  bool overflowed() const { return buf_ && pos_ > cap_; }

  void byte(uint8_t b) {
    if (buf_ && pos_ < cap_) buf_[pos_] = b;
    pos_++;
  }
  void u16(uint16_t v) { byte(uint8_t(v)), byte(uint8_t(v >> 8)); }
  void u32(uint32_t v) { u16(uint16_t(v)), u16(uint16_t(v >> 16)); }
  void u64(uint64_t v) { u32(uint32_t(v)), u32(uint32_t(v >> 32)); }
  // Overwrites 4 bytes already emitted (jump tables, forward references).
  void patch32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++)
      if (buf_ && at + i < cap_) buf_[at + i] = uint8_t(v >> (8 * i));
  }

  // ---- moves -------------------------------------------------------------------
  void mov(bool w64, Reg dst, Reg src) { rr(w64, 0x89, src, dst); }
  void mov_imm32(Reg dst, uint32_t imm) {  // zero-extends into 64 bits
    rex(false, 0, 0, dst, false);
    byte(0xB8 + (dst & 7));
    u32(imm);
  }
  // Sign-extended 32-bit immediate into a 64-bit register.
  void mov_imm_sx(Reg dst, int32_t imm) {
    rex(true, 0, 0, dst, false);
    byte(0xC7);
    byte(0xC0 | (dst & 7));
    u32(uint32_t(imm));
  }
  void mov_imm64(Reg dst, uint64_t imm) {
    if (imm <= 0xFFFFFFFFu) return mov_imm32(dst, uint32_t(imm));
    if (int64_t(imm) >= INT32_MIN && int64_t(imm) <= INT32_MAX) return mov_imm_sx(dst, int32_t(imm));
    rex(true, 0, 0, dst, false);
    byte(0xB8 + (dst & 7));
    u64(imm);
  }
  // Zero-extending loads of 1, 2, 4 or 8 bytes (4 zero-extends by itself).
  void load(unsigned width, Reg dst, Mem m) {
    switch (width) {
      case 1: rm(false, 0x0FB6, dst, m); break;
      case 2: rm(false, 0x0FB7, dst, m); break;
      case 4: rm(false, 0x8B, dst, m); break;
      default: rm(true, 0x8B, dst, m); break;
    }
  }
  // Sign-extending loads of 1, 2 or 4 bytes into 64 bits.
  void load_sx(unsigned width, Reg dst, Mem m) {
    switch (width) {
      case 1: rm(true, 0x0FBE, dst, m); break;
      case 2: rm(true, 0x0FBF, dst, m); break;
      default: rm(true, 0x63, dst, m); break;
    }
  }
  void store(unsigned width, Mem m, Reg src) {
    switch (width) {
      case 1: rm(false, 0x88, src, m, /*byte_reg=*/true); break;
      case 2: byte(0x66), rm(false, 0x89, src, m); break;
      case 4: rm(false, 0x89, src, m); break;
      default: rm(true, 0x89, src, m); break;
    }
  }
  // Stores an immediate (sign-extended to 8 bytes for width 8).
  void store_imm(unsigned width, Mem m, int32_t imm) {
    switch (width) {
      case 1: rm(false, 0xC6, Reg(0), m), byte(uint8_t(imm)); break;
      case 2: byte(0x66), rm(false, 0xC7, Reg(0), m), u16(uint16_t(imm)); break;
      case 4: rm(false, 0xC7, Reg(0), m), u32(uint32_t(imm)); break;
      default: rm(true, 0xC7, Reg(0), m), u32(uint32_t(imm)); break;
    }
  }
  void lea(bool w64, Reg dst, Mem m) { rm(w64, 0x8D, dst, m); }
  // lea dst, [rip + disp]: disp is relative to the end of this instruction.
  void lea_rip(Reg dst, int32_t disp) {
    rex(true, dst, 0, 0, false);
    byte(0x8D);
    byte(0x05 | ((dst & 7) << 3));
    u32(uint32_t(disp));
  }
  static constexpr size_t kLeaRipSize = 7;
  void movsx(bool w64, unsigned from_width, Reg dst, Reg src) {
    if (from_width == 1) rr_rev(w64, 0x0FBE, dst, src, true);
    else if (from_width == 2) rr_rev(w64, 0x0FBF, dst, src, false);
    else rr_rev(true, 0x63, dst, src, false);  // movsxd
  }
  void movzx16(Reg dst, Reg src) { rr_rev(false, 0x0FB7, dst, src, false); }
  void movsxd_load(Reg dst, Mem m) { rm(true, 0x63, dst, m); }
  void cmov(Cond c, bool w64, Reg dst, Reg src) { rr_rev(w64, 0x0F40 | c, dst, src, false); }

  // ---- arithmetic ---------------------------------------------------------------
  void alu(Alu op, bool w64, Reg dst, Reg src) { rr(w64, uint16_t(op * 8 + 1), src, dst); }
  void alu_imm(Alu op, bool w64, Reg dst, int32_t imm) {
    if (imm >= -128 && imm <= 127) {
      rr(w64, 0x83, Reg(op), dst);
      byte(uint8_t(imm));
    } else {
      rr(w64, 0x81, Reg(op), dst);
      u32(uint32_t(imm));
    }
  }
  // cmp byte/word/dword [m], imm
  void cmp_mem_imm(unsigned width, Mem m, int32_t imm) {
    if (width == 1) rm(false, 0x80, Reg(7), m), byte(uint8_t(imm));
    else if (width == 2) byte(0x66), rm(false, 0x81, Reg(7), m), u16(uint16_t(imm));
    else rm(false, 0x81, Reg(7), m), u32(uint32_t(imm));
  }
  void cmp_mem_reg(Mem m, Reg r) { rm(false, 0x39, r, m); }
  // test byte/word/dword [m], imm
  void test_mem_imm(unsigned width, Mem m, int32_t imm) {
    if (width == 1) rm(false, 0xF6, Reg(0), m), byte(uint8_t(imm));
    else if (width == 2) byte(0x66), rm(false, 0xF7, Reg(0), m), u16(uint16_t(imm));
    else rm(false, 0xF7, Reg(0), m), u32(uint32_t(imm));
  }
  void test(bool w64, Reg a, Reg b) { rr(w64, 0x85, b, a); }
  void test_imm(bool w64, Reg r, int32_t imm) {
    rr(w64, 0xF7, Reg(0), r);
    u32(uint32_t(imm));
  }
  void imul(bool w64, Reg dst, Reg src) { rr_rev(w64, 0x0FAF, dst, src, false); }
  void imul_imm(bool w64, Reg dst, Reg src, int32_t imm) {
    rr_rev(w64, 0x69, dst, src, false);
    u32(uint32_t(imm));
  }
  void neg(bool w64, Reg r) { rr(w64, 0xF7, Reg(3), r); }
  void div(bool w64, Reg divisor) { rr(w64, 0xF7, Reg(6), divisor); }   // rdx:rax / r
  void idiv(bool w64, Reg divisor) { rr(w64, 0xF7, Reg(7), divisor); }  // signed
  void sign_extend_rax(bool w64) {  // cqo / cdq
    if (w64) byte(0x48);
    byte(0x99);
  }
  void shift_imm(Shift op, bool w64, Reg r, uint8_t count) {
    rr(w64, 0xC1, Reg(op), r);
    byte(count);
  }
  void shift_cl(Shift op, bool w64, Reg r) { rr(w64, 0xD3, Reg(op), r); }
  void rol16_8(Reg r) {  // swaps the two low bytes
    byte(0x66);
    rr(false, 0xC1, Reg(ROL), r);
    byte(8);
  }
  void bswap(bool w64, Reg r) {
    rex(w64, 0, 0, r, false);
    byte(0x0F);
    byte(0xC8 + (r & 7));
  }

  // ---- control -----------------------------------------------------------------
  // Branches to an absolute code offset; `target` may be unknown (0) in the
  // measuring pass.
  void jcc(Cond c, size_t target) {
    byte(0x0F);
    byte(0x80 | c);
    u32(uint32_t(int64_t(target) - int64_t(pos_ + 4)));
  }
  void jmp(size_t target) {
    byte(0xE9);
    u32(uint32_t(int64_t(target) - int64_t(pos_ + 4)));
  }
  void jmp_reg(Reg r) { rr(false, 0xFF, Reg(4), r); }
  void call_reg(Reg r) { rr(false, 0xFF, Reg(2), r); }
  void ret() { byte(0xC3); }
  void push(Reg r) {
    if (r >= 8) byte(0x41);
    byte(0x50 + (r & 7));
  }
  void pop(Reg r) {
    if (r >= 8) byte(0x41);
    byte(0x58 + (r & 7));
  }
  void ud2() { byte(0x0F), byte(0x0B); }

 private:
  void rex(bool w, unsigned reg, unsigned index, unsigned base, bool force) {
    uint8_t r = uint8_t(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((index & 8) ? 2 : 0) | ((base & 8) ? 1 : 0));
    if (r != 0x40 || force) byte(r);
  }
  void opcode(uint16_t op) {
    if (op > 0xFF) byte(uint8_t(op >> 8));
    byte(uint8_t(op));
  }
  // op with ModRM reg = `reg`, r/m = register `rm`.
  void rr(bool w64, uint16_t op, Reg reg, Reg rmr, bool byte_regs = false) {
    rex(w64, reg, 0, rmr, byte_regs && (reg >= 4 || rmr >= 4));
    opcode(op);
    byte(uint8_t(0xC0 | ((reg & 7) << 3) | (rmr & 7)));
  }
  // Same encoding, for instructions whose destination is the ModRM reg field.
  void rr_rev(bool w64, uint16_t op, Reg dst, Reg src, bool byte_src) {
    rex(w64, dst, 0, src, byte_src && src >= 4);
    opcode(op);
    byte(uint8_t(0xC0 | ((dst & 7) << 3) | (src & 7)));
  }
  // op with ModRM reg = `reg`, r/m = memory `m`.
  void rm(bool w64, uint16_t op, Reg reg, Mem m, bool byte_reg = false) {
    unsigned index = m.index == NONE ? 0 : m.index;
    if (m.base == NONE) {  // [index*scale + disp32], no base register
      rex(w64, reg, index, 0, byte_reg && reg >= 4);
      opcode(op);
      byte(uint8_t(((reg & 7) << 3) | 4));
      byte(uint8_t((m.scale << 6) | ((index & 7) << 3) | 5));
      u32(uint32_t(m.disp));
      return;
    }
    rex(w64, reg, index, m.base, byte_reg && reg >= 4);
    opcode(op);
    uint8_t mod;
    if (m.disp == 0 && (m.base & 7) != 5) mod = 0;
    else if (m.disp >= -128 && m.disp <= 127) mod = 1;
    else mod = 2;
    if (m.index == NONE && (m.base & 7) != 4) {
      byte(uint8_t((mod << 6) | ((reg & 7) << 3) | (m.base & 7)));
    } else {
      byte(uint8_t((mod << 6) | ((reg & 7) << 3) | 4));
      uint8_t idx = m.index == NONE ? 4 : (m.index & 7);
      byte(uint8_t((m.scale << 6) | (idx << 3) | (m.base & 7)));
    }
    if (mod == 1) byte(uint8_t(m.disp));
    else if (mod == 2) u32(uint32_t(m.disp));
  }

  uint8_t* buf_;
  size_t cap_;
  size_t pos_ = 0;
};

}  // namespace veneer::net::x86
