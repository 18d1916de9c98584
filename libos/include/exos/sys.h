// ExOS system call stubs, expanded from the ABI table (abi/veneer/syscalls.h):
// one inline function sys_<name>(args...) -> veneer::SysResult per call.
#pragma once

#include <stdint.h>

#include "veneer/abi.h"

namespace exos {

using veneer::SysResult;

// The kernel returns status in rax and a value in rdx; it zeroes rdi, rsi,
// r8-r10 and uses rcx/r11 for sysret, so all of those are clobbered.
inline SysResult raw_syscall(uint64_t n, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0,
                             uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
  register uint64_t r10 asm("r10") = a3;
  register uint64_t r8 asm("r8") = a4;
  register uint64_t r9 asm("r9") = a5;
  uint64_t rax = n;
  asm volatile("syscall"
               : "+a"(rax), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10), "+r"(r8), "+r"(r9)
               :
               : "rcx", "r11", "memory");
  return SysResult{static_cast<long>(rax), a2};
}

// EXOS_CALL_ drops the comma when a call has no arguments.
#define EXOS_CALL_(num, ...) raw_syscall(num __VA_OPT__(, ) __VA_ARGS__)
#define EXOS_STUB(index, name, path, args) \
  inline SysResult sys_##name(VENEER_PARAMS(args)) { return EXOS_CALL_(veneer::SYS_##name, VENEER_NAMES(args)); }
VENEER_SYSCALLS(EXOS_STUB)
#undef EXOS_STUB

}  // namespace exos
