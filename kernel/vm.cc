// Secure bindings for memory: the kernel writes page-table entries after the
// system call layer has checked the capability (or ownership); the MMU
// enforces them from then on at full speed. Every present user PTE is one
// reverse-map record (kernel/core/reverse_map.h), so a frame can always be
// unmapped everywhere, in time proportional to its mappings.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/memory.h"
#include "kernel/vm.h"

namespace veneer {

using namespace arch;
using core::Rid;

namespace {

uint64_t* table_of(uint64_t entry) { return phys_to_virt<uint64_t>(entry & PTE_ADDR); }

// A page-table frame for e, zeroed (space reserved by vm_reserve).
uint64_t new_table(Env* e, uint16_t kind) {
  uint64_t pfn;
  if (frame_alloc_zeroed(kAnyFrame, e->id, kind, &pfn) != OK) panic("page table: reserved frame missing");
  return pfn;
}

// Frees a leaf table and its two link frames, unmapping what it maps (the
// caller flushes the TLB).
void free_leaf_table(Env* e, uint64_t* pd_entry, void (*taken)(Env*, uint64_t)) {
  uint64_t pt_pfn = vm_pfn(*pd_entry);
  uint64_t* pt = table_of(*pd_entry);
  vm_forget_leaf(e);
  for (uint64_t i = 0; i < 512; i++) {
    if (!(pt[i] & PTE_P)) continue;
    rmap.remove(vm_pfn(pt[i]), core::make_rid(pt_pfn, i));
    pt[i] = 0;
    e->info->mappings--;
  }
  *pd_entry = 0;
  core::FrameMeta& m = frames.meta(pt_pfn);
  uint64_t freed[3] = {pt_pfn, m.links_next, m.links_prev};
  for (uint64_t pfn : freed) {
    frames.free(pfn);
    if (taken) taken(e, pfn);
  }
}

}  // namespace

uint64_t* vm_pte_walk(Env* e, uint64_t va) {
  uint64_t* t = phys_to_virt<uint64_t>(e->pml4_pa);
  for (int level = 3; level > 0; level--) {
    uint64_t ent = t[vm_index(va, level)];
    if (!(ent & PTE_P)) return nullptr;
    t = table_of(ent);
  }
  e->leaf_region = vm_region(va);
  e->leaf_pt = t;
  return &t[vm_index(va, 0)];
}

void TableCount::add(uint64_t va) {
  constexpr uint64_t kCost[] = {3, 1, 1};  // a missing entry at level 1, 2, 3 needs this many frames
  uint64_t* t = phys_to_virt<uint64_t>(e_->pml4_pa);
  for (int level = 3; level > 0; level--) {
    uint64_t ent = t[vm_index(va, level)];
    if (ent & PTE_P) {
      t = table_of(ent);
      continue;
    }
    for (int l = level; l > 0; l--) {
      uint64_t region = va >> (12 + 9 * l);
      if (counted_[l - 1] != region) n_ += kCost[l - 1], counted_[l - 1] = region;
    }
    return;
  }
}

Status vm_reserve(Env* e, uint64_t count) {
  if (count > frames.free_count()) return ERR_NO_MEMORY;
  if (!accounts.can_charge(e->id, RES_FRAMES, count)) return ERR_QUOTA;
  return OK;
}

uint64_t* vm_pte_create(Env* e, uint64_t va) {
  uint64_t* t = phys_to_virt<uint64_t>(e->pml4_pa);
  for (int level = 3; level > 0; level--) {
    uint64_t& ent = t[vm_index(va, level)];
    if (!(ent & PTE_P)) {
      uint64_t pfn = new_table(e, FRAME_PAGETABLE);
      if (level == 1) {
        // A leaf table: its entries' reverse-map links live beside it.
        core::FrameMeta& m = frames.meta(pfn);
        m.links_next = static_cast<uint32_t>(new_table(e, FRAME_RMAP));
        m.links_prev = static_cast<uint32_t>(new_table(e, FRAME_RMAP));
        m.table_va = va & ~((1ull << 21) - 1);
      }
      // Intermediate levels allow everything; the leaf decides.
      ent = pfn * kPageSize | PTE_P | PTE_W | PTE_U;
    }
    t = table_of(ent);
  }
  e->leaf_region = vm_region(va);
  e->leaf_pt = t;
  return &t[vm_index(va, 0)];
}

Status vm_map(Env* e, uint64_t va, uint64_t pfn, uint64_t perms, uint64_t may) {
  if (Status s = vm_reserve(e, vm_tables_missing(e, va)); s != OK) return s;
  vm_map_pte(e, va, vm_pte_create(e, va), pfn, perms, may);
  return OK;
}

namespace {
// vm_protect_range's record of the entries it rewrote, in order, so that a
// grant refused part-way can put them back (one CPU, kernel not preemptible).
uint64_t protect_saved[kMaxPageBatch];

constexpr uint64_t region_stop(uint64_t at, uint64_t end) {
  return (vm_region(at) + 1) << 21 < end ? (vm_region(at) + 1) << 21 : end;
}

// Puts back the first `n` present entries of [va, ...) from protect_saved.
void protect_undo(Env* e, uint64_t va, uint64_t n) {
  uint64_t k = 0;
  for (uint64_t at = va; k < n;) {
    const uint64_t stop = region_stop(at, ~0ull);
    if (uint64_t* pte = vm_pte(e, at))
      for (; at < stop && k < n; pte++, at += kPageSize)
        if (*pte & PTE_P) *pte = protect_saved[k++];
    at = stop;
  }
}
}  // namespace

// One pass over each leaf table of the range. A grant (write, execute)
// checks each page's binding as it goes and, refused, puts back what it
// changed: cheaper than a separate checking pass, since refusals are rare.
Status vm_protect_range(Env* e, uint64_t va, uint64_t count, uint64_t perms, uint64_t* changed_or_denied) {
  const uint64_t end = va + count * kPageSize;
  const uint64_t need = vm_may_needed(perms), bits = vm_leaf_bits(perms);
  uint64_t changed = 0;
  for (uint64_t at = va; at < end;) {
    const uint64_t stop = region_stop(at, end);
    if (uint64_t* pte = vm_pte(e, at)) {
      uint64_t* const last = pte + (stop - at) / kPageSize;
      if (need) {
#pragma GCC unroll 4
        for (; pte < last; pte++) {
          const uint64_t old = *pte;
          if (!(old & PTE_P)) continue;
          if ((old & need) != need) {
            protect_undo(e, va, changed);
            *changed_or_denied = (stop - va) / kPageSize - (last - pte);
            return ERR_ACCESS_DENIED;
          }
          protect_saved[changed++] = old;
          *pte = (old & kPteKeptByProtect) | bits;
        }
      } else {
#pragma GCC unroll 4
        for (; pte < last; pte++) {
          const uint64_t old = *pte;
          if (!(old & PTE_P)) continue;
          *pte = (old & kPteKeptByProtect) | bits;
          changed++;
        }
      }
    }
    at = stop;
  }
  if (changed) {
    if (count <= kInvlpgCeiling)
      for (uint64_t at = va; at < end; at += kPageSize) vm_flush(e, at);
    else
      vm_flush_all(e);
  }
  *changed_or_denied = changed;
  return OK;
}

void vm_unmap_frame_everywhere(uint64_t pfn, uint32_t keep) {
  for (Rid r = rmap.first(pfn); r != core::kNoRid;) {
    Rid next = rmap.next(r);
    uint32_t owner = rmap.env(r);
    if (owner != keep) {
      Env* e = &envs[env_index(owner)];
      *rmap.pte(r) = 0;
      vm_flush(e, rmap.va(r));
      e->info->mappings--;
      rmap.remove(pfn, r);
    }
    r = next;
  }
}

Env* vm_frame_holder(uint64_t pfn) {
  for (Rid r = rmap.first(pfn); r != core::kNoRid; r = rmap.next(r)) {
    if (!(*rmap.pte(r) & PTE_HOLD)) continue;
    Env* e = &envs[env_index(rmap.env(r))];
    if (e->info->state != ENV_DYING && accounts.can_charge(e->id, RES_FRAMES, 1)) return e;
  }
  return nullptr;
}

void vm_teardown(Env* e) {
  uint64_t* pml4 = phys_to_virt<uint64_t>(e->pml4_pa);
  for (uint64_t i4 = 0; i4 < kKernelTablesPml4Slot; i4++) {
    if (!(pml4[i4] & PTE_P)) continue;
    uint64_t* pdpt = table_of(pml4[i4]);
    for (uint64_t i3 = 0; i3 < 512; i3++) {
      if (!(pdpt[i3] & PTE_P)) continue;
      uint64_t* pd = table_of(pdpt[i3]);
      for (uint64_t i2 = 0; i2 < 512; i2++) {
        if (!(pd[i2] & PTE_P)) continue;
        uint64_t pt_pfn = vm_pfn(pd[i2]);
        uint64_t* pt = table_of(pd[i2]);
        for (uint64_t i1 = 0; i1 < 512; i1++)
          if (pt[i1] & PTE_P) rmap.remove(vm_pfn(pt[i1]), core::make_rid(pt_pfn, i1));
      }
    }
  }
  e->info->mappings = 0;
  vm_forget_leaf(e);
}

uint64_t vm_reclaim_tables(Env* e, uint64_t want, void (*taken)(Env*, uint64_t pfn)) {
  uint64_t freed = 0;
  uint64_t* pml4 = phys_to_virt<uint64_t>(e->pml4_pa);
  for (uint64_t i4 = 0; i4 < kKernelTablesPml4Slot && freed < want; i4++) {
    if (!(pml4[i4] & PTE_P)) continue;
    uint64_t* pdpt = table_of(pml4[i4]);
    for (uint64_t i3 = 0; i3 < 512 && freed < want; i3++) {
      if (!(pdpt[i3] & PTE_P)) continue;
      uint64_t* pd = table_of(pdpt[i3]);
      for (uint64_t i2 = 0; i2 < 512 && freed < want; i2++) {
        if (!(pd[i2] & PTE_P)) continue;
        free_leaf_table(e, &pd[i2], taken);
        freed += 3;
      }
      bool empty = true;
      for (uint64_t i2 = 0; i2 < 512 && empty; i2++) empty = !(pd[i2] & PTE_P);
      if (empty && freed < want) {
        uint64_t pfn = vm_pfn(pdpt[i3]);
        pdpt[i3] = 0;
        frames.free(pfn);
        if (taken) taken(e, pfn);
        freed++;
      }
    }
    bool empty = true;
    for (uint64_t i3 = 0; i3 < 512 && empty; i3++) empty = !(pdpt[i3] & PTE_P);
    if (empty && freed < want) {
      uint64_t pfn = vm_pfn(pml4[i4]);
      pml4[i4] = 0;
      frames.free(pfn);
      if (taken) taken(e, pfn);
      freed++;
    }
  }
  if (freed) vm_flush_all(e);
  return freed;
}

namespace {

// Walks user memory a page at a time through the env's own page tables, so
// the kernel never dereferences a user pointer directly.
template <typename F>
Status for_user_pages(Env* e, uint64_t va, uint64_t len, bool write, F&& fn) {
  if (len == 0) return OK;
  if (va < kUserBase || va >= kUserTop || len > kUserTop - va) return ERR_BAD_ADDRESS;
  uint64_t done = 0;
  while (done < len) {
    uint64_t cur = va + done;
    uint64_t* pte = vm_pte(e, cur & ~(kPageSize - 1));
    if (!pte || !(*pte & PTE_P) || !(*pte & PTE_U) || (write && !(*pte & PTE_W)))
      return ERR_BAD_ADDRESS;
    uint64_t off = cur & (kPageSize - 1);
    uint64_t n = kPageSize - off;
    if (n > len - done) n = len - done;
    fn(phys_to_virt<uint8_t>((*pte & PTE_ADDR) + off), done, n);
    done += n;
  }
  return OK;
}

}  // namespace


Status copy_from_user(Env* e, void* dst, uint64_t va, uint64_t len) {
  auto* d = static_cast<uint8_t*>(dst);
  return for_user_pages(e, va, len, false,
                        [&](uint8_t* p, uint64_t at, uint64_t n) { arch::copy_bytes(d + at, p, n); });
}

void* vm_user_page(Env* e, uint64_t va, uint64_t len, bool write) {
  if (va < kUserBase || va >= kUserTop || (va & (kPageSize - 1)) + len > kPageSize) return nullptr;
  const uint64_t* pte = vm_pte(e, va & ~(kPageSize - 1));
  const uint64_t need = PTE_P | PTE_U | (write ? PTE_W : 0);
  if (!pte || (*pte & need) != need) return nullptr;
  return phys_to_virt<uint8_t>((*pte & PTE_ADDR) + (va & (kPageSize - 1)));
}

Status copy_to_user(Env* e, uint64_t va, const void* src, uint64_t len) {
  auto* s = static_cast<const uint8_t*>(src);
  return for_user_pages(e, va, len, true,
                        [&](uint8_t* p, uint64_t at, uint64_t n) { arch::copy_bytes(p, s + at, n); });
}

}  // namespace veneer
