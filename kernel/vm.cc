// Secure bindings for memory: the kernel writes page-table entries after the
// system call layer has checked the capability; the MMU enforces them from
// then on at full speed.
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/env.h"
#include "kernel/memory.h"

namespace veneer {

using namespace arch;

namespace {

uint64_t leaf_bits(uint64_t perms) {
  uint64_t b = PTE_P | PTE_U;
  if (perms & PERM_WRITE) b |= PTE_W;
  if (!(perms & PERM_EXEC)) b |= PTE_NX;
  return b;
}

uint64_t index_of(uint64_t va, int level) { return (va >> (12 + 9 * level)) & 511; }

void flush(Env* e, uint64_t va) {
  if (cpu0.current == e) invlpg(va);
  else e->tlb_stale = true;
}

// Reverse-map records, charged to the env whose address space holds them.
// The system calls check the limits when they decode; these hard caps (one
// batch above them) keep an invoke phase from failing halfway.
Status rmap_add(Env* e, uint64_t pfn, uint64_t va) {
  if (e->info->mappings >= kernel_info->max_mappings + kMaxPageBatch ||
      frames.info(pfn).mappings >= kMaxMappingsPerFrame + kMaxPageBatch)
    return ERR_NO_RESOURCES;
  Status s = rmaps.add(frames, pfn, e->id, va);
  if (s == OK) e->info->mappings++;
  return s;
}

void rmap_remove(Env* e, uint64_t pfn, uint64_t va) {
  if (rmaps.remove(frames, pfn, e->id, va)) e->info->mappings--;
}

}  // namespace

uint64_t* vm_pte(Env* e, uint64_t va) {
  uint64_t* t = phys_to_virt<uint64_t>(e->pml4_pa);
  for (int level = 3; level > 0; level--) {
    uint64_t ent = t[index_of(va, level)];
    if (!(ent & PTE_P)) return nullptr;
    t = phys_to_virt<uint64_t>(ent & PTE_ADDR);
  }
  return &t[index_of(va, 0)];
}

Status vm_pte_create(Env* e, uint64_t va, uint64_t** out) {
  uint64_t* t = phys_to_virt<uint64_t>(e->pml4_pa);
  for (int level = 3; level > 0; level--) {
    uint64_t& ent = t[index_of(va, level)];
    if (!(ent & PTE_P)) {
      uint64_t pfn;
      Status s = frame_alloc_zeroed(kAnyFrame, e->id, FRAME_PAGETABLE, &pfn);
      if (s != OK) return s;
      // Intermediate levels allow everything; the leaf decides.
      ent = pfn * kPageSize | PTE_P | PTE_W | PTE_U;
    }
    t = phys_to_virt<uint64_t>(ent & PTE_ADDR);
  }
  *out = &t[index_of(va, 0)];
  return OK;
}

uint64_t* PteCursor::find(uint64_t va) {
  uint64_t region = va >> 21;
  if (region != region_) {
    uint64_t* leaf = vm_pte(e_, va);
    pt_ = leaf ? leaf - index_of(va, 0) : nullptr;
    region_ = region;
  }
  return pt_ ? &pt_[index_of(va, 0)] : nullptr;
}

Status PteCursor::create(uint64_t va, uint64_t** out) {
  if (uint64_t* pte = find(va)) {
    *out = pte;
    return OK;
  }
  Status s = vm_pte_create(e_, va, out);
  if (s == OK) pt_ = *out - index_of(va, 0);
  return s;
}

Status vm_map_pte(Env* e, uint64_t va, uint64_t* pte, uint64_t pfn, uint64_t perms, uint8_t cap_rights) {
  uint64_t may = 0;
  if (cap_rights & RIGHT_WRITE) may |= PTE_MAY_WRITE;
  if (cap_rights & RIGHT_EXEC) may |= PTE_MAY_EXEC;
  uint64_t entry = pfn * kPageSize | leaf_bits(perms) | may;
  if (*pte & PTE_P) {
    uint64_t old = (*pte & PTE_ADDR) / kPageSize;
    if (old != pfn) {  // rebinding the same frame keeps its reverse mapping
      // The new record first: if it cannot be had, the old binding stands.
      if (Status s = rmap_add(e, pfn, va); s != OK) return s;
      rmap_remove(e, old, va);
    }
    *pte = entry;
    flush(e, va);
    return OK;
  }
  if (Status s = rmap_add(e, pfn, va); s != OK) return s;
  *pte = entry;
  return OK;
}

Status vm_unmap_pte(Env* e, uint64_t va, uint64_t* pte) {
  if (!pte || !(*pte & PTE_P)) return ERR_NOT_FOUND;
  rmap_remove(e, (*pte & PTE_ADDR) / kPageSize, va);
  *pte = 0;
  flush(e, va);
  return OK;
}

void vm_protect_pte(Env* e, uint64_t va, uint64_t* pte, uint64_t perms) {
  uint64_t keep = *pte & (PTE_ADDR | PTE_MAY_WRITE | PTE_MAY_EXEC | PTE_A | PTE_D);
  *pte = keep | leaf_bits(perms);
  flush(e, va);
}

Status vm_map(Env* e, uint64_t va, uint64_t pfn, uint64_t perms, uint8_t cap_rights) {
  uint64_t* pte;
  Status s = vm_pte_create(e, va, &pte);
  if (s != OK) return s;
  return vm_map_pte(e, va, pte, pfn, perms, cap_rights);
}

Status vm_unmap(Env* e, uint64_t va) { return vm_unmap_pte(e, va, vm_pte(e, va)); }

Status vm_protect(Env* e, uint64_t va, uint64_t perms) {
  uint64_t* pte = vm_pte(e, va);
  if (!pte || !(*pte & PTE_P)) return ERR_NOT_FOUND;
  if (!vm_perms_allowed(*pte, perms)) return ERR_ACCESS_DENIED;
  vm_protect_pte(e, va, pte, perms);
  return OK;
}

void vm_unmap_frame_everywhere(uint64_t pfn, uint32_t keep) {
  rmaps.remove_if(frames, pfn, [&](uint32_t env, uint64_t va) {
    if (env == keep) return false;
    if (Env* e = env_from_id(env)) {
      if (uint64_t* pte = vm_pte(e, va)) {
        *pte = 0;
        flush(e, va);
      }
      e->info->mappings--;
    }
    return true;
  });
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

// Copies n bytes, a word at a time where both sides allow it (the kernel is
// built without SSE, so no vector copies).
void copy_bytes(uint8_t* d, const uint8_t* s, uint64_t n) {
  uint64_t i = 0;
  if (((reinterpret_cast<uint64_t>(d) | reinterpret_cast<uint64_t>(s)) & 7) == 0)
    for (; i + 8 <= n; i += 8) *reinterpret_cast<uint64_t*>(d + i) = *reinterpret_cast<const uint64_t*>(s + i);
  for (; i < n; i++) d[i] = s[i];
}

Status copy_from_user(Env* e, void* dst, uint64_t va, uint64_t len) {
  auto* d = static_cast<uint8_t*>(dst);
  return for_user_pages(e, va, len, false,
                        [&](uint8_t* p, uint64_t at, uint64_t n) { copy_bytes(d + at, p, n); });
}

Status copy_to_user(Env* e, uint64_t va, const void* src, uint64_t len) {
  auto* s = static_cast<const uint8_t*>(src);
  return for_user_pages(e, va, len, true,
                        [&](uint8_t* p, uint64_t at, uint64_t n) { copy_bytes(p, s + at, n); });
}

}  // namespace veneer
