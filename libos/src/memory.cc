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

Status frame_free(const Frame& f) {
  SysResult r = sys_frame_free(f.slot);
  if (r.status == veneer::OK) slot_free(f.slot);
  return static_cast<Status>(r.status);
}

Status page_alloc(uint64_t va, uint64_t perms, Frame* out) {
  Frame f;
  Status s = frame_alloc(&f);
  if (s != veneer::OK) return s;
  SysResult r = sys_page_map(veneer::kSelfSlot, va, f.slot, perms);
  if (r.status != veneer::OK) {
    frame_free(f);
    return static_cast<Status>(r.status);
  }
  if (out) *out = f;
  return veneer::OK;
}

}  // namespace exos
