// The merged decision tree of every installed filter. Filters are sorted by
// their canonical atom sequences and folded into a trie: a node's children
// are grouped by key (the bytes an atom reads and its mask), and each group is
// a multi-way switch on the masked value. Filters sharing a prefix of atoms
// share its tests, so the cost of a lookup follows the depth of the tree, not
// the number of filters.
//
// Result: the lowest filter id that accepts the frame (ownership rules make
// filters of different envs disjoint, so only one env's filters can tie).
// Groups at a node are ordered by the lowest id below them, and a group whose
// lowest id cannot beat the best match so far is skipped.
//
// Fixed-size pools, no heap; built at install time, read by the interpreter
// (interpret()) and by the compiler (filter_compiler.h).
#pragma once

#include "filter.h"

namespace veneer::net {

constexpr uint32_t kMaxFilters = 1024;
// Atoms across all installed filters (each costs at most one node and edge).
constexpr uint32_t kMaxTreeAtoms = 8192;

struct TreeKey {
  uint16_t offset;
  uint16_t shift_id;  // 0: from the frame start; k: from the header start of shift spec k-1
  uint8_t width;
  uint32_t mask;
};

struct TreeEdge {
  uint32_t value;  // masked value, as read big-endian
  uint32_t child;  // node index
};

struct TreeGroup {
  TreeKey key;
  uint32_t first_edge, nedges;  // edges sorted by value
  uint32_t min_id;              // lowest filter id below this group
  uint16_t need_abs;            // every filter below needs this many bytes from the frame start...
  uint16_t need_rel;            // ...and this many from its header start
};

struct TreeNode {
  uint32_t accept;               // lowest id of a filter whose atoms end here, or kFilterNoMatch
  uint32_t min_id;               // lowest filter id at or below this node
  uint32_t first_group, ngroups; // groups sorted by min_id
};

class FilterTree {
 public:
  // Rebuilds the tree from filters[id] for every id < count with live[id].
  // The caller keeps the total atom count within kMaxTreeAtoms.
  void build(const CanonicalFilter* filters, const bool* live, uint32_t count);

  // The lowest id of a filter accepting frame[0, len); kFilterNoMatch if none.
  // Bytes past kFilterMaxFrame are not examined.
  uint32_t interpret(const uint8_t* frame, uint32_t len) const;

  uint32_t root() const { return 0; }
  const TreeNode& node(uint32_t i) const { return nodes_[i]; }
  const TreeGroup& group(uint32_t i) const { return groups_[i]; }
  const TreeEdge& edge(uint32_t i) const { return edges_[i]; }
  const FilterShift& shift_spec(uint16_t shift_id) const { return specs_[shift_id - 1]; }
  uint32_t node_count() const { return nnodes_; }
  uint32_t group_count() const { return ngroups_; }
  uint32_t edge_count() const { return nedges_; }

 private:
  uint32_t build_node(uint32_t lo, uint32_t hi, uint32_t depth);
  uint16_t shift_id_of(const CanonicalFilter& f);
  TreeKey key_of(const CanonicalFilter& f, uint32_t atom);
  uint32_t visit(uint32_t n, const uint8_t* frame, uint32_t len, uint32_t best) const;

  const CanonicalFilter* filters_ = nullptr;
  uint32_t order_[kMaxFilters];      // live filter ids, sorted by atom sequence
  uint16_t spec_of_[kMaxFilters];    // shift_id of each live filter
  FilterShift specs_[kMaxFilters];   // distinct shift specs
  uint32_t nspecs_ = 0;
  TreeNode nodes_[kMaxTreeAtoms + 1];
  TreeGroup groups_[kMaxTreeAtoms];
  TreeEdge edges_[kMaxTreeAtoms];
  uint32_t nnodes_ = 0, ngroups_ = 0, nedges_ = 0;
};

}  // namespace veneer::net
