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
    held_ = 0;
    t_->current = 0;
    t_->running = 0;
  }

  // Gives position `pos` to env `id`. ERR_OUT_OF_RANGE / ERR_BUSY.
  Status alloc(uint64_t pos, uint32_t id) {
    if (pos >= kSlices) return ERR_OUT_OF_RANGE;
    if (t_->owner[pos] != kNoOwner) return ERR_BUSY;
    t_->owner[pos] = id;
    held_ |= 1u << pos;
    return OK;
  }

  // Returns a position env `id` holds. ERR_OUT_OF_RANGE / ERR_ACCESS_DENIED.
  Status free(uint64_t pos, uint32_t id) {
    if (pos >= kSlices) return ERR_OUT_OF_RANGE;
    if (t_->owner[pos] != id) return ERR_ACCESS_DENIED;
    t_->owner[pos] = kNoOwner;
    held_ &= ~(1u << pos);
    return OK;
  }

  // Frees every position of `id`; returns how many it held.
  uint32_t free_all(uint32_t id) {
    uint32_t n = 0;
    for (uint32_t p = 0; p < kSlices; p++)
      if (t_->owner[p] == id) t_->owner[p] = kNoOwner, held_ &= ~(1u << p), n++;
    return n;
  }

  uint32_t count(uint32_t id) const {
    uint32_t n = 0;
    for (uint32_t o : t_->owner) n += o == id;
    return n;
  }

  // The first position after `from` (cyclically, `from` itself last) whose
  // owner `runnable(owner)` accepts; kNoSlice if none does. Visits only
  // held positions (a bit set of them), so its time follows how many are
  // held, not the vector's length.
  template <typename F>
  uint32_t next(uint32_t from, F&& runnable) const {
    const uint32_t upto = from >= kSlices - 1 ? ~0u : (2u << from) - 1;  // positions 0..from
    uint32_t later = held_ & ~upto, m = later ? later : held_ & upto;
    while (m) {
      const uint32_t p = static_cast<uint32_t>(__builtin_ctz(m));
      if (runnable(t_->owner[p])) return p;
      m &= m - 1;
      if (!m && later) m = held_ & upto, later = 0;  // wrap around to 0..from
    }
    return kNoSlice;
  }

  uint32_t owner(uint32_t pos) const { return t_->owner[pos]; }
  SliceVector& table() { return *t_; }

 private:
  SliceVector* t_ = nullptr;
  uint32_t held_ = 0;  // bit p: position p has an owner
  static_assert(kSlices <= 32, "held_ is one bit per position");
};

}  // namespace veneer::core
