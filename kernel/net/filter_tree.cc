#include "filter_tree.h"

#include "sort.h"

namespace veneer::net {

namespace {

// Lexicographic order of atom sequences, (key, value) per atom; a proper
// prefix sorts first, so filters ending at a node precede those going on.
int compare_filters(const CanonicalFilter& a, const CanonicalFilter& b) {
  uint32_t n = a.natoms < b.natoms ? a.natoms : b.natoms;
  for (uint32_t i = 0; i < n; i++) {
    int c = compare_atom_keys(a, i, b, i);
    if (c) return c;
    if (a.atoms[i].value != b.atoms[i].value) return a.atoms[i].value < b.atoms[i].value ? -1 : 1;
  }
  return int(a.natoms) - int(b.natoms);
}

}  // namespace

uint16_t FilterTree::shift_id_of(const CanonicalFilter& f) {
  if (!f.has_shift) return 0;
  for (uint32_t i = 0; i < nspecs_; i++)
    if (same_shift(specs_[i], f.shift)) return uint16_t(i + 1);
  specs_[nspecs_++] = f.shift;
  return uint16_t(nspecs_);
}

TreeKey FilterTree::key_of(const CanonicalFilter& f, uint32_t atom) {
  const FilterAtom& a = f.atoms[atom];
  uint16_t id = (a.flags & FILTER_ATOM_AFTER_SHIFT) ? spec_of_[&f - filters_] : 0;
  return TreeKey{a.offset, id, a.width, a.mask};
}

void FilterTree::build(const CanonicalFilter* filters, const bool* live, uint32_t count) {
  filters_ = filters;
  nspecs_ = nnodes_ = ngroups_ = nedges_ = 0;
  uint32_t n = 0;
  for (uint32_t id = 0; id < count && id < kMaxFilters; id++) {
    if (!live[id]) continue;
    order_[n++] = id;
    spec_of_[id] = shift_id_of(filters[id]);
  }
  heap_sort(order_, n, [&](uint32_t x, uint32_t y) {
    int c = compare_filters(filters[x], filters[y]);
    return c < 0 || (c == 0 && x < y);
  });
  build_node(0, n, 0);
}

// Builds the node shared by filters order_[lo, hi), which agree on their
// first `depth` atoms.
uint32_t FilterTree::build_node(uint32_t lo, uint32_t hi, uint32_t depth) {
  uint32_t self = nnodes_++;
  TreeNode node{kFilterNoMatch, kFilterNoMatch, ngroups_, 0};
  uint32_t i = lo;
  for (; i < hi && filters_[order_[i]].natoms == depth; i++)
    if (order_[i] < node.accept) node.accept = order_[i];
  node.min_id = node.accept;

  // One group per distinct key at this depth (keys are contiguous in order_).
  for (uint32_t a = i; a < hi;) {
    uint32_t b = a + 1;
    while (b < hi && compare_atom_keys(filters_[order_[a]], depth, filters_[order_[b]], depth) == 0) b++;
    node.ngroups++;
    a = b;
  }
  ngroups_ += node.ngroups;

  uint32_t g = node.first_group;
  for (uint32_t a = i; a < hi; g++) {
    const CanonicalFilter& fa = filters_[order_[a]];
    uint32_t b = a + 1;
    while (b < hi && compare_atom_keys(fa, depth, filters_[order_[b]], depth) == 0) b++;
    TreeGroup group{key_of(fa, depth), nedges_, 0, kFilterNoMatch, 0xFFFF, 0xFFFF};
    for (uint32_t k = a; k < b; k++) {
      const CanonicalFilter& f = filters_[order_[k]];
      if (k == a || f.atoms[depth].value != filters_[order_[k - 1]].atoms[depth].value) group.nedges++;
      if (f.need_abs < group.need_abs) group.need_abs = f.need_abs;
      if (f.need_rel < group.need_rel) group.need_rel = f.need_rel;
    }
    nedges_ += group.nedges;
    uint32_t e = group.first_edge;
    for (uint32_t c = a; c < b; e++) {
      uint32_t value = filters_[order_[c]].atoms[depth].value;
      uint32_t d = c + 1;
      while (d < b && filters_[order_[d]].atoms[depth].value == value) d++;
      uint32_t child = build_node(c, d, depth + 1);
      edges_[e] = TreeEdge{value, child};
      if (nodes_[child].min_id < group.min_id) group.min_id = nodes_[child].min_id;
      c = d;
    }
    groups_[g] = group;
    if (group.min_id < node.min_id) node.min_id = group.min_id;
    a = b;
  }

  // Groups in order of the lowest id below them (insertion sort: few groups).
  for (uint32_t x = node.first_group + 1; x < node.first_group + node.ngroups; x++)
    for (uint32_t y = x; y > node.first_group && groups_[y - 1].min_id > groups_[y].min_id; y--) {
      TreeGroup t = groups_[y];
      groups_[y] = groups_[y - 1];
      groups_[y - 1] = t;
    }
  nodes_[self] = node;
  return self;
}

uint32_t FilterTree::interpret(const uint8_t* frame, uint32_t len) const {
  if (len > kFilterMaxFrame) len = kFilterMaxFrame;
  return visit(root(), frame, len, kFilterNoMatch);
}

uint32_t FilterTree::visit(uint32_t n, const uint8_t* frame, uint32_t len, uint32_t best) const {
  const TreeNode& node = nodes_[n];
  if (node.accept < best) best = node.accept;
  for (uint32_t g = node.first_group; g < node.first_group + node.ngroups; g++) {
    const TreeGroup& group = groups_[g];
    if (group.min_id >= best) break;
    const TreeKey& key = group.key;
    uint32_t start = 0;
    if (key.shift_id) {
      const FilterShift& s = shift_spec(key.shift_id);
      if (s.offset >= len) continue;
      start = s.base + (uint32_t(frame[s.offset] & s.mask) << s.shift);
    }
    if (start + key.offset + key.width > len) continue;
    uint32_t value = load_be(frame + start + key.offset, key.width) & key.mask;
    uint32_t lo = group.first_edge, hi = group.first_edge + group.nedges;
    while (lo < hi) {
      uint32_t mid = (lo + hi) / 2;
      if (edges_[mid].value < value) lo = mid + 1;
      else hi = mid;
    }
    if (lo < group.first_edge + group.nedges && edges_[lo].value == value)
      best = visit(edges_[lo].child, frame, len, best);
  }
  return best;
}

}  // namespace veneer::net
