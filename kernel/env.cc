#include "kernel/env.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/memory.h"

namespace veneer {

using namespace arch;

Env envs[kMaxEnvs];

Env* env_ptr[kMaxEnvs];  // filled by env_init

namespace {
uint32_t generation[kMaxEnvs];
}

void env_init() {
  for (uint32_t i = 0; i < kMaxEnvs; i++) {
    env_ptr[i] = &envs[i];
    envs[i].info = &env_table[i];
    generation[i] = 1;
  }
}

Env* env_from_id(uint32_t id) {
  Env* e = &envs[env_index(id)];
  if (id == 0 || e->id != id || e->info->state == ENV_FREE) return nullptr;
  return e;
}

Status env_from_cap(Env* caller, uint64_t slot, uint8_t rights, Env** out) {
  core::Capability* c;
  Status s = caller->caps.lookup(slot, CAP_ENV, rights, &c);
  if (s != OK) return s;
  Env* e = env_from_id(static_cast<uint32_t>(c->object));
  if (!e || e->info->state == ENV_DYING) return ERR_STALE_CAP;
  *out = e;
  return OK;
}

Status env_create(uint32_t parent, Env** out) {
  uint32_t i = 1;  // index 0 unused so that id 0 means "nobody"
  while (i < kMaxEnvs && env_table[i].state != ENV_FREE) i++;
  if (i == kMaxEnvs) return ERR_NO_RESOURCES;
  Env* e = &envs[i];
  uint32_t id = (generation[i] << kEnvIndexBits) | i;

  *e->info = EnvInfo{};  // before the PML4 is counted in it
  uint64_t pml4;
  Status s = frame_alloc_zeroed(kAnyFrame, id, FRAME_PAGETABLE, &pml4);
  if (s != OK) return s;

  e->id = id;
  e->xhandler = e->xstack_top = e->xstack_bottom = 0;
  e->tf = arch::TrapFrame{};
  e->tf.cs = USER_CS;
  e->tf.ss = USER_DS;
  e->tf.rflags = 0x202;  // IF
  e->fs_base = 0;
  e->ds = e->es = e->fs = e->gs = 0;
  e->pml4_pa = pml4 * kPageSize;
  e->pcid = features.pcid ? i + 1 : 0;
  e->cr3 = e->pml4_pa | e->pcid;
  e->tlb_stale = true;  // a reused PCID may still tag old translations
  for (auto& b : e->fpu) b = 0;
  reinterpret_cast<uint16_t*>(e->fpu)[0] = 0x37F;             // FCW: default
  reinterpret_cast<uint32_t*>(e->fpu)[6] = 0x1F80;            // MXCSR: default
  e->prologue_entry = e->epilogue_entry = 0;
  e->needs_prologue = false;
  e->consecutive_overruns = 0;
  e->pct_entry = e->pct_stack = 0;
  e->recv = RECV_NONE;
  e->waiting_on = e->reply_to = 0;
  e->reclaim_count = 0;
  e->reclaim_notified = false;
  repossession[i] = RepossessionVector{};
  e->caps.clear_all();
  e->caps.put(kSelfSlot, core::Capability{CAP_ENV, kRightsAll, 0, id, 0});
  e->info->id = id;
  e->info->state = ENV_NEW;
  e->info->parent = parent;

  uint64_t* t = phys_to_virt<uint64_t>(e->pml4_pa);
  const uint64_t* k = phys_to_virt<uint64_t>(kernel_pml4_pa);
  for (int j = 256; j < 512; j++) t[j] = k[j];
  t[kKernelTablesPml4Slot] = ktables_pdpt_pa | PTE_P | PTE_U | PTE_NX;
  t[kRecursivePml4Slot] = e->pml4_pa | PTE_P | PTE_U | PTE_NX;  // read-only view
  *out = e;
  return OK;
}

void env_set_start(Env* e, uint64_t rip, uint64_t rsp, uint64_t arg) {
  e->tf.rip = rip;
  e->tf.rsp = rsp;
  e->tf.rdi = arg;
  e->tf.rsi = e->id;
}

namespace {

// Drops the reverse-map records of every user mapping of a dying env.
void drop_rmaps(Env* e) {
  uint64_t* pml4 = phys_to_virt<uint64_t>(e->pml4_pa);
  for (uint64_t i4 = 0; i4 < kKernelTablesPml4Slot; i4++) {
    if (!(pml4[i4] & PTE_P)) continue;
    uint64_t* pdpt = phys_to_virt<uint64_t>(pml4[i4] & PTE_ADDR);
    for (uint64_t i3 = 0; i3 < 512; i3++) {
      if (!(pdpt[i3] & PTE_P)) continue;
      uint64_t* pd = phys_to_virt<uint64_t>(pdpt[i3] & PTE_ADDR);
      for (uint64_t i2 = 0; i2 < 512; i2++) {
        if (!(pd[i2] & PTE_P)) continue;
        uint64_t* pt = phys_to_virt<uint64_t>(pd[i2] & PTE_ADDR);
        for (uint64_t i1 = 0; i1 < 512; i1++) {
          if (!(pt[i1] & PTE_P)) continue;
          uint64_t va = (i4 << 39) | (i3 << 30) | (i2 << 21) | (i1 << 12);
          rmaps.remove(frames, (pt[i1] & PTE_ADDR) / kPageSize, e->id, va);
        }
      }
    }
  }
}

}  // namespace

void env_destroy(Env* e) {
  // Its children go with it: nobody else may hold a capability to them, and
  // an env no one can name would keep its frames forever.
  uint32_t id = e->id;
  e->info->state = ENV_DYING;  // its capabilities no longer resolve
  for (Env& child : envs)
    if (child.id && child.info->parent == id && child.info->state != ENV_DYING) env_destroy(&child);
  if (cpu0.current == e) {
    write_cr3(kernel_pml4_pa);  // its page tables are about to be freed
    cpu0.current = nullptr;
  }
  sched_env_gone(e);
  drop_rmaps(e);
  for (uint32_t pfn; (pfn = frames.first_owned(e->id)) != core::kNil;) {
    vm_unmap_frame_everywhere(pfn, 0);
    frames.free(pfn);
  }
  e->caps.clear_all();
  e->recv = RECV_NONE;
  e->waiting_on = e->reply_to = 0;
  uint32_t i = env_index(e->id);
  *e->info = EnvInfo{};
  e->id = 0;
  // A generation is never reused: a slot whose generations are spent is
  // retired for good, so no stale env capability can ever name a new env.
  if (++generation[i] >= (1u << (32 - kEnvIndexBits))) {
    e->info->state = ENV_RETIRED;
    kprintf("veneer: env slot %u retired (generations exhausted)\n", i);
  }
}

}  // namespace veneer
