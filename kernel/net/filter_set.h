// The installed packet filters of the machine: validation, ownership,
// merging and compilation behind one interface. Installing or removing a
// filter rebuilds the merged tree and recompiles it (whole; the cost at 1000
// filters is in docs/benchmarks.md), then swaps the new code in and releases
// the old. A failed install changes nothing.
//
// Not synchronised: the caller serialises install/remove against
// classification (one CPU, non-preemptible kernel today).
#pragma once

#include "filter_compiler.h"
#include "filter_tree.h"

namespace veneer::net {

class FilterSet {
 public:
  // `memory` outlives the set. Compiles the empty set; false if it cannot.
  bool init(const CodeMemory* memory);
  void destroy();  // releases the code

  // Installs `filter` for env `owner`; *id receives its id (the lowest free
  // one). Errors: canonicalize()'s statuses; ERR_FILTER_OVERLAP if a frame
  // could match both it and a filter of another env; ERR_NO_RESOURCES when
  // kMaxFilters filters or kMaxTreeAtoms atoms are installed; ERR_NO_MEMORY
  // if the code cannot be compiled (no code memory).
  Status install(uint32_t owner, const Filter& filter, uint32_t* id);
  // ERR_NOT_FOUND if `id` is not installed, ERR_ACCESS_DENIED if another env
  // owns it; ERR_NO_MEMORY if recompiling fails (the filter stays).
  Status remove(uint32_t owner, uint32_t id);
  // Removes every filter of `owner` (an env being destroyed).
  Status remove_all(uint32_t owner);

  // The lowest id of an installed filter accepting the frame, or
  // kFilterNoMatch; runs the compiled code. Bytes past kFilterMaxFrame are
  // not examined.
  uint32_t classify(const uint8_t* frame, uint32_t len) const {
    return entry_(frame, len > kFilterMaxFrame ? kFilterMaxFrame : len);
  }
  // The same answer from the tree interpreter.
  uint32_t interpret(const uint8_t* frame, uint32_t len) const { return tree_.interpret(frame, len); }

  bool installed(uint32_t id) const { return id < end_ && live_[id]; }
  uint32_t owner(uint32_t id) const { return owners_[id]; }
  const CanonicalFilter& filter(uint32_t id) const { return filters_[id]; }
  uint32_t count() const { return count_; }
  size_t code_size() const { return code_.size; }
  ClassifyFn entry() const { return entry_; }
  const FilterTree& tree() const { return tree_; }
  const FilterCompiler& compiler() const { return compiler_; }

 private:
  bool recompile();

  const CodeMemory* memory_ = nullptr;
  CanonicalFilter filters_[kMaxFilters];
  uint32_t owners_[kMaxFilters];
  bool live_[kMaxFilters];
  bool saved_live_[kMaxFilters];  // remove_all's undo record
  uint32_t count_ = 0;
  uint32_t end_ = 0;  // one past the highest live id: loops stop here
  uint32_t atoms_ = 0;
  FilterTree tree_;
  FilterCompiler compiler_;
  SealedCode code_;
  ClassifyFn entry_ = nullptr;
};

}  // namespace veneer::net
