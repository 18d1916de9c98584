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
  uint16_t ds, es, fs, gs;

  uint64_t pml4_pa;
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

  alignas(16) uint8_t fpu[512];  // fxsave area
  core::CapTable caps;
};
enum PctSlow : uint32_t {
  PCT_SLOW_TLS = 1,    // it has an FS base to switch
  PCT_SLOW_GRACE = 2,  // it is in its epilogue's grace period
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
Env* env_from_id(uint32_t id);
// Resolves an ENV capability in `caller`'s table that has `rights`.
Status env_from_cap(Env* caller, uint64_t slot, uint8_t rights, Env** out);
// Sets the registers an env starts with.
void env_set_start(Env* e, uint64_t rip, uint64_t rsp, uint64_t arg);

// ---- Address spaces (kernel/vm.cc) -------------------------------------------
// Every function below expects validated arguments (decode first, then invoke).
// Software PTE bits: the most a later page_protect may grant, fixed by the
// capability (or ownership) presented when the binding was made.
constexpr uint64_t PTE_MAY_WRITE = 1ull << 9;
constexpr uint64_t PTE_MAY_EXEC = 1ull << 10;
// The binding holds its frame (it was made with RIGHT_HOLD): abi.h.
constexpr uint64_t PTE_HOLD = 1ull << 11;
constexpr uint64_t kPteBindingBits = PTE_MAY_WRITE | PTE_MAY_EXEC | PTE_HOLD;
// The binding bits a frame reference with `rights` allows.
constexpr uint64_t vm_may_bits(uint8_t rights) {
  return ((rights & RIGHT_WRITE) ? PTE_MAY_WRITE : 0) | ((rights & RIGHT_EXEC) ? PTE_MAY_EXEC : 0) |
         ((rights & RIGHT_HOLD) ? PTE_HOLD : 0);
}
// Whether page_protect may give this mapping `perms`.
inline bool vm_perms_allowed(uint64_t pte, uint64_t perms) {
  return !((perms & PERM_WRITE) && !(pte & PTE_MAY_WRITE)) && !((perms & PERM_EXEC) && !(pte & PTE_MAY_EXEC));
}
// The leaf PTE for va, or nullptr when no page table reaches it.
uint64_t* vm_pte(Env* e, uint64_t va);
// Counts the frames that page tables for a run of ascending addresses still
// need, each missing table once: a PDPT or PD one frame, a leaf table three
// (itself and the two reverse-map link frames beside it).
class TableCount {
 public:
  explicit TableCount(Env* e) : e_(e) {}
  void add(uint64_t va);
  uint64_t frames() const { return n_; }

 private:
  Env* e_;
  uint64_t n_ = 0;
  uint64_t counted_[3] = {~0ull, ~0ull, ~0ull};  // last region counted new, per level (PT, PD, PDPT)
};
inline uint64_t vm_tables_missing(Env* e, uint64_t va) {
  TableCount c(e);
  c.add(va);
  return c.frames();
}
// Whether `count` frames can be given to e: free, and within its account
// (ERR_NO_MEMORY, ERR_QUOTA). Table building after a successful check
// cannot fail.
Status vm_reserve(Env* e, uint64_t count);
// The leaf PTE for va, building what vm_tables_missing counted.
uint64_t* vm_pte_create(Env* e, uint64_t va);
// Binds pfn at va through its (leaf) PTE: a new reverse-map record, or the
// old one moved when the PTE pointed elsewhere.
void vm_map_pte(Env* e, uint64_t va, uint64_t* pte, uint64_t pfn, uint64_t perms, uint64_t may);
Status vm_unmap_pte(Env* e, uint64_t va, uint64_t* pte);
// Rewrites a present PTE's permissions (the caller checked vm_perms_allowed);
// never makes an absent one present.
void vm_protect_pte(Env* e, uint64_t va, uint64_t* pte, uint64_t perms);
// The same for one address, tables built as needed (boot code).
Status vm_map(Env* e, uint64_t va, uint64_t pfn, uint64_t perms, uint64_t may);
Status vm_protect(Env* e, uint64_t va, uint64_t perms);
// Finds PTEs for a run of ascending addresses, walking the tables once per
// 2 MiB region instead of once per page.
class PteCursor {
 public:
  explicit PteCursor(Env* e) : e_(e) {}
  uint64_t* find(uint64_t va);
  uint64_t* create(uint64_t va);  // after vm_reserve

 private:
  Env* e_;
  uint64_t region_ = ~0ull;
  uint64_t* pt_ = nullptr;
};
// Removes every mapping of `pfn` except those in env `keep` (0: none).
void vm_unmap_frame_everywhere(uint64_t pfn, uint32_t keep);
// A live env (not dying) that holds `pfn` through a mapping and whose
// account has room for one more frame, or nullptr.
Env* vm_frame_holder(uint64_t pfn);
// A dying env: drops the reverse-map records of its whole address space
// (its tables are freed with its other frames).
void vm_teardown(Env* e);
// Repossession: frees up to `want` of e's page-table frames, leaf tables
// (with their link frames, unmapping what they map) before the upper tables
// they empty; the PML4 stays. Calls taken(e, pfn) for each frame; returns
// how many it freed.
uint64_t vm_reclaim_tables(Env* e, uint64_t want, void (*taken)(Env*, uint64_t pfn));
// Copies from the env's user memory; ERR_BAD_ADDRESS unless every byte is
// mapped user-readable.
Status copy_from_user(Env* e, void* dst, uint64_t va, uint64_t len);
Status copy_to_user(Env* e, uint64_t va, const void* src, uint64_t len);

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
