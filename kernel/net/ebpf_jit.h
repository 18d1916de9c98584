// Compiles verified handler bytecode to x86-64, one native sequence per
// instruction, into W^X memory from CodeMemory (sealed before use).
//
// The compiled function is
//     uint64_t handler(const uint8_t* frame, uint64_t len, uint8_t* buffer, HandlerRun* run)
// so r1..r3 arrive where the System V convention puts the first three
// arguments. Register map: r0 rax, r1 rdi, r2 rsi, r3 rdx, r4 rcx, r5 r8
// (helper arguments are then already in place), r6 rbx, r7 r13, r8 r14,
// r9 r15 (callee-saved, as BPF's r6..r9 survive calls), r10 rbp (the run's
// stack top). r12 holds the run for helpers; r9, r10 and r11 are scratch.
// Division by zero takes the ISA's defined result (the verifier allows it),
// and signed division of the minimum by -1 wraps instead of trapping. The
// code trusts the verifier for everything else: no run-time bounds checks.
#pragma once

#include "code_memory.h"
#include "ebpf.h"
#include "handler_runtime.h"
#include "x86_assembler.h"

namespace veneer::net {

using HandlerFn = uint64_t (*)(const uint8_t* frame, uint64_t len, uint8_t* buffer, HandlerRun* run);

class HandlerJit {
 public:
  // `prog` must have passed the verifier. False if code memory ran out.
  bool compile(const BpfInsn* prog, uint32_t n, const CodeMemory& memory, SealedCode* out);

 private:
  void emit(uint8_t* buf, size_t cap);
  void emit_insn(uint32_t pc);
  void emit_div(const BpfInsn& i);
  void emit_shift(const BpfInsn& i);
  size_t jump_forward(x86::Cond c);  // a jcc (or jmp, for c == kAlways) patched by land()
  void land(size_t jump_end);

  const BpfInsn* prog_ = nullptr;
  uint32_t n_ = 0;
  x86::Assembler* as_ = nullptr;  // the current pass
  size_t size_ = 0;
  bool overflow_ = false;
  uint32_t offset_[kHandlerMaxInsns + 1];  // native offset of each instruction (from the measuring pass)
};

}  // namespace veneer::net
