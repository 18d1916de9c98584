// Address spaces (kernel/vm.cc): the secure bindings for memory. The system
// call layer checks a capability (or ownership) once, when a binding is
// made; from then on the MMU enforces it. Every function here expects
// validated arguments (decode first, then invoke).
//
// The hot paths (finding a PTE, binding, unbinding, protecting) are inline:
// each env caches its last leaf page table, so a run of calls on one 2 MiB
// region walks the tables once.
#pragma once

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/env.h"
#include "kernel/memory.h"

namespace veneer {

// Software PTE bits: the most a later page_protect may grant, fixed by the
// capability (or ownership) presented when the binding was made.
constexpr uint64_t PTE_MAY_WRITE = 1ull << 9;
constexpr uint64_t PTE_MAY_EXEC = 1ull << 10;
// The binding holds its frame (it was made with RIGHT_HOLD): abi.h.
constexpr uint64_t PTE_HOLD = 1ull << 11;
constexpr uint64_t kPteBindingBits = PTE_MAY_WRITE | PTE_MAY_EXEC | PTE_HOLD;
// What a protection change keeps: the frame, the binding, accessed and dirty.
constexpr uint64_t kPteKeptByProtect = arch::PTE_ADDR | kPteBindingBits | arch::PTE_A | arch::PTE_D;
// More pages than this changed at once are flushed from the TLB with one
// CR3 reload instead of an invlpg each (Linux's ceiling is 33).
constexpr uint64_t kInvlpgCeiling = 32;

// The binding bits a frame reference with `rights` allows.
constexpr uint64_t vm_may_bits(uint8_t rights) {
  return ((rights & RIGHT_WRITE) ? PTE_MAY_WRITE : 0) | ((rights & RIGHT_EXEC) ? PTE_MAY_EXEC : 0) |
         ((rights & RIGHT_HOLD) ? PTE_HOLD : 0);
}
// The binding bits a mapping needs before page_protect may give it `perms`.
constexpr uint64_t vm_may_needed(uint64_t perms) {
  return ((perms & PERM_WRITE) ? PTE_MAY_WRITE : 0) | ((perms & PERM_EXEC) ? PTE_MAY_EXEC : 0);
}
// Whether page_protect may give this mapping `perms`.
constexpr bool vm_perms_allowed(uint64_t pte, uint64_t perms) {
  return (pte & vm_may_needed(perms)) == vm_may_needed(perms);
}
// The hardware bits (and library OS marks) of a present user leaf with
// `perms` (valid ones): write and execute by table lookup.
constexpr uint64_t kLeafBits[4] = {
    arch::PTE_P | arch::PTE_U | arch::PTE_NX,                 // read
    arch::PTE_P | arch::PTE_U | arch::PTE_W | arch::PTE_NX,  // PERM_WRITE
    arch::PTE_P | arch::PTE_U,                                // PERM_EXEC
    arch::PTE_P | arch::PTE_U | arch::PTE_W,                  // both
};
static_assert(PERM_WRITE == 1 && PERM_EXEC == 2);
constexpr uint64_t vm_leaf_bits(uint64_t perms) {
  return kLeafBits[perms & 3] | (perms & kPermUserMask) << (kPteUserShift - kPermUserShift);
}
constexpr uint64_t vm_index(uint64_t va, int level) { return (va >> (12 + 9 * level)) & 511; }
constexpr uint64_t vm_pfn(uint64_t entry) { return (entry & arch::PTE_ADDR) / kPageSize; }
constexpr uint64_t vm_region(uint64_t va) { return va >> 21; }  // the 2 MiB a leaf table covers
// The reverse-map record of a leaf PTE, (table frame << 9) | index, is its
// physical address divided by 8.
inline core::Rid vm_rid(const uint64_t* pte) { return virt_to_phys(pte) >> 3; }

// The leaf PTE for va, or nullptr when no page table reaches it. The cached
// leaf first; vm_pte_walk walks the tables and caches what it finds. The
// kernel calls it through vm_pte_walk_preserving (kernel/arch/x86_64/
// vm_walk.S), which saves every register, so an inline fast path that may
// miss saves none of its own: a system call whose leaf is cached runs
// without a stack frame.
uint64_t* vm_pte_walk(Env* e, uint64_t va) asm("veneer_vm_pte_walk");
inline uint64_t* vm_pte(Env* e, uint64_t va) {
  if (vm_region(va) == e->leaf_region) return e->leaf_pt + vm_index(va, 0);
#ifdef VENEER_HOSTED
  return vm_pte_walk(e, va);
#else
  uint64_t* pte;
  asm volatile("call vm_pte_walk_preserving" : "=a"(pte) : "D"(e), "S"(va) : "memory", "cc");
  return pte;
#endif
}
// Forgets the cached leaf (its table is being freed).
inline void vm_forget_leaf(Env* e) { e->leaf_region = kNoLeafRegion; }

// A changed PTE leaves the TLB: now if e is the live address space, at its
// next switch otherwise.
inline void vm_flush(Env* e, uint64_t va) {
  if (arch::cpu0.current == e) arch::invlpg(va);
  else e->tlb_stale = true;
}
// Many entries at once: one full flush.
inline void vm_flush_all(Env* e) {
  if (arch::cpu0.current == e) arch::write_cr3(e->cr3);
  else e->tlb_stale = true;
}

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
  if (vm_pte(e, va)) return 0;
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
inline void vm_map_pte(Env* e, uint64_t va, uint64_t* pte, uint64_t pfn, uint64_t perms, uint64_t may) {
  const uint64_t entry = pfn * kPageSize | vm_leaf_bits(perms) | may;
  const uint64_t old = *pte;
  if (old & arch::PTE_P) {
    if (vm_pfn(old) != pfn) {  // rebinding the same frame keeps its record
      rmap.remove(vm_pfn(old), vm_rid(pte));
      rmap.insert(pfn, vm_rid(pte));
    }
    *pte = entry;
    vm_flush(e, va);
    return;
  }
  rmap.insert(pfn, vm_rid(pte));
  e->info->mappings++;
  *pte = entry;
}
// Unbinds a present PTE.
inline void vm_unmap_pte(Env* e, uint64_t va, uint64_t* pte) {
  rmap.remove(vm_pfn(*pte), vm_rid(pte));
  e->info->mappings--;
  *pte = 0;
  vm_flush(e, va);
}
// Rewrites a present PTE's permissions (the caller checked vm_perms_allowed).
inline void vm_protect_pte(Env* e, uint64_t va, uint64_t* pte, uint64_t perms) {
  *pte = (*pte & kPteKeptByProtect) | vm_leaf_bits(perms);
  vm_flush(e, va);
}
// The same for one address, tables built as needed (boot code).
Status vm_map(Env* e, uint64_t va, uint64_t pfn, uint64_t perms, uint64_t may);
// Gives every present page of [va, va + count pages) `perms`, skipping pages
// nothing maps; refuses (ERR_ACCESS_DENIED, *denied = the page's index)
// before changing anything if one of them may not have them. Flushes the
// TLB once when more than kInvlpgCeiling pages changed. Returns how many
// pages it changed.
Status vm_protect_range(Env* e, uint64_t va, uint64_t count, uint64_t perms, uint64_t* changed_or_denied);

// Finds PTEs for a run of addresses (the env's cached leaf does the work;
// kept as a name for the pattern).
class PteCursor {
 public:
  explicit PteCursor(Env* e) : e_(e) {}
  uint64_t* find(uint64_t va) { return vm_pte(e_, va); }
  uint64_t* create(uint64_t va) {  // after vm_reserve
    if (uint64_t* pte = vm_pte(e_, va)) return pte;
    return vm_pte_create(e_, va);
  }

 private:
  Env* e_;
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

}  // namespace veneer
