// Compiles the merged filter tree (filter_tree.h) to x86-64 machine code.
//
// The code is one function, uint32_t classify(const uint8_t* frame, uint32_t
// len) in the System V convention, returning what FilterTree::interpret
// returns; len must be at most kFilterMaxFrame (FilterSet clamps it). It
// walks the tree with everything static resolved at compile time:
//  - bounds: before a group reads the frame, one compare proves that the frame
//    holds the bytes every filter below needs (hoisted; checks already proven
//    on the path are left out), so a short frame simply fails the group;
//  - a header-length shift is computed once per path into a register;
//  - each group's switch is a compare chain (<= 4 values), a table indexed by
//    value (dense values), a binary search (<= 16), or a perfect hash
//    (hash-and-displace, two multiplies) above that; where every child is a
//    plain accept, the table holds the result itself;
//  - the lowest-id rule (skip a group that cannot beat the best match) is
//    decided statically where it can be, so the common path has no checks.
// Values are compared as loaded (little-endian) against byte-swapped
// constants. Code and tables are generated twice, first only to measure, then
// into W^X memory from CodeMemory, sealed before it is returned.
#pragma once

#include "code_memory.h"
#include "filter_tree.h"
#include "x86_assembler.h"

namespace veneer::net {

using ClassifyFn = uint32_t (*)(const uint8_t* frame, uint32_t len);

class FilterCompiler {
 public:
  // Compiles `tree`; false if code memory ran out (or sealing failed).
  bool compile(const FilterTree& tree, const CodeMemory& memory, SealedCode* out);

  enum Strategy : uint8_t { kLinear, kDenseTable, kBinarySearch, kHash };
  // How the group's switch was compiled (for tests and the benchmark table).
  Strategy strategy(uint32_t group) const { return Strategy(plans_[group].strategy); }

 private:
  struct Plan {
    uint8_t strategy;
    uint8_t bucket_bits, slot_bits;
    uint8_t leaf_table;     // set while emitting: the table holds results, not code offsets
    uint32_t m1, m2;        // hash multipliers
    uint32_t disp_first;    // hash: first displacement in disp_
    uint32_t min_value;     // dense: the smallest value
    uint32_t range;         // dense: table entries
    uint32_t miss_result;   // leaf table: what a miss returns
    uint32_t table_label, fail_label, first_child_label;
  };
  // What the generated code is known to hold at a point of the code.
  struct State {
    bool dead;            // no path reaches here
    bool exact;           // eax == best exactly, else eax <= best
    uint32_t best;
    uint16_t proven_abs;  // len >= proven_abs
    uint16_t shift_id;    // r8 holds the header start of this shift spec (0: nothing)
    uint16_t proven_rel;  // len >= r8 + proven_rel
  };
  static constexpr uint32_t kMaxLabels = 4 * kMaxTreeAtoms + 16;

  void plan(uint32_t g);
  bool build_hash(uint32_t g, Plan* p);
  void emit_pass(uint8_t* buf, size_t cap);
  // Emits node n and the jump to `cont` after it; returns the state it
  // continues to `cont` with (dead if it returns instead).
  State emit_node(uint32_t n, State s, uint32_t pending, uint32_t cont);
  State emit_group(uint32_t g, State s, uint32_t pending, uint32_t fail);
  void emit_binary(uint32_t g, uint32_t lo, uint32_t hi, uint32_t fail, uint32_t first_child);
  void emit_tables();
  State leaf(uint32_t id, State s);
  State end_of_node(State s, uint32_t pending, uint32_t cont);
  static State join(State a, State b);

  uint32_t new_label();
  void bind(uint32_t label);
  size_t label(uint32_t l) const { return label_pos_[l]; }
  uint32_t raw(uint32_t value, uint8_t width) const;
  uint32_t hash(uint32_t key, uint32_t m, uint8_t bits) const { return (key * m) >> (32 - bits); }

  const FilterTree* tree_ = nullptr;
  x86::Assembler* as_ = nullptr;
  bool failed_ = false;
  size_t as_size_ = 0;
  uint32_t ret_label_ = 0;
  uint32_t nlabels_ = 0;
  uint32_t label_pos_[kMaxLabels];
  Plan plans_[kMaxTreeAtoms];
  uint16_t disp_[2 * kMaxTreeAtoms];
  uint32_t ndisp_ = 0;
  uint32_t table_groups_[kMaxTreeAtoms];  // groups whose tables follow the code, in order
  uint32_t ntables_ = 0;
  // Hash construction scratch.
  uint32_t keys_[kMaxTreeAtoms];
  uint32_t bucket_start_[kMaxTreeAtoms + 1];
  uint32_t slot_edge_[4 * kMaxTreeAtoms];
};

}  // namespace veneer::net
