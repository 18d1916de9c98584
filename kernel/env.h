// Environments: the unit of protection. Each holds a processor environment
// (the exception context today; interrupt and protected-entry contexts come
// with the slice vector), an address space and a capability table.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kernel/arch/x86_64/trapframe.h"
#include "kernel/core/cap_table.h"
#include "veneer/abi.h"

namespace veneer {

struct Env {
  // Fields entry.S uses come first (their offsets reach it through the
  // generated kernel/arch/asm_constants.h).
  uint64_t xhandler;       // exception context: user entry, 0 = none
  uint64_t xstack_top;     // exception frames are written below this
  uint64_t xstack_bottom;  // ... and nest while rsp is within [bottom, top)
  uint64_t xframe_end;     // where an outermost frame ends (the fast path pushes down from it)
  uint64_t cr3;            // PML4 physical address | PCID
  EnvInfo* info;           // this env's row in the read-only env table
  uint32_t id;
  uint32_t recv;           // PctRecv: how a protected control transfer enters it
  uint32_t waiting_on;     // env it sync-called and whose transfer back it awaits
  uint32_t reply_to;       // env blocked in a sync call to it (kPctReply target)
  arch::TrapFrame tf;      // user registers while not running
  // The rest of the user CPU state, switched with the env so nothing one env
  // loads is seen by the next: the data segment selectors, and the FS base
  // (thread-local storage), which only env_set_fs_base sets. (The user GS
  // base is always 0: every user descriptor has base 0 and FSGSBASE stays
  // off, so no env can give it another value.)
  uint64_t fs_base;
  arch::SegmentSelectors segments;  // data segment selectors (user-set; switched with the env)

  uint64_t pml4_pa;
  // The leaf page table last found for this address space (kernel/vm.h):
  // the 2 MiB region it covers (kNoLeafRegion: none) and its entries.
  uint64_t leaf_region;
  uint64_t* leaf_pt;
  uint64_t pcid;           // 0 when the CPU has no PCIDs
  bool tlb_stale;          // a PTE changed while another address space was live

  // Interrupt context: upcalls at the start and end of its time slices.
  uint64_t prologue_entry;
  uint64_t epilogue_entry;
  bool needs_prologue;     // stopped at a slice end: next slice starts in the prologue
  uint32_t consecutive_overruns;
  uint64_t epilogue_tsc;   // when the epilogue upcall was delivered

  // Protected-entry context.
  uint64_t pct_entry;
  uint64_t pct_stack;
  // Why a synchronous transfer to or from this env must take the general
  // path (0: the assembly fast path may): one word, so the fast path checks
  // every reason with one compare.
  uint32_t pct_slow;

  // Visible revocation of memory in progress.
  uint64_t reclaim_count;     // frames asked for, 0 = none pending
  uint64_t reclaim_deadline;  // slice tick at which the kernel takes them
  uint64_t reclaim_target;    // frames it must own at most by then
  bool reclaim_notified;

  // I/O ports it may use (ioport_bind): open in the TSS bitmap while it runs.
  uint16_t io_first[kMaxIoPortRanges];
  uint16_t io_count[kMaxIoPortRanges];  // 0: the range is unused
  // Interrupt context: the lines bound to it (irq_bind), and those that
  // fired and await their upcall.
  uint16_t irq_lines;
  uint32_t irq_pending;  // lines, and kNetInterruptBit (abi.h)

  alignas(16) uint8_t fpu[512];  // fxsave area
  core::CapTable caps;
};
constexpr uint64_t kNoLeafRegion = ~0ull;  // no user address is in it
enum PctSlow : uint32_t {
  PCT_SLOW_TLS = 1,    // it has an FS base to switch
  PCT_SLOW_GRACE = 2,  // it is in its epilogue's grace period
  PCT_SLOW_PORTS = 4,  // it has I/O ports to open and close (the fast path keeps the bitmap)
};
// recv: an env is receptive (EnvInfo.state == ENV_BLOCKED) at its return
// point (blocked in pct_sync) or at its entry point (blocked in pct_wait).
enum PctRecv : uint32_t { RECV_NONE = 0, RECV_RETURN = 1, RECV_ENTRY = 2 };
extern Env envs[kMaxEnvs];
extern "C" Env* env_ptr[kMaxEnvs];  // &envs[i], for entry.S

void env_init();
// Creates an env (state NEW) with an empty address space and a self
// capability in slot 0, drawing on its creator's account (nullptr: the
// first env, which gets an account of everything). ERR_NO_RESOURCES (no env
// slot), ERR_QUOTA, ERR_NO_MEMORY.
Status env_create(Env* creator, Env** out);
// Frees everything the env and its descendants hold and unmaps it from
// everyone else, in time proportional to that. When the first env (init)
// goes, the machine powers off.
void env_destroy(Env* e);
// The live env with this id, or nullptr (freed, or a stale generation).
// The live env with this id, or nullptr (a freed slot's id is 0).
inline Env* env_from_id(uint32_t id) {
  Env* e = &envs[env_index(id)];
  if (id == 0 || e->id != id || e->info->state == ENV_FREE) return nullptr;
  return e;
}
// Resolves an ENV capability in `caller`'s table that has `rights`. The env
// is live when its slot still carries the id: a freed slot's id is 0, and
// ids are never reused. (An env is DYING only inside env_destroy, which no
// system call interrupts: the kernel is not preemptible.)
[[gnu::always_inline]] inline Status env_from_cap(Env* caller, uint64_t slot, uint8_t rights, Env** out) {
  core::Capability* c;
  if (Status s = caller->caps.lookup(slot, CAP_ENV, rights, &c); s != OK) return s;
  Env* e = &envs[env_index(c->object)];
  if (e->id != c->object) return ERR_STALE_CAP;
  *out = e;
  return OK;
}
// Sets the registers an env starts with.
void env_set_start(Env* e, uint64_t rip, uint64_t rsp, uint64_t arg);

// ---- Scheduling (kernel/sched.cc) --------------------------------------------
// Starts the slice vector: slices of slice_ns, epilogue grace of grace_ns.
void sched_init(uint64_t slice_ns, uint64_t grace_ns);
Status sched_slice_alloc(Env* e, uint64_t position);
Status sched_slice_free(Env* e, uint64_t position);
// Switches to e (same slice) and returns to user mode in it.
[[noreturn]] void env_run(Env* e);
// The same for a protected control transfer: the SSE state travels with
// control instead of being switched.
[[noreturn]] void env_transfer(Env* e);
// A directed yield to e. From an env in its epilogue's grace period, both
// this and env_transfer end the slice instead: the grace period answers the
// upcall, it is not CPU time to hand to somebody else.
[[noreturn]] void env_run_donated(Env* e);
// Ends the current slice and runs the next position's env (or idles).
[[noreturn]] void schedule();
// The LAPIC slice timer fired while the current env ran (user mode; its
// state is saved in its TrapFrame).
[[noreturn]] void sched_timer();
// Writes an upcall frame for e's saved context on its exception stack and
// points e at `entry`; false if e has no usable exception stack.
bool deliver_upcall(Env* e, uint64_t vector, uint64_t code, uint64_t addr, uint64_t entry);
// Env e is going away: forget its slices and wake whoever waits on it.
void sched_env_gone(Env* e);
// Visible revocation of memory: asks e for `count` frames by `deadline` slices.
Status sched_reclaim(Env* e, uint64_t count, uint64_t deadline_slices);
Env* current_env();

}  // namespace veneer
