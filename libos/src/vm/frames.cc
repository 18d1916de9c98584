// Frames a process owns but others may map: copy-on-write children hold
// our frames (page_share bindings with RIGHT_HOLD), so freeing one of ours
// would unmap it from them. We free a frame only when the frame table says
// nobody maps it; until then it waits in the released list, and sweep()
// frees what has become unmapped. When we die, the kernel passes each such
// frame to a holder, or frees it if nobody holds it: no frame outlives
// everyone who maps it.
#include "../internal.h"
#include "exos/vm.h"

namespace exos::vm {
namespace {

using veneer::kFrameByPfn;
using veneer::kSelfSlot;

// The list lives in private pages of its own (never copy-on-write: it is
// written from the fault handler, where a copy-on-write fault on the list
// itself would nest inside an update of it), mapped when first needed; a
// forked child starts without it (the frames in ours are ours, not its).
struct Released {
  uint32_t count;
  uint32_t untracked;  // frames we could not remember (the list was full): freed when we die
  uint32_t pfns[4 * kPageSize / 4 - 2];
};
constexpr uint32_t kMaxReleased = sizeof(Released::pfns) / sizeof(uint32_t);
Released* list() { return reinterpret_cast<Released*>(layout::kReleasedVa); }  // demand-zero, private
bool has_list() { return read_pte(layout::kReleasedVa) & layout::kPtePresent; }

const veneer::FrameInfo& frame(uint64_t pfn) { return frame_table()[pfn]; }

// Who we are, from the kernel's tables: the owner of our own PML4 (the
// page-table window's self entry names it). A forked child's first
// copy-on-write faults come before it has corrected the id kept in its
// memory, which is its parent's.
uint32_t me() { return internal::kernel_self_id(); }

}  // namespace

void remember_released(uint64_t pfn) {
  Released* r = list();
  if (r->count >= kMaxReleased) sweep();
  if (r->count >= kMaxReleased) {
    r->untracked++;
    return;
  }
  r->pfns[r->count++] = static_cast<uint32_t>(pfn);
}

void sweep() {
  if (!has_list()) return;
  Released* r = list();
  uint32_t kept = 0, n = r->count < kMaxReleased ? r->count : kMaxReleased;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t pfn = r->pfns[i];
    const veneer::FrameInfo& f = frame(pfn);
    if (f.owner != me()) continue;  // not ours any more
    if (f.mappings == 0 && sys_frame_free(kFrameByPfn | pfn).status == veneer::OK) continue;
    r->pfns[kept++] = pfn;
  }
  r->count = kept;
}

uint64_t released_pending() { return has_list() ? list()->count + list()->untracked : 0; }

Status unmap_page(uint64_t va) {
  uint64_t pte = read_pte(va);
  if (!(pte & layout::kPtePresent)) return veneer::ERR_NOT_FOUND;
  uint64_t pfn = layout::pte_pfn(pte);
  SysResult r = sys_page_unmap(kSelfSlot, va);
  if (r.status != veneer::OK) return static_cast<Status>(r.status);
  if (frame(pfn).owner == me() && frame(pfn).kind == veneer::FRAME_USER) {
    if (frame(pfn).mappings == 0) sys_frame_free(kFrameByPfn | pfn);
    else remember_released(pfn);
  }
  return veneer::OK;
}

Status break_cow(uint64_t page) {
  uint64_t pte = read_pte(page);
  if (!(pte & layout::kPtePresent)) return veneer::ERR_NOT_FOUND;
  uint64_t pfn = layout::pte_pfn(pte);
  uint64_t perms = (layout::pte_perms(pte) | veneer::PERM_WRITE) & ~layout::kMarkCow;
  bool ours = frame(pfn).owner == me();
  if (ours && frame(pfn).mappings == 1)  // nobody else maps it: take it back as it is
    return static_cast<Status>(sys_page_map(kSelfSlot, page, kFrameByPfn | pfn, perms).status);
  // Shared with someone: copy it into a frame of our own, through the
  // scratch page, and bind the copy with the scratch unmapped in one batch.
  // (No global is written between mapping and unmapping the scratch page: a
  // nested copy-on-write fault there would reuse it.)
  SysResult r = sys_frame_alloc(veneer::kAnyFrame, kSelfSlot, veneer::kNoSlot);
  if (r.status == veneer::ERR_QUOTA || r.status == veneer::ERR_NO_MEMORY) {
    sweep();
    r = sys_frame_alloc(veneer::kAnyFrame, kSelfSlot, veneer::kNoSlot);
  }
  if (r.status != veneer::OK) return static_cast<Status>(r.status);
  uint64_t fresh = r.value;
  r = sys_page_map(kSelfSlot, layout::kCopyScratch, kFrameByPfn | fresh, veneer::PERM_WRITE | layout::kMarkPrivate);
  if (r.status != veneer::OK) {
    sys_frame_free(kFrameByPfn | fresh);
    return static_cast<Status>(r.status);
  }
  copy_page(reinterpret_cast<void*>(layout::kCopyScratch), reinterpret_cast<const void*>(page));
  veneer::PageOp bind{page, kFrameByPfn | fresh, veneer::PAGE_OP_MAP, static_cast<uint32_t>(perms)};
  veneer::PageOp drop{layout::kCopyScratch, 0, veneer::PAGE_OP_UNMAP, 0};
  veneer::PageOp ops[2] = {bind, drop};
  if (page > layout::kCopyScratch) ops[0] = drop, ops[1] = bind;
  r = sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 2);
  if (r.status != veneer::OK) {
    sys_page_unmap(kSelfSlot, layout::kCopyScratch);
    sys_frame_free(kFrameByPfn | fresh);
    return static_cast<Status>(r.status);
  }
  if (ours) remember_released(pfn);  // the others still map it
  return veneer::OK;
}

namespace {
struct Settle {
  veneer::PageOp ops[64];
  uint32_t n;
  void flush() {
    if (n) sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), n);
    n = 0;
  }
};
}  // namespace

void settle() {
  Settle s{};
  walk(veneer::kUserBase, veneer::kUserTop, [](void* ctx, uint64_t va, uint64_t pte) {
    auto* st = static_cast<Settle*>(ctx);
    if (!(layout::pte_marks(pte) & layout::kMarkCow)) return true;
    uint64_t pfn = layout::pte_pfn(pte);
    const veneer::FrameInfo& f = frame_table()[pfn];
    if (f.owner != me() || f.mappings != 1) return true;
    uint64_t perms = (layout::pte_perms(pte) | veneer::PERM_WRITE) & ~layout::kMarkCow;
    if (!(pte & layout::kPteMayWrite)) {  // bound by a share: rebind it by ownership
      sys_page_map(kSelfSlot, va, kFrameByPfn | pfn, perms);
      return true;
    }
    st->ops[st->n++] = veneer::PageOp{va, 0, veneer::PAGE_OP_PROTECT, static_cast<uint32_t>(perms)};
    if (st->n == 64) st->flush();
    return true;
  }, &s);
  s.flush();
  sweep();
}

}  // namespace exos::vm
