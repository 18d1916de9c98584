// A Linux program's registers while the personality forks on its behalf
// (entry.S saves and restores them; numbers for it in asm_constants.cc).
#pragma once

#include <stdint.h>

namespace exos::linux {

struct alignas(16) LinuxContext {
  uint8_t fx[512];  // fxsave area (first: 16-byte aligned)
  uint64_t rbx, rbp, rsi, rdi, r8, r9, r10, r12, r13, r14, r15;
  uint64_t rdx, rip, rsp, rflags;
  uint64_t clone_flags, child_tid, child_rsp;  // what the fork call asked for
};

}  // namespace exos::linux

extern "C" exos::linux::LinuxContext linux_ctx;
