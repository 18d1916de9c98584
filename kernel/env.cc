#include "kernel/env.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/core/env_ids.h"
#include "kernel/ioports.h"
#include "kernel/irq.h"
#include "kernel/netif.h"
#include "kernel/memory.h"
#include "kernel/vm.h"

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
  io_ports_open = nullptr;  // (the hosted kernel boots again and again)
}

Status env_create(Env* creator, Env** out) {
  uint32_t i = 1;  // index 0 unused so that id 0 means "nobody"
  while (i < kMaxEnvs && env_table[i].state != ENV_FREE) i++;
  if (i == kMaxEnvs) return ERR_NO_RESOURCES;
  if (creator && !accounts.can_charge(creator->id, RES_ENVS, 1)) return ERR_QUOTA;
  Env* e = &envs[i];
  uint32_t id = core::make_env_id(generation[i], i);

  // The account first: the PML4 is charged to it.
  *e->info = EnvInfo{};
  e->info->id = id;
  if (creator) {
    accounts.join(id, creator->id);
  } else {
    // The first env's account holds everything.
    const uint32_t limits[kResources] = {static_cast<uint32_t>(frames.nframes()), kMaxEnvs - 1, kSlices};
    accounts.open_root(id, limits);
  }
  uint64_t pml4;
  if (Status s = frame_alloc_zeroed(kAnyFrame, id, FRAME_PAGETABLE, &pml4); s != OK) {
    accounts.leave(id);
    *e->info = EnvInfo{};
    return s;
  }

  e->id = id;
  e->xhandler = e->xstack_top = e->xstack_bottom = e->xframe_end = 0;
  e->tf = arch::TrapFrame{};
  e->tf.cs = USER_CS;
  e->tf.ss = USER_DS;
  e->tf.rflags = 0x202;  // IF
  e->fs_base = 0;
  e->segments = {};
  e->pml4_pa = pml4 * kPageSize;
  vm_forget_leaf(e);
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
  e->pct_slow = 0;
  for (uint64_t r = 0; r < kMaxIoPortRanges; r++) e->io_first[r] = e->io_count[r] = 0;
  e->irq_lines = e->irq_pending = 0;
  e->recv = RECV_NONE;
  e->waiting_on = e->reply_to = 0;
  e->reclaim_count = 0;
  e->reclaim_notified = false;
  repossession[i] = RepossessionVector{};
  e->caps.clear_all();
  e->caps.put(kSelfSlot, core::Capability{CAP_ENV, kRightsAll, 0, id, 0});
  e->info->state = ENV_NEW;
  e->info->parent = creator ? creator->id : 0;

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

void env_destroy(Env* e) {
  // Its children go with it: nobody else may hold a capability to them, and
  // an env no one can name would keep its frames forever.
  uint32_t id = e->id;
  bool root = e->info->parent == 0;
  e->info->state = ENV_DYING;  // its capabilities no longer resolve
  for (Env& child : envs)
    if (child.id && child.info->parent == id && child.info->state != ENV_DYING) env_destroy(&child);
  if (cpu0.current == e) {
    write_cr3(kernel_pml4_pa);  // its page tables are about to be freed
    cpu0.current = nullptr;
  }
  if (io_ports_open == e) io_ports_switch(nullptr);
  for (uint64_t r = 0; r < kMaxIoPortRanges; r++) e->io_count[r] = 0;
  irq_env_gone(e);
  netif_env_gone(e);
  sched_env_gone(e);
  // Time proportional to what it holds: its mappings (each record unlinked
  // in O(1)), then its frames, each unmapped wherever others map it.
  // Frames that others hold (RIGHT_HOLD) pass to one of them; the rest are
  // freed.
  vm_teardown(e);
  for (uint32_t pfn; (pfn = frames.first_owned(id)) != core::kNil;) {
    if (frames.info(pfn).mappings) {
      if (Env* heir = vm_frame_holder(pfn)) {
        frames.transfer(pfn, heir->id);
        continue;
      }
      vm_unmap_frame_everywhere(pfn, 0);
    }
    frames.free(pfn);
  }
  e->caps.clear_all();
  e->recv = RECV_NONE;
  e->waiting_on = e->reply_to = 0;
  accounts.leave(id);
  uint32_t i = env_index(id);
  *e->info = EnvInfo{};
  e->id = 0;
  // A generation is never reused: a slot whose generations are spent is
  // retired for good, so no stale env capability can ever name a new env.
  if (!core::generation_usable(++generation[i], i)) {
    e->info->state = ENV_RETIRED;
    kprintf("veneer: env slot %u retired (generations exhausted)\n", i);
  }
  if (root) {
    // init is gone and nothing is left to run: say so instead of idling.
    kprintf("veneer: init (env %x) is gone, and every env with it; powering off\n", id);
    machine_exit(kPoweroffInitGone);
  }
}

}  // namespace veneer
