// The eBPF instruction set (RFC 9669): encoding constants and the meaning of
// arithmetic and comparisons, shared by the interpreter and by the verifier's
// constant folding so the two cannot disagree. Supported: the base32/base64
// and divmul32/divmul64 conformance groups, plus signed division and modulo,
// sign-extending moves and loads, and byte swaps. Not supported (refused by
// the verifier): atomics, the legacy packet loads, local function calls,
// map and BTF pseudo-loads, the 32-bit-offset `gotol`.
#pragma once

#include <stdint.h>

#include "veneer/handler.h"

namespace veneer::net::bpf {

// Instruction classes (the low 3 bits of the opcode).
constexpr uint8_t LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, JMP32 = 0x06, ALU64 = 0x07;
// Source operand (bit 3): the immediate, or the src register.
constexpr uint8_t K = 0x00, X = 0x08;
// Arithmetic operations (high nibble).
constexpr uint8_t ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60,
                  RSH = 0x70, NEG = 0x80, MOD = 0x90, XOR = 0xA0, MOV = 0xB0, ARSH = 0xC0, END = 0xD0;
// Jump operations (high nibble).
constexpr uint8_t JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40, JNE = 0x50, JSGT = 0x60,
                  JSGE = 0x70, CALL = 0x80, EXIT = 0x90, JLT = 0xA0, JLE = 0xB0, JSLT = 0xC0, JSLE = 0xD0;
// Memory access size (bits 3-4) and mode (bits 5-7).
constexpr uint8_t W = 0x00, H = 0x08, B = 0x10, DW = 0x18;
constexpr uint8_t IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, MEMSX = 0x80, ATOMIC = 0xC0;

constexpr unsigned kRegisters = 11;  // r0..r10
constexpr unsigned kFramePointer = 10;
constexpr uint8_t kLoadImm64 = 0x18;  // LD | IMM | DW: a 64-bit immediate in two slots

inline uint8_t cls(uint8_t opcode) { return opcode & 0x07; }
inline uint8_t op(uint8_t opcode) { return opcode & 0xF0; }
inline uint8_t source(uint8_t opcode) { return opcode & 0x08; }
inline uint8_t mode(uint8_t opcode) { return opcode & 0xE0; }
inline unsigned size_bytes(uint8_t opcode) {
  switch (opcode & 0x18) {
    case W: return 4;
    case H: return 2;
    case B: return 1;
    default: return 8;
  }
}
inline unsigned dst(const BpfInsn& i) { return i.regs & 0x0F; }
inline unsigned src(const BpfInsn& i) { return i.regs >> 4; }

inline uint64_t bswap16(uint64_t v) { return ((v & 0xFF) << 8) | ((v >> 8) & 0xFF); }
inline uint64_t bswap32(uint64_t v) {
  return ((v & 0xFF) << 24) | ((v & 0xFF00) << 8) | ((v >> 8) & 0xFF00) | ((v >> 24) & 0xFF);
}
inline uint64_t bswap64(uint64_t v) { return (bswap32(v) << 32) | bswap32(v >> 32); }

// dst OP src for one ALU/ALU64 instruction (`offset` selects signed division
// and sign-extending moves). `a` and `b` are the full 64-bit register values
// (for K, b is the immediate as the RFC extends it).
inline uint64_t alu(uint8_t opcode, int16_t offset, int32_t imm, uint64_t a, uint64_t b) {
  bool wide = cls(opcode) == ALU64;
  if (op(opcode) == END) {
    // ALU: to little endian (source K) or big endian (X); ALU64 (K): swap.
    // Widths are explicit and act on the whole register.
    bool swap = wide || source(opcode) == X;
    if (imm == 16) return swap ? bswap16(a) : (a & 0xFFFF);
    if (imm == 32) return swap ? bswap32(a) : (a & 0xFFFFFFFFu);
    return swap ? bswap64(a) : a;
  }
  if (!wide) {
    a = uint32_t(a);
    b = uint32_t(b);
  }
  uint64_t r;
  switch (op(opcode)) {
    case ADD: r = a + b; break;
    case SUB: r = a - b; break;
    case MUL: r = a * b; break;
    case OR: r = a | b; break;
    case AND: r = a & b; break;
    case XOR: r = a ^ b; break;
    case LSH: r = a << (b & (wide ? 63 : 31)); break;
    case RSH: r = a >> (b & (wide ? 63 : 31)); break;
    case ARSH:
      r = wide ? uint64_t(int64_t(a) >> (b & 63)) : uint64_t(uint32_t(int32_t(uint32_t(a)) >> (b & 31)));
      break;
    case NEG: r = 0 - a; break;
    case DIV:
      if (b == 0) r = 0;
      else if (offset == 0) r = a / b;
      else if (wide) r = (b == ~0ull) ? 0 - a : uint64_t(int64_t(a) / int64_t(b));  // LLONG_MIN / -1 wraps
      else r = (uint32_t(b) == ~0u) ? uint32_t(0 - uint32_t(a)) : uint32_t(int32_t(a) / int32_t(b));
      break;
    case MOD:
      if (b == 0) r = a;
      else if (offset == 0) r = a % b;
      else if (wide) r = (b == ~0ull) ? 0 : uint64_t(int64_t(a) % int64_t(b));
      else r = (uint32_t(b) == ~0u) ? 0 : uint32_t(int32_t(a) % int32_t(b));
      break;
    case MOV:
      if (offset == 8) r = wide ? uint64_t(int64_t(int8_t(b))) : uint32_t(int32_t(int8_t(b)));
      else if (offset == 16) r = wide ? uint64_t(int64_t(int16_t(b))) : uint32_t(int32_t(int16_t(b)));
      else if (offset == 32) r = uint64_t(int64_t(int32_t(b)));
      else r = b;
      break;
    default: r = 0; break;
  }
  return wide ? r : uint32_t(r);
}

// The second operand of an ALU instruction with source K.
inline uint64_t alu_imm(uint8_t opcode, int32_t imm) {
  return cls(opcode) == ALU64 ? uint64_t(int64_t(imm)) : uint64_t(uint32_t(imm));
}

// The outcome of a conditional jump (JMP or JMP32).
inline bool jump_taken(uint8_t opcode, uint64_t a, uint64_t b) {
  if (cls(opcode) == JMP32) {
    a = uint32_t(a);
    b = uint32_t(b);
    int32_t sa = int32_t(uint32_t(a)), sb = int32_t(uint32_t(b));
    switch (op(opcode)) {
      case JSGT: return sa > sb;
      case JSGE: return sa >= sb;
      case JSLT: return sa < sb;
      case JSLE: return sa <= sb;
      default: break;
    }
  }
  int64_t sa = int64_t(a), sb = int64_t(b);
  switch (op(opcode)) {
    case JEQ: return a == b;
    case JNE: return a != b;
    case JGT: return a > b;
    case JGE: return a >= b;
    case JLT: return a < b;
    case JLE: return a <= b;
    case JSET: return (a & b) != 0;
    case JSGT: return sa > sb;
    case JSGE: return sa >= sb;
    case JSLT: return sa < sb;
    case JSLE: return sa <= sb;
    default: return true;  // JA
  }
}

// The second operand of a conditional jump with source K.
inline uint64_t jump_imm(uint8_t opcode, int32_t imm) {
  return cls(opcode) == JMP32 ? uint64_t(uint32_t(imm)) : uint64_t(int64_t(imm));
}

}  // namespace veneer::net::bpf
