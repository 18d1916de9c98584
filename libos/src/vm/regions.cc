// The region map and the page-fault policies: each region says what its
// pages are (demand-zero, shared, guard) and may carry an application's own
// fault policy; copy-on-write is recorded in the pages themselves (ExOS's
// PTE marks), so it needs no region.
#include "exos/vm.h"

namespace exos::vm {
namespace {

using veneer::kSelfSlot;

Region regions[kMaxRegions];  // sorted by start, disjoint
uint32_t nregions;

constexpr uint64_t kGuardPages = 1;
constexpr uint64_t kStackRegion = 8ull << 20;  // the main stack grows on demand up to this

uint64_t page_up(uint64_t n) { return (n + kPageSize - 1) & ~(kPageSize - 1); }

// Index of the first region ending above va.
uint32_t lower_bound(uint64_t va) {
  uint32_t lo = 0, hi = nregions;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (regions[mid].end <= va) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

bool overlaps(uint64_t start, uint64_t end) {
  uint32_t i = lower_bound(start);
  return i < nregions && regions[i].start < end;
}

Status insert(const Region& r) {
  if (nregions == kMaxRegions) return veneer::ERR_NO_RESOURCES;
  uint32_t at = lower_bound(r.start);
  for (uint32_t i = nregions; i > at; i--) regions[i] = regions[i - 1];
  regions[at] = r;
  nregions++;
  return veneer::OK;
}

void erase(uint32_t at) {
  for (uint32_t i = at; i + 1 < nregions; i++) regions[i] = regions[i + 1];
  nregions--;
}

// Splits the region containing va (if va is inside it, not at its start)
// into [start, va) and [va, end).
Status split_at(uint64_t va) {
  uint32_t i = lower_bound(va);
  if (i == nregions || regions[i].start >= va) return veneer::OK;
  Region tail = regions[i];
  tail.start = va;
  if (nregions == kMaxRegions) return veneer::ERR_NO_RESOURCES;
  regions[i].end = va;
  return insert(tail);
}

// The first gap of `size` bytes in [lo, hi), leaving a guard page after
// each region so a neighbour's overrun faults; 0 if none.
uint64_t find_room(uint64_t size, uint64_t lo, uint64_t hi) {
  uint64_t at = lo;
  for (uint32_t i = lower_bound(at); i < nregions && regions[i].start < hi; i++) {
    if (regions[i].start >= at + size + kGuardPages * kPageSize) break;
    at = regions[i].end + kGuardPages * kPageSize;
  }
  return at + size <= hi ? at : 0;
}

// Near the image first (its page directory), then above the heap.
uint64_t find_room(uint64_t size) {
  uint64_t at = find_room(size, layout::kMapBase, layout::kMapTop);
  return at ? at : find_room(size, layout::kMapBase2, layout::kMapTop2);
}

Status populate(uint64_t start, uint64_t end, uint64_t perms) {
  veneer::PageOp ops[64];
  uint32_t n = 0;
  for (uint64_t va = start; va < end; va += kPageSize) {
    Frame f;
    Status s = frame_alloc_owned(&f);
    if (s != veneer::OK) return s;
    ops[n++] = veneer::PageOp{va, f.ref(), veneer::PAGE_OP_MAP, static_cast<uint32_t>(perms)};
    if (n == 64 || va + kPageSize == end) {
      SysResult r = sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), n);
      if (r.status != veneer::OK) {
        for (uint32_t k = 0; k < n; k++) sys_frame_free(ops[k].frame);
        return static_cast<Status>(r.status);
      }
      n = 0;
    }
  }
  return veneer::OK;
}

}  // namespace

Region* find(uint64_t va) {
  uint32_t i = lower_bound(va);
  return i < nregions && regions[i].start <= va ? &regions[i] : nullptr;
}

Status map(uint64_t* va, uint64_t size, uint64_t perms, Kind kind) {
  size = page_up(size);
  if (size == 0 || (perms & ~veneer::kPermsMask)) return veneer::ERR_INVALID_ARGS;
  uint64_t start = *va;
  if (start == 0) {
    start = find_room(size);
    if (!start) return veneer::ERR_NO_MEMORY;
  }
  if ((start & (kPageSize - 1)) || start < veneer::kUserBase || start >= veneer::kUserTop ||
      size > veneer::kUserTop - start)
    return veneer::ERR_INVALID_ARGS;
  if (overlaps(start, start + size)) return veneer::ERR_BUSY;
  if (kind == Kind::Shared) perms |= layout::kMarkShared;
  Region r{start, start + size, perms, kind, nullptr, nullptr};
  Status s = insert(r);
  if (s != veneer::OK) return s;
  if (kind == Kind::Shared && (s = populate(start, start + size, perms)) != veneer::OK) {
    unmap(start, size);
    return s;
  }
  *va = start;
  return veneer::OK;
}

