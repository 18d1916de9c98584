// Full user register state, in the order entry.S pushes it.
#pragma once

#include <stdint.h>

namespace veneer::arch {

struct TrapFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error_code;
  uint64_t rip, cs, rflags, rsp, ss;  // as the CPU pushes them
};
static_assert(sizeof(TrapFrame) == 22 * 8);

// TrapFrame.vector of a system call (above every hardware vector).
constexpr uint64_t kSyscallVector = 256;

}  // namespace veneer::arch

extern "C" [[noreturn]] void env_pop_tf(veneer::arch::TrapFrame* tf);
