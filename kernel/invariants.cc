#include "kernel/invariants.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/env.h"
#include "kernel/memory.h"

namespace veneer {

using namespace arch;

namespace {

struct Scan {
  InvariantReport report;
  uint64_t violations = 0;
  void fail(const char* what, uint64_t a, uint64_t b) {
    violations++;
    report(what, a, b);
  }
  void expect(bool ok, const char* what, uint64_t a, uint64_t b) {
    if (!ok) fail(what, a, b);
  }
};

bool live(const Env& e) {
  uint32_t s = e.info->state;
  return e.id && s != ENV_FREE && s != ENV_RETIRED;
}

bool mappable_kind(uint16_t kind) { return kind == FRAME_USER || kind == FRAME_MODULE; }

void check_frames(Scan& s) {
  uint64_t nframes = frames.nframes(), nfree = 0;
  for (uint32_t p = frames.first_free(); p != core::kNil && nfree <= nframes; p = frames.next_owned(p)) {
    nfree++;
    const FrameInfo& f = frames.info(p);
    s.expect(f.owner == kOwnerFree && f.kind == FRAME_FREE, "frame on the free list is not free", p, f.owner);
    s.expect(f.mappings == 0 && frames.meta(p).rmap_head == core::kNil, "free frame is mapped", p, f.mappings);
  }
  s.expect(nfree == frames.free_count(), "free list length differs from the free count", nfree, frames.free_count());
  uint64_t free_in_table = 0;
  for (uint64_t p = 0; p < nframes; p++) {
    const FrameInfo& f = frames.info(p);
    if (f.owner == kOwnerFree) free_in_table++;
    else if (f.owner != kOwnerKernel) {
      Env* e = env_from_id(f.owner);
      s.expect(e != nullptr, "frame owned by an env that does not exist", p, f.owner);
    }
  }
  s.expect(free_in_table == nfree, "free frames in the table differ from the free list", free_in_table, nfree);
  for (Env& e : envs) {
    if (!live(e)) continue;
    uint64_t n = 0;
    for (uint32_t p = frames.first_owned(e.id); p != core::kNil && n <= nframes; p = frames.next_owned(p)) {
      n++;
      s.expect(frames.info(p).owner == e.id, "frame on an env's list is owned by another", p, e.id);
    }
    s.expect(n == e.info->frames, "EnvInfo.frames differs from the env's frame list", e.id, n);
  }
}

// True when env e's reverse maps hold exactly one record (e, va) for pfn.
bool has_one_rmap(uint64_t pfn, uint32_t env, uint64_t va) {
  uint64_t found = 0;
  rmaps.for_each(frames, pfn, kMaxMappingsPerFrame + kMaxPageBatch,
                 [&](uint32_t re, uint64_t rva) { found += re == env && rva == va; });
  return found == 1;
}

void check_leaf(Scan& s, Env& e, uint64_t va, uint64_t pte, uint64_t* mappings) {
  uint64_t pfn = (pte & PTE_ADDR) / kPageSize;
  (*mappings)++;
  s.expect(pte & PTE_U, "present user PTE without the user bit", e.id, va);
  if (pfn >= frames.nframes()) {
    s.fail("PTE points past the frame table", e.id, va);
    return;
  }
  const FrameInfo& f = frames.info(pfn);
  s.expect(f.owner != kOwnerFree && f.owner != kOwnerKernel && mappable_kind(f.kind),
           "PTE points at a frame no env may map", va, pfn);
  s.expect(!(pte & PTE_W) || (pte & PTE_MAY_WRITE), "writable PTE whose binding allows no write", e.id, va);
  s.expect((pte & PTE_NX) || (pte & PTE_MAY_EXEC), "executable PTE whose binding allows no execute", e.id, va);
  s.expect(has_one_rmap(pfn, e.id, va), "PTE without exactly one reverse-map record", e.id, va);
}

// Walks one env's page tables (user half), checking the tree's frames and
// every leaf; counts the page-table frames and mappings it finds.
void check_address_space(Scan& s, Env& e) {
  uint64_t* pml4 = phys_to_virt<uint64_t>(e.pml4_pa);
  const uint64_t* kernel = phys_to_virt<uint64_t>(kernel_pml4_pa);
  for (int i = 256; i < 512; i++) s.expect(pml4[i] == kernel[i], "kernel half differs from the kernel's", e.id, i);
  s.expect(pml4[kKernelTablesPml4Slot] == (ktables_pdpt_pa | PTE_P | PTE_U | PTE_NX),
           "kernel-tables window is not the read-only one", e.id, pml4[kKernelTablesPml4Slot]);
  s.expect(pml4[kRecursivePml4Slot] == (e.pml4_pa | PTE_P | PTE_U | PTE_NX),
           "page-table window is not read-only or not this env's", e.id, pml4[kRecursivePml4Slot]);
  uint64_t tables = 1, mappings = 0;
  auto table_frame = [&](uint64_t entry, uint64_t va) -> uint64_t* {
    uint64_t pfn = (entry & PTE_ADDR) / kPageSize;
    if (pfn >= frames.nframes()) {
      s.fail("page-table entry points past the frame table", e.id, va);
      return nullptr;
    }
    tables++;
    const FrameInfo& f = frames.info(pfn);
    s.expect(f.owner == e.id && f.kind == FRAME_PAGETABLE, "page table not a page-table frame of its env", va, pfn);
    return phys_to_virt<uint64_t>(pfn * kPageSize);
  };
  for (uint64_t i4 = 0; i4 < kKernelTablesPml4Slot; i4++) {
    if (!(pml4[i4] & PTE_P)) continue;
    uint64_t* pdpt = table_frame(pml4[i4], i4 << 39);
    for (uint64_t i3 = 0; pdpt && i3 < 512; i3++) {
      if (!(pdpt[i3] & PTE_P)) continue;
      s.expect(!(pdpt[i3] & PTE_PS), "huge page in a user address space", e.id, i4 << 39 | i3 << 30);
      uint64_t* pd = table_frame(pdpt[i3], i4 << 39 | i3 << 30);
      for (uint64_t i2 = 0; pd && i2 < 512; i2++) {
        if (!(pd[i2] & PTE_P)) continue;
        uint64_t base = i4 << 39 | i3 << 30 | i2 << 21;
        s.expect(!(pd[i2] & PTE_PS), "huge page in a user address space", e.id, base);
        uint64_t* pt = table_frame(pd[i2], base);
        for (uint64_t i1 = 0; pt && i1 < 512; i1++)
          if (pt[i1] & PTE_P) check_leaf(s, e, base | i1 << 12, pt[i1], &mappings);
      }
    }
  }
  uint64_t owned_tables = 0;
  for (uint32_t p = frames.first_owned(e.id); p != core::kNil; p = frames.next_owned(p))
    owned_tables += frames.info(p).kind == FRAME_PAGETABLE;
  s.expect(owned_tables == tables, "page-table frames owned differ from those in the tree", e.id, owned_tables);
  s.expect(mappings == e.info->mappings, "EnvInfo.mappings differs from the present PTEs", e.id, mappings);
}

// Every reverse-map record names a present PTE of a live env that points
// back at its frame; the frame's mapping count is its record count.
void check_reverse_maps(Scan& s) {
  for (uint64_t pfn = 0; pfn < frames.nframes(); pfn++) {
    uint64_t n = 0;
    bool bounded = rmaps.for_each(frames, pfn, kMaxMappingsPerFrame + kMaxPageBatch, [&](uint32_t env, uint64_t va) {
      n++;
      Env* e = env_from_id(env);
      uint64_t* pte = e ? vm_pte(e, va) : nullptr;
      s.expect(pte && (*pte & PTE_P) && (*pte & PTE_ADDR) / kPageSize == pfn,
               "reverse-map record without its PTE", pfn, va);
    });
    s.expect(bounded, "reverse-map list longer than any frame may have", pfn, 0);
    s.expect(n == frames.info(pfn).mappings, "FrameInfo.mappings differs from the reverse maps", pfn, n);
  }
}

void check_capabilities(Scan& s, Env& e) {
  for (uint64_t slot = 0; slot < kCapSlots; slot++) {
    const core::Capability& c = e.caps.at(slot);
    if (c.type != CAP_FRAME) continue;
    if (c.object >= frames.nframes()) {
      s.fail("frame capability past the frame table", e.id, slot);
      continue;
    }
    const FrameInfo& f = frames.info(c.object);
    if (c.guard == f.guard)
      s.expect(f.owner != kOwnerFree && mappable_kind(f.kind), "current frame capability to an unusable frame", e.id,
               slot);
  }
}

void check_slices(Scan& s) {
  for (uint32_t p = 0; p < kSlices; p++) {
    uint32_t owner = slice_table->owner[p];
    s.expect(owner == kNoOwner || env_from_id(owner), "slice position owned by a dead env", p, owner);
  }
  for (Env& e : envs) {
    if (!live(e)) continue;
    uint32_t n = 0;
    for (uint32_t p = 0; p < kSlices; p++) n += slice_table->owner[p] == e.id;
    s.expect(n == e.info->slices_held, "EnvInfo.slices_held differs from the slice vector", e.id, n);
  }
}

}  // namespace

uint64_t check_invariants(InvariantReport report) {
  Scan s{report};
  check_frames(s);
  for (Env& e : envs) {
    if (!live(e)) continue;
    check_address_space(s, e);
    check_capabilities(s, e);
  }
  check_reverse_maps(s);
  check_slices(s);
  return s.violations;
}

}  // namespace veneer
