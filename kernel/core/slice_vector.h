// The CPU as a vector of time slices: ownership of positions and the
// round-robin choice of the next one. The table itself is the read-only
// SliceVector every env sees. Portable (tests/host/slice_vector_test.cc).
#pragma once

#include "veneer/abi.h"

namespace veneer::core {

constexpr uint32_t kNoSlice = 0xFFFFFFFFu;

class Slices {
 public:
  void init(SliceVector* table) {
    t_ = table;
    for (auto& o : t_->owner) o = kNoOwner;
    t_->current = 0;
    t_->running = 0;
  }

  // Gives position `pos` to env `id`. ERR_OUT_OF_RANGE / ERR_BUSY.
  Status alloc(uint64_t pos, uint32_t id) {
    if (pos >= kSlices) return ERR_OUT_OF_RANGE;
    if (t_->owner[pos] != kNoOwner) return ERR_BUSY;
    t_->owner[pos] = id;
    return OK;
  }

  // Returns a position env `id` holds. ERR_OUT_OF_RANGE / ERR_ACCESS_DENIED.
  Status free(uint64_t pos, uint32_t id) {
    if (pos >= kSlices) return ERR_OUT_OF_RANGE;
    if (t_->owner[pos] != id) return ERR_ACCESS_DENIED;
    t_->owner[pos] = kNoOwner;
    return OK;
  }

  // Frees every position of `id`; returns how many it held.
  uint32_t free_all(uint32_t id) {
    uint32_t n = 0;
    for (auto& o : t_->owner)
      if (o == id) o = kNoOwner, n++;
    return n;
  }

  uint32_t count(uint32_t id) const {
    uint32_t n = 0;
    for (uint32_t o : t_->owner) n += o == id;
    return n;
  }

  // The first position after `from` (cyclically, `from` itself last) whose
  // owner `runnable(owner)` accepts; kNoSlice if none does.
  template <typename F>
  uint32_t next(uint32_t from, F&& runnable) const {
    for (uint32_t k = 1; k <= kSlices; k++) {
      uint32_t p = (from + k) % kSlices;
      if (t_->owner[p] != kNoOwner && runnable(t_->owner[p])) return p;
    }
    return kNoSlice;
  }

  uint32_t owner(uint32_t pos) const { return t_->owner[pos]; }
  SliceVector& table() { return *t_; }

 private:
  SliceVector* t_ = nullptr;
};

}  // namespace veneer::core
