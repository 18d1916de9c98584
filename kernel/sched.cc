// The CPU as a vector of time slices, with visible revocation of the CPU
// (epilogue/prologue upcalls) and the abort protocol.
//
// Each position of the slice vector is one LAPIC one-shot period. At the end
// of a slice, an env that registered an epilogue entry is upcalled there and
// given a grace period to save what it needs and yield; if it does not, the
// kernel saves its context by force, counts the overrun where the env can see
// it, and after kMaxOverruns in a row takes its slices away. An env stopped at
// a slice end starts its next slice in its prologue entry, if it has one.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/core/slice_vector.h"
#include "kernel/env.h"
#include "kernel/ioports.h"
#include "kernel/irq.h"
#include "kernel/lapic.h"
#include "kernel/memory.h"
#include "kernel/vm.h"

namespace veneer {

using namespace arch;

namespace {

core::Slices slices;
uint64_t slice_ns, grace_ns;

// The env whose epilogue upcall is running, until it gives up the CPU (any
// way: yield, pct_wait, a transfer, a directed yield) or its grace ends.
Env* in_grace;

void enter_grace(Env* e) {
  in_grace = e;
  e->pct_slow |= PCT_SLOW_GRACE;
  e->epilogue_tsc = rdtsc();
}
void leave_grace() {
  in_grace->pct_slow &= ~PCT_SLOW_GRACE;
  in_grace = nullptr;
}

// The env in its grace period released the CPU in time.
void grace_answered() {
  if (!in_grace) return;
  in_grace->consecutive_overruns = 0;
  in_grace->needs_prologue = true;
  leave_grace();
}
uint64_t boot_tsc, tsc_per_slice;

// KernelInfo.ticks is time, in slice lengths since boot, read from the TSC:
// envs that yield early do not stretch it.
void update_clock() {
  kernel_info->ticks = (rdtsc() - boot_tsc) / tsc_per_slice;
}

// The env that runs when `owner`'s slice comes up: the owner itself, or, when
// it is blocked in a synchronous transfer, the env it donated the slice to.
Env* resolve(uint32_t owner) {
  Env* e = env_from_id(owner);
  for (uint32_t hops = 0; e && hops < kMaxEnvs; hops++) {
    if (e->info->state == ENV_RUNNABLE) return e;
    if (e->recv != RECV_RETURN || !e->waiting_on) return nullptr;
    e = env_from_id(e->waiting_on);
  }
  return nullptr;
}

bool can_run(uint32_t owner) { return resolve(owner) != nullptr; }

// CPU time is charged at every switch by env_run to the env switched out.
// (A protected control transfer does not switch accounts: the donee's time
// is charged to whoever env_run switches out next.)
uint64_t run_start_tsc;
void account_out(Env* e) {
  uint64_t now = rdtsc();
  if (e) e->info->cpu_tsc += now - run_start_tsc;
  run_start_tsc = now;
}

// The user CPU state besides the general registers: SSE/x87 and the data
// segment selectors, which the next env must not see. A protected control
// transfer hands them over instead of switching them.
void save_user_state(Env* e) {
  fpu_save(e->fpu);
  save_segments(&e->segments);
}
void load_user_state(Env* e) {
  fpu_restore(e->fpu);
  load_segments(&e->segments);
}

// Switches address space and current env; `handover` (a protected control
// transfer) leaves SSE state and selectors as the sender had them. The FS
// base (TLS) is always the env's own: only env_set_fs_base changes it, so
// the kernel's copy is current.
void switch_to(Env* e, bool handover) {
  Env* prev = cpu0.current;
  if (prev == e && !e->tlb_stale) return;
  if (prev != e) {
    account_out(prev);
    if (!handover) {
      if (prev) save_user_state(prev);
      load_user_state(e);
    }
    wrmsr(MSR_FS_BASE, e->fs_base);  // after the fs load, which may reset it
    // I/O ports: two tests in the common case, where no env has any open.
    if (io_ports_open || (e->pct_slow & PCT_SLOW_PORTS)) [[unlikely]] io_ports_switch(e);
    set_entry_stack(reinterpret_cast<uint64_t>(&e->tf + 1));  // its traps are saved in its TrapFrame
    cpu0.current = e;
    e->info->runs++;
    slice_table->running = e->id;
  }
  uint64_t cr3 = e->cr3;
  if (e->pcid && !e->tlb_stale && prev != e) cr3 |= 1ull << 63;  // keep this PCID's translations
  write_cr3(cr3);
  e->tlb_stale = false;
}

// The abort protocol for memory: takes `count` frames from e by force,
// data frames first, then page tables (with what they map), so no way of
// holding memory escapes revocation. Each is recorded in e's repossession
// vector.
void record_repossessed(Env* e, uint64_t pfn) {
  RepossessionVector& rv = repossession[env_index(e->id)];
  rv.pfns[rv.count % kRepossessionSlots] = pfn;
  rv.count++;
  e->info->repossessed++;
}

void repossess(Env* e, uint64_t count) {
  uint32_t pfn = frames.first_owned(e->id);
  while (count && pfn != core::kNil) {
    uint32_t next = frames.next_owned(pfn);
    if (frames.info(pfn).kind == FRAME_USER) {
      vm_unmap_frame_everywhere(pfn, 0);
      frames.free(pfn);
      record_repossessed(e, pfn);
      count--;
    }
    pfn = next;
  }
  if (count) vm_reclaim_tables(e, count, record_repossessed);
}

// Visible revocation of memory: satisfied, or past its deadline. Most of
// the time none is pending and this costs one compare.
uint32_t reclaims_pending;
void check_reclaims() {
  if (!reclaims_pending) return;
  reclaims_pending = 0;
  for (Env& e : envs) {
    if (!e.reclaim_count || e.info->state == ENV_FREE) continue;
    if (e.info->frames <= e.reclaim_target) {
      e.reclaim_count = 0;
    } else if (kernel_info->ticks >= e.reclaim_deadline) {
      uint64_t missing = e.info->frames - e.reclaim_target;
      kprintf("veneer: env %x kept %lu of %lu frames past its deadline; repossessing\n", e.id, missing,
              e.reclaim_count);
      repossess(&e, missing);
      e.reclaim_count = 0;
    }
    e.info->reclaim_asked = e.reclaim_count;
    if (e.reclaim_count) reclaims_pending++;
  }
}

// Runs e at the start of a slice: prologue and reclaim upcalls first.
[[noreturn]] void start_slice(Env* e) {
  if (e->needs_prologue && e->prologue_entry)
    deliver_upcall(e, kVecSliceStart, 0, 0, e->prologue_entry);
  e->needs_prologue = false;
  if (e->reclaim_count && !e->reclaim_notified && e->xhandler) {
    deliver_upcall(e, kVecReclaim, e->reclaim_count, e->reclaim_deadline, e->xhandler);
    e->reclaim_notified = true;
  }
  if (e->irq_pending) irq_deliver(e);  // lines that fired while it was not running
  env_run(e);
}

}  // namespace

void sched_init(uint64_t slice, uint64_t grace) {
  in_grace = nullptr;
  reclaims_pending = 0;
  slice_ns = slice;
  grace_ns = grace;
  boot_tsc = rdtsc();
  tsc_per_slice = tsc_hz() * slice / 1000000000ull;
  if (!tsc_per_slice) tsc_per_slice = 1;
  slices.init(slice_table);
  slice_table->slice_ns = slice;
  slice_table->grace_ns = grace;
}

Env* current_env() { return cpu0.current; }

// Slice positions are charged to the holder's account like frames.
Status sched_slice_alloc(Env* e, uint64_t position) {
  if (position < kSlices && slices.owner(position) == kNoOwner && !accounts.can_charge(e->id, RES_SLICES, 1))
    return ERR_QUOTA;
  Status s = slices.alloc(position, e->id);
  if (s == OK) {
    e->info->slices_held++;
    accounts.charge(e->id, RES_SLICES, 1);
  }
  return s;
}

Status sched_slice_free(Env* e, uint64_t position) {
  Status s = slices.free(position, e->id);
  if (s == OK) {
    e->info->slices_held--;
    accounts.uncharge(e->id, RES_SLICES, 1);
  }
  return s;
}

namespace {
// Takes every position e holds (its death, or the abort protocol).
uint32_t take_all_slices(Env* e) {
  uint32_t n = slices.free_all(e->id);
  e->info->slices_held -= n;
  accounts.uncharge(e->id, RES_SLICES, n);
  return n;
}
}  // namespace

void env_run(Env* e) {
  switch_to(e, false);
  env_pop_tf(&e->tf);
}

void env_transfer(Env* e) {
  if (cpu0.current && (cpu0.current->pct_slow & PCT_SLOW_GRACE)) {
    // The sender is in its epilogue's grace period: handing the CPU over
    // answers the upcall, but the slice ends here; e runs in a later slice
    // (with the state the transfer hands it). So a grace period cannot be
    // spent by a helper: it is not CPU time to give away.
    save_user_state(e);
    schedule();
  }
  switch_to(e, true);
  env_pop_tf(&e->tf);
}

void env_run_donated(Env* e) {
  if (cpu0.current && (cpu0.current->pct_slow & PCT_SLOW_GRACE)) schedule();  // as env_transfer says
  env_run(e);
}

void schedule() {
  grace_answered();
  update_clock();
  check_reclaims();
  for (;;) {
    uint32_t p = slices.next(slice_table->current, can_run);
    lapic_arm(slice_ns);
    if (p != core::kNoSlice) {
      slice_table->current = p;
      start_slice(resolve(slices.owner(p)));
    }
    // Nothing can run: idle with interrupts on until the next slice.
    account_out(cpu0.current);
    if (cpu0.current) save_user_state(cpu0.current);
    cpu0.current = nullptr;
    io_ports_switch(nullptr);  // nobody's ports stay open while idle
    write_cr3(kernel_pml4_pa);
    slice_table->running = 0;
    sti();
    hlt();
    cli();
  }
}

void sched_timer() {
  Env* e = cpu0.current;  // the timer interrupted it: its TrapFrame holds the state
  update_clock();
  check_reclaims();

  if (in_grace && in_grace != e) {
    // The env in its grace period handed the CPU to e (a transfer or a
    // directed yield): that answers the upcall, and the slice is over for e
    // too, with no new upcall, so grace periods cannot be passed around to
    // keep the slice vector from turning.
    grace_answered();
    e->needs_prologue = true;
    schedule();
  }
  if (in_grace == e) {
    // Abort protocol: the grace period is over and the env has not yielded.
    leave_grace();
    e->needs_prologue = true;
    e->info->overruns++;
    e->info->last_overrun_tsc = rdtsc() - e->epilogue_tsc;
    if (++e->consecutive_overruns >= kMaxOverruns) {
      uint32_t lost = take_all_slices(e);
      e->info->slices_lost += lost;
      kprintf("veneer: env %x overran %u epilogues in a row; took its %u slices\n", e->id,
              e->consecutive_overruns, lost);
    }
    schedule();
  }

  e->info->slices_run++;
  uint32_t p = slices.next(slice_table->current, can_run);
  if (p != core::kNoSlice && resolve(slices.owner(p)) == e) {
    // The next slice is ours too: no revocation, keep running.
    slice_table->current = p;
    lapic_arm(slice_ns);
    env_run(e);
  }
  if (e->epilogue_entry && deliver_upcall(e, kVecSliceEnd, 0, 0, e->epilogue_entry)) {
    enter_grace(e);
    lapic_arm(grace_ns);
    env_run(e);
  }
  e->needs_prologue = true;
  schedule();
}

bool deliver_upcall(Env* e, uint64_t vector, uint64_t code, uint64_t addr, uint64_t entry) {
  if (!e->xstack_top) return false;
  uint64_t top = e->xstack_top;
  if (e->tf.rsp < e->xstack_top && e->tf.rsp >= e->xstack_bottom)
    top = (e->tf.rsp - kNestGap) & ~15ull;  // nest below the handler's frame
  uint64_t at = top - kExceptionFrameSlot;
  if (at < e->xstack_bottom) return false;
  const ExceptionFrame f{vector, code, addr, e->tf.rip, e->tf.rflags, e->tf.rsp, e->tf.rax, e->tf.rcx, e->tf.rdx};
  if (auto* in_place = static_cast<ExceptionFrame*>(vm_user_page(e, at, sizeof(f), true)))
    *in_place = f;  // the usual case: the frame lies in one page
  else if (copy_to_user(e, at, &f, sizeof(f)) != OK)
    return false;
  e->tf.rip = entry;
  e->tf.rsp = at;
  e->tf.rflags &= ~kHandlerClearedFlags;
  return true;
}

void sched_env_gone(Env* e) {
  if (in_grace == e) leave_grace();
  take_all_slices(e);
  e->reclaim_count = 0;
  for (Env& w : envs) {
    if (&w != e && w.recv == RECV_RETURN && w.waiting_on == e->id && w.info->state == ENV_BLOCKED) {
      // Its partner died: the pending pct_sync fails instead of hanging.
      w.waiting_on = 0;
      w.recv = RECV_NONE;
      w.tf.rax = static_cast<uint64_t>(ERR_STALE_CAP);
      w.info->state = ENV_RUNNABLE;
    }
  }
}

Status sched_reclaim(Env* e, uint64_t count, uint64_t deadline_slices) {
  if (count == 0 || count > e->info->frames || deadline_slices == 0 || deadline_slices > 10000)
    return ERR_INVALID_ARGS;
  e->reclaim_count = count;
  e->reclaim_target = e->info->frames - count;
  e->reclaim_deadline = kernel_info->ticks + deadline_slices;
  e->reclaim_notified = false;
  e->info->reclaim_asked = count;
  reclaims_pending++;
  return OK;
}

}  // namespace veneer
