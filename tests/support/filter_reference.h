// The meaning of a packet filter, written straight from the ABI
// (abi/veneer/filter.h) and nothing else: the naive reference that the tree
// interpreter and the compiled code are checked against.
#pragma once

#include <stdint.h>

#include "veneer/filter.h"

namespace veneer::test {

inline bool reference_match(const Filter& f, const uint8_t* frame, uint32_t len) {
  if (len > kFilterMaxFrame) len = kFilterMaxFrame;
  bool shifted = false;
  for (uint32_t i = 0; i < f.natoms; i++) shifted |= (f.atoms[i].flags & FILTER_ATOM_AFTER_SHIFT) != 0;
  uint64_t header = 0;
  if (shifted) {
    if (f.shift.offset >= len) return false;
    header = f.shift.base + (uint64_t(frame[f.shift.offset] & f.shift.mask) << f.shift.shift);
  }
  for (uint32_t i = 0; i < f.natoms; i++) {
    const FilterAtom& a = f.atoms[i];
    uint64_t pos = ((a.flags & FILTER_ATOM_AFTER_SHIFT) ? header : 0) + a.offset;
    if (pos + a.width > len) return false;
    uint32_t v = 0;
    for (uint32_t b = 0; b < a.width; b++) v = (v << 8) | frame[pos + b];
    if ((v & a.mask) != a.value) return false;
  }
  return true;
}

}  // namespace veneer::test