Status unmap(uint64_t va, uint64_t size) {
  size = page_up(size);
  uint64_t end = va + size;
  for (uint32_t i = lower_bound(va); i < nregions && regions[i].start < end; i++)
    if (regions[i].start < va || regions[i].end > end) return veneer::ERR_INVALID_ARGS;
  while (true) {
    uint32_t i = lower_bound(va);
    if (i == nregions || regions[i].start >= end) break;
    erase(i);
  }
  walk(va, end, [](void*, uint64_t page, uint64_t) {
    unmap_page(page);
    return true;
  }, nullptr);
  return veneer::OK;
}

namespace {
// Runs of present pages that get the same permissions (marks included), up
// to 512 pages from the first, each in one page_protect_range (which skips
// the absent pages between them).
struct Protect {
  uint64_t perms;
  uint64_t start, last, want;  // the run: [start, last] (start 0: none yet)
  Status status;
  void flush() {
    if (!start || status != veneer::OK) return;
    SysResult r = sys_page_protect_range(kSelfSlot, start, (last - start) / kPageSize + 1, want);
    if (r.status != veneer::OK) status = static_cast<Status>(r.status);
    start = 0;
  }
  void add(uint64_t page, uint64_t w) {
    if (start && (w != want || page - start >= veneer::kMaxPageBatch * kPageSize)) flush();
    if (!start) start = page, want = w;
    last = page;
  }
};
}  // namespace

Status protect(uint64_t va, uint64_t size, uint64_t perms) {
  size = page_up(size);
  if ((va & (kPageSize - 1)) || (perms & ~(veneer::PERM_WRITE | veneer::PERM_EXEC | layout::kMarkAppMask)))
    return veneer::ERR_INVALID_ARGS;
  Status s = split_at(va);
  if (s == veneer::OK) s = split_at(va + size);
  if (s != veneer::OK) return s;
  for (uint32_t i = lower_bound(va); i < nregions && regions[i].start < va + size; i++) {
    uint64_t keep = regions[i].perms & (layout::kMarkShared | layout::kMarkPrivate);
    regions[i].perms = perms | keep;
  }
  Protect p{perms, 0, 0, 0, veneer::OK};
  walk(va, va + size, [](void* ctx, uint64_t page, uint64_t pte) {
    auto* st = static_cast<Protect*>(ctx);
    uint64_t marks = layout::pte_marks(pte) & ~layout::kMarkAppMask;
    uint64_t want = st->perms | marks;
    if (marks & layout::kMarkCow) want &= ~veneer::PERM_WRITE;  // its first write still copies
    st->add(page, want);
    return st->status == veneer::OK;
  }, &p);
  p.flush();
  return p.status;
}

Status set_policy(uint64_t va, FaultPolicy policy, void* ctx) {
  Region* r = find(va);
  if (!r) return veneer::ERR_NOT_FOUND;
  r->policy = policy;
  r->ctx = ctx;
  return veneer::OK;
}

bool handle_page_fault(ExceptionFrame* f) {
  constexpr uint64_t kErrPresent = 1, kErrWrite = 2;
  uint64_t page = f->fault_addr & ~(kPageSize - 1);
  Region* r = find(page);
  if (r && r->policy && r->policy(*r, f)) return true;
  uint64_t pte = read_pte(page);
  if ((f->error_code & kErrPresent) && (f->error_code & kErrWrite) && (pte & layout::kPtePresent) &&
      (layout::pte_marks(pte) & layout::kMarkCow))
    return break_cow(page) == veneer::OK;
  if (!(f->error_code & kErrPresent) && !(pte & layout::kPtePresent) && r && r->kind == Kind::Anonymous) {
    Status s = page_alloc(page, r->perms);
    if (s == veneer::ERR_QUOTA || s == veneer::ERR_NO_MEMORY) {
      sweep();
      s = page_alloc(page, r->perms);
    }
    return s == veneer::OK;
  }
  return false;  // a guard page, a shared page gone, or no region: a crash
}

void init() {
  nregions = 0;
  uint64_t start = layout::kStackTop - kStackRegion;
  insert(Region{start, layout::kStackTop, veneer::PERM_WRITE, Kind::Anonymous, nullptr, nullptr});
  insert(Region{start - kGuardPages * kPageSize, start, 0, Kind::Guard, nullptr, nullptr});
  // ExOS's private block: demand-zero, never inherited (fork skips it).
  insert(Region{layout::kPrivateBase, layout::kPrivateTop, veneer::PERM_WRITE | layout::kMarkPrivate, Kind::Anonymous,
                nullptr, nullptr});
}

}  // namespace exos::vm
