// In-place heapsort of indices: O(n log n), no recursion, no allocation.
#pragma once

#include <stdint.h>

namespace veneer::net {

template <typename Less>
void heap_sort(uint32_t* a, uint32_t n, Less less) {
  auto sift = [&](uint32_t root, uint32_t end) {
    for (;;) {
      uint32_t child = 2 * root + 1;
      if (child >= end) return;
      if (child + 1 < end && less(a[child], a[child + 1])) child++;
      if (!less(a[root], a[child])) return;
      uint32_t t = a[root];
      a[root] = a[child];
      a[child] = t;
      root = child;
    }
  };
  for (uint32_t i = n / 2; i-- > 0;) sift(i, n);
  for (uint32_t end = n; end > 1; end--) {
    uint32_t t = a[0];
    a[0] = a[end - 1];
    a[end - 1] = t;
    sift(0, end - 1);
  }
}

}  // namespace veneer::net
