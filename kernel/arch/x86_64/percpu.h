// Per-CPU data, reached through GS in the entry code. One CPU for now.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "asm_offsets.h"

namespace veneer {
struct Env;
}

namespace veneer::arch {

struct PerCpu {
  PerCpu* self;
  uint64_t kernel_rsp;  // top of the kernel stack
  uint64_t user_rsp;    // user rsp saved by syscall_entry
  Env* current;         // env running (or last run) on this CPU
  uint64_t scratch[3];  // the fast exception path parks rax, rcx, rdx here
};
static_assert(offsetof(PerCpu, kernel_rsp) == CPU_KERNEL_RSP);
static_assert(offsetof(PerCpu, user_rsp) == CPU_USER_RSP);
static_assert(offsetof(PerCpu, current) == CPU_CURRENT);
static_assert(offsetof(PerCpu, scratch) == CPU_SCRATCH0);

extern PerCpu cpu0;

// Sets up GDT, TSS, IDT, syscall MSRs, GS base and CPU features.
void cpu_init();

struct CpuFeatures {
  bool pcid, smep, smap, pge, pdpe1gb;
};
extern CpuFeatures features;

}  // namespace veneer::arch
