// Reverse maps: for every frame, the PTEs that map it, so a frame that is
// freed, revoked or repossessed can be unmapped everywhere.
//
// A record is the PTE itself, named by its place: (leaf page table's frame
// << 9) | index. The records of one frame form a doubly linked list whose
// links live beside each leaf page table, in two frames (FrameMeta::
// links_next, links_prev) owned by and charged to the env that owns the
// table. So adding or removing a mapping is O(1), the kernel keeps no pool
// an env could exhaust, and the env and address of a record come from its
// table (owner, FrameMeta::table_va). Portable (tests/host/reverse_map_test.cc).
#pragma once

#include "kernel/core/frame_table.h"

namespace veneer::core {

using Rid = uint64_t;
constexpr Rid kNoRid = 0;  // frame 0 is never a page table
constexpr Rid make_rid(uint64_t table_pfn, uint64_t index) { return table_pfn << 9 | index; }
constexpr uint64_t rid_table(Rid r) { return r >> 9; }
constexpr uint64_t rid_index(Rid r) { return r & 511; }

class ReverseMap {
 public:
  // `phys`: where physical address 0 is mapped (the direct map).
  void init(FrameTable* frames, uint8_t* phys) {
    frames_ = frames;
    phys_ = phys;
  }

  // Frame `pfn` is now mapped by the PTE `r` names (which must not be on any
  // list); counts it in FrameInfo.mappings.
  void insert(uint64_t pfn, Rid r) {
    uint64_t& head = frames_->meta(pfn).rmap_head;
    next_of(r) = head;
    prev_of(r) = kNoRid;
    if (head != kNoRid) prev_of(head) = r;
    head = r;
    frames_->info(pfn).mappings++;
  }

  // The PTE `r` names no longer maps `pfn`.
  void remove(uint64_t pfn, Rid r) {
    Rid n = next_of(r), p = prev_of(r);
    if (p != kNoRid) next_of(p) = n;
    else frames_->meta(pfn).rmap_head = n;
    if (n != kNoRid) prev_of(n) = p;
    frames_->info(pfn).mappings--;
  }

  Rid first(uint64_t pfn) const { return frames_->meta(pfn).rmap_head; }
  Rid next(Rid r) const { return const_cast<ReverseMap*>(this)->next_of(r); }
  Rid prev(Rid r) const { return const_cast<ReverseMap*>(this)->prev_of(r); }

  // The PTE a record names, the env whose table holds it, and its address.
  uint64_t* pte(Rid r) const { return table(rid_table(r)) + rid_index(r); }
  uint32_t env(Rid r) const { return frames_->info(rid_table(r)).owner; }
  uint64_t va(Rid r) const { return frames_->meta(rid_table(r)).table_va + (rid_index(r) << 12); }

 private:
  uint64_t* table(uint64_t pfn) const { return reinterpret_cast<uint64_t*>(phys_ + pfn * kPageSize); }
  uint64_t& next_of(Rid r) { return table(frames_->meta(rid_table(r)).links_next)[rid_index(r)]; }
  uint64_t& prev_of(Rid r) { return table(frames_->meta(rid_table(r)).links_prev)[rid_index(r)]; }

  FrameTable* frames_ = nullptr;
  uint8_t* phys_ = nullptr;
};

}  // namespace veneer::core
