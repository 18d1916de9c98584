#include "filter.h"

namespace veneer::net {

namespace {

constexpr uint32_t width_mask(uint32_t width) { return width == 4 ? 0xFFFFFFFFu : (1u << (8 * width)) - 1; }

uint32_t popcount(uint32_t v) {
  uint32_t n = 0;
  for (; v; v &= v - 1) n++;
  return n;
}

// One byte of the frame constrained: (frame[pos] & mask) == value.
struct ByteRule {
  int32_t pos;
  uint8_t mask;
  uint8_t value;
};

// The rules of one filter's unshifted or shifted atoms, sorted by position,
// at most one per position.
struct Rules {
  uint32_t n = 0;
  ByteRule r[kFilterMaxAtoms * 4];
};

bool rules_agree(const ByteRule& x, const ByteRule& y) { return ((x.value ^ y.value) & x.mask & y.mask) == 0; }

// Adds a rule, merging it with an existing one at the same position. False if
// they contradict.
bool add_rule(Rules* rules, ByteRule rule) {
  uint32_t i = rules->n;
  while (i > 0 && rules->r[i - 1].pos > rule.pos) i--;
  if (i > 0 && rules->r[i - 1].pos == rule.pos) {
    ByteRule& old = rules->r[i - 1];
    if (!rules_agree(old, rule)) return false;
    old.value = uint8_t(old.value | rule.value);
    old.mask = uint8_t(old.mask | rule.mask);
    return true;
  }
  for (uint32_t j = rules->n; j > i; j--) rules->r[j] = rules->r[j - 1];
  rules->r[i] = rule;
  rules->n++;
  return true;
}

bool expand(const CanonicalFilter& f, bool shifted, Rules* out) {
  out->n = 0;
  for (uint32_t i = 0; i < f.natoms; i++) {
    const FilterAtom& a = f.atoms[i];
    if (bool(a.flags & FILTER_ATOM_AFTER_SHIFT) != shifted) continue;
    for (uint32_t b = 0; b < a.width; b++) {
      uint32_t shift = 8 * (a.width - 1 - b);
      uint8_t m = uint8_t(a.mask >> shift);
      if (!m) continue;
      if (!add_rule(out, ByteRule{int32_t(a.offset + b), m, uint8_t(a.value >> shift)})) return false;
    }
  }
  return true;
}

// Two sorted rule lists, displaced by x_off and y_off, agree on every byte.
bool agree(const Rules& x, int32_t x_off, const Rules& y, int32_t y_off) {
  uint32_t i = 0, j = 0;
  while (i < x.n && j < y.n) {
    int32_t px = x.r[i].pos + x_off, py = y.r[j].pos + y_off;
    if (px < py) i++;
    else if (px > py) j++;
    else if (!rules_agree(x.r[i++], y.r[j++])) return false;
  }
  return true;
}

bool agree_one(const Rules& x, int32_t x_off, ByteRule rule) {
  for (uint32_t i = 0; i < x.n; i++)
    if (x.r[i].pos + x_off == rule.pos) return rules_agree(x.r[i], rule);
  return true;
}

// A filter with its rules expanded, and each header length it can see.
struct Expanded {
  const CanonicalFilter* f;
  Rules abs;  // unshifted atoms
  Rules rel;  // shifted atoms, positions from the header start
};

// The `k`th value the shift byte can take under the mask, in increasing order;
// a filter without a shift has exactly one (0). Returns false past the last.
bool shift_value(const CanonicalFilter& f, uint32_t k, uint32_t* value) {
  if (!f.has_shift) {
    *value = 0;
    return k == 0;
  }
  // Deposit the bits of k into the mask's bit positions (k < 2^popcount).
  uint32_t sub = 0, bit = 0;
  for (uint32_t m = f.shift.mask; m; m &= m - 1, bit++)
    if (k >> bit & 1) sub |= m & -m;
  *value = sub;
  return (k >> bit) == 0;
}

int32_t header_start(const CanonicalFilter& f, uint32_t value) {
  return f.has_shift ? int32_t(f.shift.base + (value << f.shift.shift)) : 0;
}

ByteRule shift_rule(const CanonicalFilter& f, uint32_t value) {
  return ByteRule{f.shift.offset, f.shift.mask, uint8_t(value)};
}

// The filter can match with the shift byte at `value`: its rules agree with
// each other and fit the longest frame.
bool feasible(const Expanded& e, uint32_t value) {
  const CanonicalFilter& f = *e.f;
  if (!f.has_shift) return true;
  int32_t start = header_start(f, value);
  if (start + f.need_rel > int32_t(kFilterMaxFrame)) return false;
  ByteRule sr = shift_rule(f, value);
  return agree_one(e.abs, 0, sr) && agree_one(e.rel, start, sr) && agree(e.abs, 0, e.rel, start);
}

void apply(uint8_t* bytes, const Rules& rules, int32_t off) {
  for (uint32_t i = 0; i < rules.n; i++) {
    uint8_t& b = bytes[rules.r[i].pos + off];
    b = uint8_t((b & ~rules.r[i].mask) | rules.r[i].value);
  }
}

void write_witness(const Expanded& a, uint32_t va, const Expanded& b, uint32_t vb, OverlapWitness* w) {
  int32_t sa = header_start(*a.f, va), sb = header_start(*b.f, vb);
  int32_t len = a.f->need_abs;
  if (a.f->has_shift && sa + a.f->need_rel > len) len = sa + a.f->need_rel;
  if (b.f->need_abs > len) len = b.f->need_abs;
  if (b.f->has_shift && sb + b.f->need_rel > len) len = sb + b.f->need_rel;
  w->len = uint32_t(len);
  for (int32_t i = 0; i < len; i++) w->bytes[i] = 0;
  const Expanded* both[2] = {&a, &b};
  uint32_t values[2] = {va, vb};
  for (int k = 0; k < 2; k++) {
    const Expanded& e = *both[k];
    apply(w->bytes, e.abs, 0);
    if (e.f->has_shift) {
      apply(w->bytes, e.rel, header_start(*e.f, values[k]));
      ByteRule sr = shift_rule(*e.f, values[k]);
      w->bytes[sr.pos] = uint8_t((w->bytes[sr.pos] & ~sr.mask) | sr.value);
    }
  }
}

}  // namespace

bool same_shift(const FilterShift& a, const FilterShift& b) {
  return a.offset == b.offset && a.mask == b.mask && a.shift == b.shift && a.base == b.base;
}

int compare_atom_keys(const CanonicalFilter& fa, uint32_t i, const CanonicalFilter& fb, uint32_t j) {
  const FilterAtom& a = fa.atoms[i];
  const FilterAtom& b = fb.atoms[j];
  int sa = a.flags & FILTER_ATOM_AFTER_SHIFT, sb = b.flags & FILTER_ATOM_AFTER_SHIFT;
  if (sa != sb) return sa - sb;
  if (sa) {
    const FilterShift& x = fa.shift;
    const FilterShift& y = fb.shift;
    if (x.offset != y.offset) return x.offset < y.offset ? -1 : 1;
    if (x.mask != y.mask) return x.mask < y.mask ? -1 : 1;
    if (x.shift != y.shift) return x.shift < y.shift ? -1 : 1;
    if (x.base != y.base) return x.base < y.base ? -1 : 1;
  }
  if (a.offset != b.offset) return a.offset < b.offset ? -1 : 1;
  if (a.width != b.width) return a.width < b.width ? -1 : 1;
  if (a.mask != b.mask) return a.mask < b.mask ? -1 : 1;
  return 0;
}

Status canonicalize(const Filter& in, CanonicalFilter* out) {
  if (in.natoms == 0) return ERR_FILTER_EMPTY;
  if (in.natoms > kFilterMaxAtoms) return ERR_FILTER_MALFORMED;
  if (in.flags & ~uint32_t(FILTER_HAS_SHIFT)) return ERR_FILTER_MALFORMED;
  const FilterShift& sh = in.shift;
  bool has_shift = in.flags & FILTER_HAS_SHIFT;
  if (has_shift) {
    if (sh.reserved || sh.mask == 0 || popcount(sh.mask) > kFilterShiftMaskBits ||
        sh.shift > kFilterShiftMaxShift || sh.base > kFilterMaxFrame)
      return ERR_FILTER_MALFORMED;
  } else if (sh.offset || sh.mask || sh.shift || sh.base || sh.reserved) {
    return ERR_FILTER_MALFORMED;
  }
  bool uses_shift = false;
  for (uint32_t i = 0; i < in.natoms; i++) {
    const FilterAtom& a = in.atoms[i];
    if (a.width != 1 && a.width != 2 && a.width != 4) return ERR_FILTER_MALFORMED;
    if (a.mask == 0 || (a.mask & ~width_mask(a.width)) || (a.value & ~a.mask)) return ERR_FILTER_MALFORMED;
    if (a.flags & ~uint32_t(FILTER_ATOM_AFTER_SHIFT)) return ERR_FILTER_MALFORMED;
    if ((a.flags & FILTER_ATOM_AFTER_SHIFT) && !has_shift) return ERR_FILTER_MALFORMED;
    uses_shift |= bool(a.flags & FILTER_ATOM_AFTER_SHIFT);
  }
  if (has_shift && sh.offset >= kFilterMaxFrame) return ERR_FILTER_PAST_FRAME;
  for (uint32_t i = 0; i < in.natoms; i++) {
    const FilterAtom& a = in.atoms[i];
    uint32_t start = (a.flags & FILTER_ATOM_AFTER_SHIFT) ? sh.base : 0;
    if (start + a.offset + a.width > kFilterMaxFrame) return ERR_FILTER_PAST_FRAME;
  }

  // Canonical form: sorted atoms, duplicates merged, the shift only if used.
  CanonicalFilter& f = *out;
  f.has_shift = uses_shift;
  f.shift = uses_shift ? sh : FilterShift{};
  f.natoms = 0;
  CanonicalFilter scratch;  // the atoms as given, sorted by key (insertion sort: at most 16)
  scratch.has_shift = f.has_shift;
  scratch.shift = f.shift;
  scratch.natoms = in.natoms;
  for (uint32_t i = 0; i < in.natoms; i++) scratch.atoms[i] = in.atoms[i];
  for (uint32_t i = 1; i < scratch.natoms; i++)
    for (uint32_t j = i; j > 0 && compare_atom_keys(scratch, j - 1, scratch, j) > 0; j--) {
      FilterAtom t = scratch.atoms[j];
      scratch.atoms[j] = scratch.atoms[j - 1];
      scratch.atoms[j - 1] = t;
    }
  for (uint32_t i = 0; i < scratch.natoms; i++) {
    if (f.natoms > 0 && compare_atom_keys(scratch, i, f, f.natoms - 1) == 0) {
      if (scratch.atoms[i].value != f.atoms[f.natoms - 1].value) return ERR_FILTER_NEVER_MATCHES;
      continue;
    }
    f.atoms[f.natoms++] = scratch.atoms[i];
  }
  for (uint32_t i = f.natoms; i < kFilterMaxAtoms; i++) f.atoms[i] = FilterAtom{};

  f.need_abs = f.has_shift ? uint16_t(f.shift.offset + 1) : 0;
  f.need_rel = 0;
  for (uint32_t i = 0; i < f.natoms; i++) {
    const FilterAtom& a = f.atoms[i];
    uint16_t end = uint16_t(a.offset + a.width);
    uint16_t& need = (a.flags & FILTER_ATOM_AFTER_SHIFT) ? f.need_rel : f.need_abs;
    if (end > need) need = end;
  }

  Expanded e;
  e.f = &f;
  if (!expand(f, false, &e.abs) || !expand(f, true, &e.rel)) return ERR_FILTER_NEVER_MATCHES;
  uint32_t value;
  for (uint32_t k = 0; shift_value(f, k, &value); k++)
    if (feasible(e, value)) return OK;
  return ERR_FILTER_NEVER_MATCHES;
}

// The header-length values under which each filter can match, at most 16.
struct Feasible {
  uint32_t n = 0;
  uint32_t value[1u << kFilterShiftMaskBits];
};

void feasible_values(const Expanded& e, Feasible* out) {
  uint32_t value;
  for (uint32_t k = 0; shift_value(*e.f, k, &value); k++)
    if (feasible(e, value)) out->value[out->n++] = value;
}

// The common case, settled without expanding: both filters test the same key
// (for shifted atoms that includes the shift, so both read the same bytes of
// any frame) against different values. Atoms are sorted by key.
bool same_key_differs(const CanonicalFilter& a, const CanonicalFilter& b) {
  uint32_t i = 0, j = 0;
  while (i < a.natoms && j < b.natoms) {
    int c = compare_atom_keys(a, i, b, j);
    if (c < 0) i++;
    else if (c > 0) j++;
    else if (a.atoms[i++].value != b.atoms[j++].value) return true;
  }
  return false;
}

bool filters_overlap(const CanonicalFilter& a, const CanonicalFilter& b, OverlapWitness* witness) {
  if (same_key_differs(a, b)) return false;
  Expanded ea, eb;
  ea.f = &a;
  eb.f = &b;
  // Canonical filters never contradict themselves, so expansion succeeds.
  if (!expand(a, false, &ea.abs) || !expand(a, true, &ea.rel) || !expand(b, false, &eb.abs) ||
      !expand(b, true, &eb.rel))
    return false;
  if (!agree(ea.abs, 0, eb.abs, 0)) return false;
  Feasible fa, fb;
  feasible_values(ea, &fa);
  feasible_values(eb, &fb);
  for (uint32_t i = 0; i < fa.n; i++) {
    uint32_t va = fa.value[i];
    int32_t sa = header_start(a, va);
    for (uint32_t j = 0; j < fb.n; j++) {
      uint32_t vb = fb.value[j];
      int32_t sb = header_start(b, vb);
      if (a.has_shift) {
        ByteRule ra = shift_rule(a, va);
        if (b.has_shift && ra.pos == shift_rule(b, vb).pos && !rules_agree(ra, shift_rule(b, vb))) continue;
        if (!agree_one(eb.abs, 0, ra) || (b.has_shift && !agree_one(eb.rel, sb, ra))) continue;
      }
      if (b.has_shift) {
        ByteRule rb = shift_rule(b, vb);
        if (!agree_one(ea.abs, 0, rb) || (a.has_shift && !agree_one(ea.rel, sa, rb))) continue;
      }
      if (b.has_shift && !agree(ea.abs, 0, eb.rel, sb)) continue;
      if (a.has_shift && !agree(ea.rel, sa, eb.abs, 0)) continue;
      if (a.has_shift && b.has_shift && !agree(ea.rel, sa, eb.rel, sb)) continue;
      if (witness) write_witness(ea, va, eb, vb, witness);
      return true;
    }
  }
  return false;
}

}  // namespace veneer::net
