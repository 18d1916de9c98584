// Running environments. For now a round-robin over runnable envs on every
// timer tick; the slice vector (issue: CPU as a vector of time slices)
// replaces the policy, not the switching.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/memory.h"

namespace veneer {

using namespace arch;

Env* current_env() { return cpu0.current; }

void env_run(Env* e) {
  Env* prev = cpu0.current;
  if (prev != e) {
    if (prev) asm volatile("fxsave64 %0" : "=m"(prev->fpu));
    uint64_t cr3 = e->pml4_pa;
    if (e->pcid) {
      cr3 |= e->pcid;
      if (!e->tlb_stale) cr3 |= 1ull << 63;  // keep this PCID's translations
    }
    write_cr3(cr3);
    e->tlb_stale = false;
    asm volatile("fxrstor64 %0" ::"m"(e->fpu));
    cpu0.current = e;
    e->info->runs++;
  } else if (e->tlb_stale) {
    write_cr3(e->pml4_pa | e->pcid);
    e->tlb_stale = false;
  }
  env_pop_tf(&e->tf);
}

void schedule() {
  uint32_t start = cpu0.current ? env_index(cpu0.current->id) : 0;
  for (;;) {
    for (uint32_t k = 1; k <= kMaxEnvs; k++) {
      uint32_t i = (start + k) % kMaxEnvs;
      if (env_table[i].state == ENV_RUNNABLE) env_run(&envs[i]);
    }
    // Nothing to run: wait for an interrupt with interrupts enabled, on the
    // kernel stack (trap() returns here for kernel-mode interrupts).
    sti();
    hlt();
    cli();
  }
}

}  // namespace veneer
