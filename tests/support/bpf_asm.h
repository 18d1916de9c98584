// Writing handler bytecode by hand in tests: one function per instruction
// form, named after the RFC 9669 mnemonics.
#pragma once

#include <initializer_list>
#include <vector>

#include "kernel/net/ebpf.h"

namespace veneer::test::bpf_asm {

using veneer::BpfInsn;
namespace b = veneer::net::bpf;

inline BpfInsn insn(uint8_t opcode, unsigned dst, unsigned src, int16_t off, int32_t imm) {
  return BpfInsn{opcode, uint8_t(dst | src << 4), off, imm};
}
inline BpfInsn alu64_imm(uint8_t op, unsigned dst, int32_t imm) { return insn(b::ALU64 | op | b::K, dst, 0, 0, imm); }
inline BpfInsn alu64_reg(uint8_t op, unsigned dst, unsigned src) { return insn(b::ALU64 | op | b::X, dst, src, 0, 0); }
inline BpfInsn alu32_imm(uint8_t op, unsigned dst, int32_t imm) { return insn(b::ALU | op | b::K, dst, 0, 0, imm); }
inline BpfInsn alu32_reg(uint8_t op, unsigned dst, unsigned src) { return insn(b::ALU | op | b::X, dst, src, 0, 0); }
inline BpfInsn mov64_imm(unsigned dst, int32_t imm) { return alu64_imm(b::MOV, dst, imm); }
inline BpfInsn mov64_reg(unsigned dst, unsigned src) { return alu64_reg(b::MOV, dst, src); }
inline BpfInsn ldx(uint8_t size, unsigned dst, unsigned src, int16_t off) {
  return insn(b::LDX | b::MEM | size, dst, src, off, 0);
}
inline BpfInsn stx(uint8_t size, unsigned dst, unsigned src, int16_t off) {
  return insn(b::STX | b::MEM | size, dst, src, off, 0);
}
inline BpfInsn st(uint8_t size, unsigned dst, int16_t off, int32_t imm) {
  return insn(b::ST | b::MEM | size, dst, 0, off, imm);
}
inline BpfInsn jmp_imm(uint8_t op, unsigned dst, int32_t imm, int16_t off) {
  return insn(b::JMP | op | b::K, dst, 0, off, imm);
}
inline BpfInsn jmp_reg(uint8_t op, unsigned dst, unsigned src, int16_t off) {
  return insn(b::JMP | op | b::X, dst, src, off, 0);
}
inline BpfInsn jmp32_imm(uint8_t op, unsigned dst, int32_t imm, int16_t off) {
  return insn(b::JMP32 | op | b::K, dst, 0, off, imm);
}
inline BpfInsn ja(int16_t off) { return insn(b::JMP | b::JA, 0, 0, off, 0); }
inline BpfInsn call(int32_t helper) { return insn(b::JMP | b::CALL, 0, 0, 0, helper); }
inline BpfInsn exit_insn() { return insn(b::JMP | b::EXIT, 0, 0, 0, 0); }
// The two slots of a 64-bit immediate load.
inline std::vector<BpfInsn> lddw(unsigned dst, uint64_t v) {
  return {insn(b::kLoadImm64, dst, 0, 0, int32_t(uint32_t(v))), insn(0, 0, 0, 0, int32_t(uint32_t(v >> 32)))};
}

// A program from instructions and instruction lists (for lddw).
struct Program {
  std::vector<BpfInsn> insns;
  Program(std::initializer_list<std::vector<BpfInsn>> parts) {
    for (const auto& p : parts) insns.insert(insns.end(), p.begin(), p.end());
  }
  const BpfInsn* data() const { return insns.data(); }
  uint32_t size() const { return uint32_t(insns.size()); }
};

}  // namespace veneer::test::bpf_asm
