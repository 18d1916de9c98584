// Slot and frame management on top of Veneer's capability table.
#include "exos/exos.h"

namespace exos {
namespace {
uint64_t used[kGrantBase / 64] = {1 | 2};  // slots 0 (self) and 1 (machine)
}

int64_t slot_alloc() {
  for (uint64_t w = 0; w < kGrantBase / 64; w++) {
    if (used[w] == ~0ull) continue;
    uint64_t bit = __builtin_ctzll(~used[w]);
    used[w] |= 1ull << bit;
    return static_cast<int64_t>(w * 64 + bit);
  }
  return -1;
}

void slot_free(uint64_t slot) {
  if (slot >= kFirstFreeSlot && slot < kGrantBase) used[slot / 64] &= ~(1ull << (slot % 64));
}

Status frame_alloc(Frame* out, uint64_t pfn) {
  int64_t slot = slot_alloc();
  if (slot < 0) return veneer::ERR_NO_RESOURCES;
  SysResult r = sys_frame_alloc(pfn, veneer::kSelfSlot, slot);
  if (r.status != veneer::OK) {
    slot_free(slot);
    return static_cast<Status>(r.status);
  }
  *out = Frame{static_cast<uint64_t>(slot), r.value};
  return veneer::OK;
}

Status frame_alloc_owned(Frame* out, uint64_t pfn) {
  SysResult r = sys_frame_alloc(pfn, veneer::kSelfSlot, veneer::kNoSlot);
  if (r.status != veneer::OK) return static_cast<Status>(r.status);
  *out = Frame{veneer::kNoSlot, r.value};
  return veneer::OK;
}

Status frame_free(const Frame& f) {
  SysResult r = sys_frame_free(f.ref());
  if (r.status == veneer::OK && f.slot != veneer::kNoSlot) slot_free(f.slot);
  return static_cast<Status>(r.status);
}

namespace {
Status map_new_frame(uint64_t va, uint64_t perms, Frame* out, bool with_capability) {
  Frame f;
  Status s = with_capability ? frame_alloc(&f) : frame_alloc_owned(&f);
  if (s != veneer::OK) return s;
  SysResult r = sys_page_map(veneer::kSelfSlot, va, f.ref(), perms);
  if (r.status != veneer::OK) {
    frame_free(f);
    return static_cast<Status>(r.status);
  }
  if (out) *out = f;
  return veneer::OK;
}
}  // namespace

Status page_alloc(uint64_t va, uint64_t perms, Frame* out) { return map_new_frame(va, perms, out, false); }

Status shared_page_alloc(uint64_t va, uint64_t perms, Frame* out) { return map_new_frame(va, perms, out, true); }

}  // namespace exos
