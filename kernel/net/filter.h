// Packet filters: validation into a canonical form, and the exact overlap
// decision that enforces ownership (no two envs may accept the same frame).
// Portable: host-tested in tests/host/filter_test.cc and fuzzed.
#pragma once

#include "veneer/filter.h"
#include "veneer/status.h"

namespace veneer::net {

// A validated filter. Atoms are sorted by key (unshifted before shifted, then
// offset, width, mask) with duplicates merged, so filters that test the same
// fields list them in the same order and share a path in the merged tree. The
// shift is kept only if a shifted atom uses it.
struct CanonicalFilter {
  uint32_t natoms;
  bool has_shift;
  FilterShift shift;
  FilterAtom atoms[kFilterMaxAtoms];
  // Frame bytes every match needs from the frame start (unshifted atoms and
  // the shift byte), and from the shifted header start (shifted atoms).
  uint16_t need_abs;
  uint16_t need_rel;
};

// Orders atom keys: (shifted, shift spec, offset, width, mask). Negative, 0
// or positive like memcmp. Values are not part of the key.
int compare_atom_keys(const CanonicalFilter& a, uint32_t i, const CanonicalFilter& b, uint32_t j);
bool same_shift(const FilterShift& a, const FilterShift& b);

// Validates `in` and writes its canonical form. Statuses, first failing rule
// wins: ERR_FILTER_EMPTY (no atoms); ERR_FILTER_MALFORMED (too many atoms, a
// width other than 1/2/4, a zero mask or one wider than the width, value bits
// outside the mask, unknown flags, reserved bits, a shifted atom without a
// shift, a shift mask of zero or more than 4 bits, a shift over 4, a base past
// the longest frame); ERR_FILTER_PAST_FRAME (an atom or the shift byte cannot
// fit in kFilterMaxFrame bytes whatever the header length);
// ERR_FILTER_NEVER_MATCHES (no frame satisfies every atom).
Status canonicalize(const Filter& in, CanonicalFilter* out);

// A frame both filters accept, when they overlap.
struct OverlapWitness {
  uint32_t len;
  uint8_t bytes[kFilterMaxFrame];
};

// Exact: true iff some frame of at most kFilterMaxFrame bytes is accepted by
// both. Atoms are masked equalities, so this reduces to per-byte consistency
// for each pair of header lengths the two shifts can produce (at most 16 each,
// since a shift mask has at most 4 bits). `witness`, if given, receives such a
// frame.
bool filters_overlap(const CanonicalFilter& a, const CanonicalFilter& b, OverlapWitness* witness = nullptr);

// Reads `width` bytes big-endian.
inline uint32_t load_be(const uint8_t* p, uint32_t width) {
  uint32_t v = 0;
  for (uint32_t i = 0; i < width; i++) v = (v << 8) | p[i];
  return v;
}

}  // namespace veneer::net
