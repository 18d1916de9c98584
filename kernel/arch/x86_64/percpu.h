// Per-CPU data, reached by RIP-relative address in the entry code (no GS
// base, no swapgs). One CPU for now.
#pragma once

#include <stddef.h>
#include <stdint.h>


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

// The one CPU's data; entry.S addresses it by this symbol (no GS base).
extern PerCpu cpu0 asm("veneer_cpu0");

// Sets up GDT, TSS, IDT, syscall MSRs, GS base and CPU features.
void cpu_init();

struct CpuFeatures {
  bool pcid, smep, smap, pge, pdpe1gb, umip;
};
extern CpuFeatures features;

}  // namespace veneer::arch
