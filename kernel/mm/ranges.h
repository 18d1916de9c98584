// Sets of physical address ranges, for planning boot-time memory: usable RAM
// minus what is taken, then first-fit placement of the kernel's tables.
// Portable and allocation-free: unit-tested on the host
// (tests/host/ranges_test.cc).
#pragma once

#include <stdint.h>

namespace veneer::mm {

struct PhysRange {
  uint64_t base, end;  // [base, end)
};

// Sorted, disjoint, non-adjacent ranges (adjacent ones merge), at most
// `Capacity` of them.
template <int Capacity>
class BasicRangeList {
 public:
  static constexpr int kCapacity = Capacity;

  // Adds [base, end), merging with what overlaps or touches it. False (and
  // nothing added) when the list is full.
  bool add(uint64_t base, uint64_t end) {
    if (base >= end) return true;
    int i = 0;
    while (i < n_ && r_[i].end < base) i++;
    int j = i;  // ranges i..j-1 overlap or touch [base, end)
    while (j < n_ && r_[j].base <= end) {
      if (r_[j].base < base) base = r_[j].base;
      if (r_[j].end > end) end = r_[j].end;
      j++;
    }
    if (i == j && n_ == kCapacity) return false;
    shift(j, i + 1 - j);
    r_[i] = PhysRange{base, end};
    return true;
  }

  // Removes [base, end) from every range, splitting one if it must. False
  // (and nothing removed) when a split would overflow the list.
  bool remove(uint64_t base, uint64_t end) {
    if (base >= end) return true;
    for (int i = 0; i < n_; i++) {
      PhysRange& r = r_[i];
      if (r.end <= base || r.base >= end) continue;
      if (r.base < base && r.end > end) {  // a hole in the middle
        if (n_ == kCapacity) return false;
        shift(i + 1, 1);
        r_[i + 1] = PhysRange{end, r_[i].end};
        r_[i].end = base;
        return true;
      }
      if (r.base < base) r.end = base;
      else if (r.end > end) r.base = end;
      else {
        shift(i + 1, -1);
        i--;
      }
    }
    return true;
  }

  // Keeps only what lies in [base, end).
  void clip(uint64_t base, uint64_t end) {
    remove(0, base);
    if (end) remove(end, ~0ull);
  }

  // First fit: the lowest `size` bytes aligned to `align` (a power of two)
  // that end at or below `limit`. Takes them out of the list.
  bool take(uint64_t size, uint64_t align, uint64_t limit, uint64_t* out) {
    for (int i = 0; i < n_; i++) {
      uint64_t at = (r_[i].base + align - 1) & ~(align - 1);
      if (at < r_[i].base || at >= r_[i].end || r_[i].end - at < size) continue;
      if (at > limit || limit - at < size) return false;  // sorted: the rest are higher
      if (!remove(at, at + size)) return false;
      *out = at;
      return true;
    }
    return false;
  }

  bool contains(uint64_t base, uint64_t end) const {
    for (int i = 0; i < n_; i++)
      if (r_[i].base <= base && end <= r_[i].end) return true;
    return false;
  }
  uint64_t total() const {
    uint64_t t = 0;
    for (int i = 0; i < n_; i++) t += r_[i].end - r_[i].base;
    return t;
  }
  uint64_t largest() const {
    uint64_t m = 0;
    for (int i = 0; i < n_; i++)
      if (r_[i].end - r_[i].base > m) m = r_[i].end - r_[i].base;
    return m;
  }
  int count() const { return n_; }
  const PhysRange& operator[](int i) const { return r_[i]; }

 private:
  // Moves ranges from index `from` on by `by` slots (negative: left).
  void shift(int from, int by) {
    if (by > 0)
      for (int k = n_ - 1; k >= from; k--) r_[k + by] = r_[k];
    else if (by < 0)
      for (int k = from; k < n_; k++) r_[k + by] = r_[k];
    n_ += by;
  }

  PhysRange r_[kCapacity];
  int n_ = 0;
};

using RangeList = BasicRangeList<128>;

// [base, base + length) as a range, saturating instead of wrapping when a
// firmware map gives a length that runs past the end of the address space.
inline PhysRange range_of(uint64_t base, uint64_t length) {
  return PhysRange{base, length > ~0ull - base ? ~0ull : base + length};
}

}  // namespace veneer::mm
