#include "kernel/invariants.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/env.h"
#include "kernel/ioports.h"
#include "kernel/irq.h"
#include "kernel/netif.h"
#include "kernel/memory.h"
#include "kernel/vm.h"

namespace veneer {

using namespace arch;
using core::Rid;

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
uint64_t pfn_of(uint64_t entry) { return (entry & PTE_ADDR) / kPageSize; }

void check_frames(Scan& s) {
  uint64_t nframes = frames.nframes(), nfree = 0;
  for (uint32_t p = frames.first_free(); p != core::kNil && nfree <= nframes; p = frames.next_owned(p)) {
    nfree++;
    const FrameInfo& f = frames.info(p);
    s.expect(f.owner == kOwnerFree && f.kind == FRAME_FREE, "frame on the free list is not free", p, f.owner);
    s.expect(f.mappings == 0 && frames.meta(p).rmap_head == core::kNoRid, "free frame is mapped", p, f.mappings);
  }
  s.expect(nfree == frames.free_count(), "free list length differs from the free count", nfree, frames.free_count());
  uint64_t free_in_table = 0;
  for (uint64_t p = 0; p < nframes; p++) {
    const FrameInfo& f = frames.info(p);
    if (f.owner == kOwnerFree) free_in_table++;
    else if (f.owner != kOwnerKernel) s.expect(env_from_id(f.owner) != nullptr, "frame owned by an env that does not exist", p, f.owner);
    if (!mappable_kind(f.kind)) s.expect(f.mappings == 0, "a frame no env may map is mapped", p, f.kind);
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

// Whether record r is on pfn's reverse-map list (exactly once).
bool on_list_once(uint64_t pfn, Rid r) {
  uint64_t found = 0, steps = 0;
  for (Rid x = rmap.first(pfn); x != core::kNoRid && steps <= frames.info(pfn).mappings; x = rmap.next(x), steps++)
    found += x == r;
  return found == 1;
}

void check_leaf(Scan& s, Env& e, uint64_t va, uint64_t* pte, uint64_t* mappings) {
  uint64_t v = *pte, pfn = pfn_of(v);
  (*mappings)++;
  s.expect(v & PTE_U, "present user PTE without the user bit", e.id, va);
  if (pfn >= frames.nframes()) {
    s.fail("PTE points past the frame table", e.id, va);
    return;
  }
  const FrameInfo& f = frames.info(pfn);
  s.expect(f.owner != kOwnerFree && f.owner != kOwnerKernel && mappable_kind(f.kind),
           "PTE points at a frame no env may map", va, pfn);
  s.expect(!(v & PTE_W) || (v & PTE_MAY_WRITE), "writable PTE whose binding allows no write", e.id, va);
  s.expect((v & PTE_NX) || (v & PTE_MAY_EXEC), "executable PTE whose binding allows no execute", e.id, va);
  uint64_t pa = virt_to_phys(pte);
  s.expect(on_list_once(pfn, core::make_rid(pa / kPageSize, (pa % kPageSize) / 8)),
           "PTE not exactly once on its frame's reverse map", e.id, va);
}

// A page-table frame of env e, `links` for the reverse-map frames of a leaf
// table: counted, and checked to be e's and of the right kind.
uint64_t* table_frame(Scan& s, Env& e, uint64_t pfn, uint16_t kind, uint64_t va, uint64_t* count) {
  if (pfn >= frames.nframes() || pfn == 0) {
    s.fail("page-table reference outside the frame table", e.id, va);
    return nullptr;
  }
  (*count)++;
  const FrameInfo& f = frames.info(pfn);
  s.expect(f.owner == e.id && f.kind == kind, "page-table frame not the env's, or of the wrong kind", va, pfn);
  return phys_to_virt<uint64_t>(pfn * kPageSize);
}

// Walks one env's page tables (user half), checking the tree's frames and
// every leaf; compares the frames and mappings found with what it owns.
void check_address_space(Scan& s, Env& e) {
  uint64_t* pml4 = phys_to_virt<uint64_t>(e.pml4_pa);
  const uint64_t* kernel = phys_to_virt<uint64_t>(kernel_pml4_pa);
  auto bits = [](uint64_t entry) { return entry & ~(PTE_A | PTE_D); };  // the MMU sets these
  for (int i = 256; i < 512; i++)
    s.expect(bits(pml4[i]) == bits(kernel[i]), "kernel half differs from the kernel's", e.id, i);
  s.expect(bits(pml4[kKernelTablesPml4Slot]) == (ktables_pdpt_pa | PTE_P | PTE_U | PTE_NX),
           "kernel-tables window is not the read-only one", e.id, pml4[kKernelTablesPml4Slot]);
  s.expect(bits(pml4[kRecursivePml4Slot]) == (e.pml4_pa | PTE_P | PTE_U | PTE_NX),
           "page-table window is not read-only or not this env's", e.id, pml4[kRecursivePml4Slot]);
  uint64_t tables = 1, links = 0, mappings = 0;
  for (uint64_t i4 = 0; i4 < kKernelTablesPml4Slot; i4++) {
    if (!(pml4[i4] & PTE_P)) continue;
    uint64_t* pdpt = table_frame(s, e, pfn_of(pml4[i4]), FRAME_PAGETABLE, i4 << 39, &tables);
    for (uint64_t i3 = 0; pdpt && i3 < 512; i3++) {
      if (!(pdpt[i3] & PTE_P)) continue;
      s.expect(!(pdpt[i3] & PTE_PS), "huge page in a user address space", e.id, i4 << 39 | i3 << 30);
      uint64_t* pd = table_frame(s, e, pfn_of(pdpt[i3]), FRAME_PAGETABLE, i4 << 39 | i3 << 30, &tables);
      for (uint64_t i2 = 0; pd && i2 < 512; i2++) {
        if (!(pd[i2] & PTE_P)) continue;
        uint64_t base = i4 << 39 | i3 << 30 | i2 << 21;
        s.expect(!(pd[i2] & PTE_PS), "huge page in a user address space", e.id, base);
        uint64_t pt_pfn = pfn_of(pd[i2]);
        uint64_t* pt = table_frame(s, e, pt_pfn, FRAME_PAGETABLE, base, &tables);
        if (!pt) continue;
        const core::FrameMeta& m = frames.meta(pt_pfn);
        s.expect(m.table_va == base, "leaf table records the wrong address", e.id, base);
        bool linked = table_frame(s, e, m.links_next, FRAME_RMAP, base, &links) &&
                      table_frame(s, e, m.links_prev, FRAME_RMAP, base, &links) && m.links_next != m.links_prev;
        s.expect(linked, "leaf table without its two reverse-map link frames", e.id, base);
        for (uint64_t i1 = 0; linked && i1 < 512; i1++)
          if (pt[i1] & PTE_P) check_leaf(s, e, base | i1 << 12, &pt[i1], &mappings);
      }
    }
  }
  uint64_t owned_tables = 0, owned_links = 0;
  for (uint32_t p = frames.first_owned(e.id); p != core::kNil; p = frames.next_owned(p)) {
    owned_tables += frames.info(p).kind == FRAME_PAGETABLE;
    owned_links += frames.info(p).kind == FRAME_RMAP;
  }
  s.expect(owned_tables == tables, "page-table frames owned differ from those in the tree", e.id, owned_tables);
  s.expect(owned_links == links, "link frames owned differ from those beside the tree's tables", e.id, owned_links);
  s.expect(mappings == e.info->mappings, "EnvInfo.mappings differs from the present PTEs", e.id, mappings);
}

// Every reverse-map record names a present PTE (in a leaf table of a live
// env) that points back at its frame; links agree both ways; the frame's
// mapping count is its record count.
void check_reverse_maps(Scan& s) {
  for (uint64_t pfn = 0; pfn < frames.nframes(); pfn++) {
    uint64_t n = 0;
    Rid prev = core::kNoRid;
    for (Rid r = rmap.first(pfn); r != core::kNoRid; prev = r, r = rmap.next(r)) {
      if (++n > kMaxMappingsPerFrame) {
        s.fail("reverse-map list longer than any frame may have", pfn, n);
        break;
      }
      uint64_t table = core::rid_table(r);
      if (table >= frames.nframes() || frames.info(table).kind != FRAME_PAGETABLE || !env_from_id(rmap.env(r))) {
        s.fail("reverse-map record outside a live env's page table", pfn, r);
        break;
      }
      s.expect(rmap.prev(r) == prev, "reverse-map links disagree", pfn, r);
      uint64_t v = *rmap.pte(r);
      s.expect((v & PTE_P) && pfn_of(v) == pfn, "reverse-map record without its PTE", pfn, rmap.va(r));
    }
    s.expect(n == frames.info(pfn).mappings, "FrameInfo.mappings differs from the reverse map", pfn, n);
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

// I/O ports: every capability and every bound range names at most
// kMaxIoPortCount ports below 0x10000 and none the kernel drives; an env's
// ranges do not overlap, and the PCT fast path is told to step aside
// exactly when it has some.
void check_ports(Scan& s, Env& e) {
  auto range_ok = [](uint64_t first, uint64_t count) {
    return io_range_valid(first, count) && !kernel_uses_ports(first, count);
  };
  for (uint64_t slot = 0; slot < kCapSlots; slot++) {
    const core::Capability& c = e.caps.at(slot);
    if (c.type == CAP_IOPORT)
      s.expect(range_ok(c.object & 0xFFFF, c.object >> 16), "port capability to a bad or kernel range", e.id, slot);
  }
  bool any = false;
  for (uint64_t r = 0; r < kMaxIoPortRanges; r++) {
    if (!e.io_count[r]) continue;
    any = true;
    s.expect(range_ok(e.io_first[r], e.io_count[r]), "bound port range bad or the kernel's", e.id, e.io_first[r]);
    for (uint64_t q = r + 1; q < kMaxIoPortRanges; q++)
      s.expect(!e.io_count[q] || e.io_first[q] + e.io_count[q] <= e.io_first[r] ||
                   e.io_first[r] + e.io_count[r] <= e.io_first[q],
               "bound port ranges overlap", e.id, e.io_first[r]);
  }
  s.expect(any == ((e.pct_slow & PCT_SLOW_PORTS) != 0), "PCT_SLOW_PORTS differs from the bound ranges", e.id, any);
}

// The bitmap is open for at most one env, a live one with ports.
void check_open_ports(Scan& s) {
  const Env* o = io_ports_open;
  if (!o) return;
  s.expect(env_from_id(o->id) == o && (o->pct_slow & PCT_SLOW_PORTS), "I/O bitmap open for a dead or portless env",
           o->id, o->pct_slow);
}

// Interrupt lines: the kernel's own never bound; the line table and the
// envs' bound sets agree; every IRQ capability names a line, not a kernel one.
void check_irqs(Scan& s) {
  for (uint64_t line = 0; line < kIrqLines; line++) {
    uint32_t o = irq_owner(line);
    if (!o) continue;
    Env* e = env_from_id(o);
    s.expect(!irq_line_reserved(line), "a kernel interrupt line is bound", line, o);
    s.expect(e && (e->irq_lines >> line) & 1, "a line's owner is dead or does not know it", line, o);
  }
  for (Env& e : envs) {
    if (!live(e)) continue;
    for (uint64_t line = 0; line < kIrqLines; line++)
      if ((e.irq_lines >> line) & 1) s.expect(irq_owner(line) == e.id, "an env's line is bound elsewhere", e.id, line);
    for (uint64_t slot = 0; slot < kCapSlots; slot++) {
      const core::Capability& c = e.caps.at(slot);
      if (c.type == CAP_IRQ)
        s.expect(c.object < kIrqLines && !irq_line_reserved(c.object), "IRQ capability to a bad or kernel line", e.id, slot);
    }
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

// Each account's count is what the envs drawing on it hold plus the
// reservations of the accounts it funds, and stays within its limit.
void check_accounts(Scan& s) {
  for (Env& a : envs) {
    if (!live(a) || accounts.account_of(a.id) != a.id) continue;
    uint64_t held[kResources] = {};
    for (Env& e : envs) {
      if (!live(e)) continue;
      if (accounts.account_of(e.id) == a.id) {
        held[RES_FRAMES] += e.info->frames;
        held[RES_ENVS] += 1;
        held[RES_SLICES] += e.info->slices_held;
      }
      if (e.id != a.id && accounts.account_of(e.id) == e.id && accounts.funder(e.id) == a.id)
        for (uint32_t r = 0; r < kResources; r++) held[r] += e.info->limit[r];
    }
    for (uint32_t r = 0; r < kResources; r++) {
      s.expect(held[r] == a.info->used[r], "an account's count differs from what it holds", a.id, r);
      s.expect(a.info->used[r] <= a.info->limit[r], "an account holds more than its limit", a.id, r);
    }
  }
  for (Env& e : envs)
    if (live(e)) s.expect(env_from_id(accounts.account_of(e.id)) != nullptr, "an env draws on no live account", e.id, 0);
}

}  // namespace

uint64_t check_invariants(InvariantReport report) {
  Scan s{report};
  check_frames(s);
  for (Env& e : envs) {
    if (!live(e)) continue;
    check_address_space(s, e);
    check_capabilities(s, e);
    check_ports(s, e);
  }
  check_reverse_maps(s);
  check_slices(s);
  check_irqs(s);
  check_open_ports(s);
  check_accounts(s);
  s.violations += netif_check(report);
  return s.violations;
}

}  // namespace veneer
