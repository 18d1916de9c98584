// ExOS system call stubs, expanded from the ABI table (abi/veneer/syscalls.h):
// one inline function sys_<name>(args...) -> veneer::SysResult per call.
#pragma once

#include <stdint.h>

#include "veneer/abi.h"

namespace exos {

using veneer::SysResult;

// The kernel returns status in rax and a value in rdx; it zeroes rdi, rsi,
// r8-r10 and uses rcx/r11 for sysret, so all of those are clobbered. Each
// stub passes only the registers its call takes (the compiler sets up
// nothing else), one function per argument count.
#define EXOS_SYSCALL_CLOBBERS "rcx", "r11", "memory"
inline SysResult syscall0(uint64_t n) {
  uint64_t rax = n, rdx;
  asm volatile("syscall" : "+a"(rax), "=d"(rdx) : : "rdi", "rsi", "r8", "r9", "r10", EXOS_SYSCALL_CLOBBERS);
  return SysResult{static_cast<long>(rax), rdx};
}
inline SysResult syscall1(uint64_t n, uint64_t a0) {
  uint64_t rax = n, rdx;
  asm volatile("syscall" : "+a"(rax), "=d"(rdx), "+D"(a0) : : "rsi", "r8", "r9", "r10", EXOS_SYSCALL_CLOBBERS);
  return SysResult{static_cast<long>(rax), rdx};
}
inline SysResult syscall2(uint64_t n, uint64_t a0, uint64_t a1) {
  uint64_t rax = n, rdx;
  asm volatile("syscall" : "+a"(rax), "=d"(rdx), "+D"(a0), "+S"(a1) : : "r8", "r9", "r10", EXOS_SYSCALL_CLOBBERS);
  return SysResult{static_cast<long>(rax), rdx};
}
inline SysResult syscall3(uint64_t n, uint64_t a0, uint64_t a1, uint64_t a2) {
  uint64_t rax = n;
  asm volatile("syscall" : "+a"(rax), "+D"(a0), "+S"(a1), "+d"(a2) : : "r8", "r9", "r10", EXOS_SYSCALL_CLOBBERS);
  return SysResult{static_cast<long>(rax), a2};
}
inline SysResult syscall4(uint64_t n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  register uint64_t r10 asm("r10") = a3;
  uint64_t rax = n;
  asm volatile("syscall" : "+a"(rax), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10) : : "r8", "r9", EXOS_SYSCALL_CLOBBERS);
  return SysResult{static_cast<long>(rax), a2};
}
inline SysResult syscall5(uint64_t n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4) {
  register uint64_t r10 asm("r10") = a3;
  register uint64_t r8 asm("r8") = a4;
  uint64_t rax = n;
  asm volatile("syscall" : "+a"(rax), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10), "+r"(r8) : : "r9",
               EXOS_SYSCALL_CLOBBERS);
  return SysResult{static_cast<long>(rax), a2};
}
inline SysResult syscall6(uint64_t n, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
  register uint64_t r10 asm("r10") = a3;
  register uint64_t r8 asm("r8") = a4;
  register uint64_t r9 asm("r9") = a5;
  uint64_t rax = n;
  asm volatile("syscall" : "+a"(rax), "+D"(a0), "+S"(a1), "+d"(a2), "+r"(r10), "+r"(r8), "+r"(r9) : :
                 EXOS_SYSCALL_CLOBBERS);
  return SysResult{static_cast<long>(rax), a2};
}
#undef EXOS_SYSCALL_CLOBBERS

// Any number with any arguments (tests and foreign calls use it).
inline SysResult raw_syscall(uint64_t n, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                             uint64_t a4 = 0, uint64_t a5 = 0) {
  return syscall6(n, a0, a1, a2, a3, a4, a5);
}

// EXOS_TAIL((a, b)) -> , a, b   and   EXOS_TAIL(()) -> nothing.
#define EXOS_TAIL_(...) __VA_OPT__(, ) __VA_ARGS__
#define EXOS_TAIL(list) EXOS_TAIL_ list
#define EXOS_STUB(index, name, path, args)                            \
  inline SysResult sys_##name(VENEER_PARAMS(args)) {                  \
    return VENEER_CAT(syscall, VENEER_COUNT(args))(veneer::SYS_##name EXOS_TAIL(args)); \
  }
VENEER_SYSCALLS(EXOS_STUB)
#undef EXOS_STUB

}  // namespace exos
