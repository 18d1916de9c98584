#include "filter_set.h"

namespace veneer::net {

bool FilterSet::init(const CodeMemory* memory) {
  memory_ = memory;
  for (uint32_t i = 0; i < kMaxFilters; i++) live_[i] = false;
  count_ = atoms_ = end_ = 0;
  code_ = SealedCode{};
  entry_ = nullptr;
  return recompile();
}

void FilterSet::destroy() {
  if (code_.handle) memory_->release(memory_->context, code_.handle);
  code_ = SealedCode{};
  entry_ = nullptr;
}

// Rebuilds the tree from the live filters and swaps in freshly compiled code.
// On failure the old code stays in use (it still matches the old filter set,
// which the caller restores).
bool FilterSet::recompile() {
  while (end_ > 0 && !live_[end_ - 1]) end_--;
  tree_.build(filters_, live_, end_);
  SealedCode fresh;
  if (!compiler_.compile(tree_, *memory_, &fresh)) return false;
  if (code_.handle) memory_->release(memory_->context, code_.handle);
  code_ = fresh;
  entry_ = reinterpret_cast<ClassifyFn>(reinterpret_cast<uintptr_t>(code_.entry));
  return true;
}

Status FilterSet::install(uint32_t owner, const Filter& filter, uint32_t* id) {
  CanonicalFilter f;
  Status s = canonicalize(filter, &f);
  if (s != OK) return s;
  if (count_ == kMaxFilters || atoms_ + f.natoms > kMaxTreeAtoms) return ERR_NO_RESOURCES;
  for (uint32_t i = 0; i < end_; i++)
    if (live_[i] && owners_[i] != owner && filters_overlap(f, filters_[i])) return ERR_FILTER_OVERLAP;
  uint32_t slot = 0;
  while (live_[slot]) slot++;
  filters_[slot] = f;
  owners_[slot] = owner;
  live_[slot] = true;
  uint32_t old_end = end_;
  if (slot >= end_) end_ = slot + 1;
  if (!recompile()) {
    live_[slot] = false;
    end_ = old_end;
    tree_.build(filters_, live_, end_);
    return ERR_NO_MEMORY;
  }
  count_++;
  atoms_ += f.natoms;
  *id = slot;
  return OK;
}

Status FilterSet::remove(uint32_t owner, uint32_t id) {
  if (id >= end_ || !live_[id]) return ERR_NOT_FOUND;
  if (owners_[id] != owner) return ERR_ACCESS_DENIED;
  live_[id] = false;
  if (!recompile()) {
    live_[id] = true;
    end_ = end_ > id + 1 ? end_ : id + 1;
    tree_.build(filters_, live_, end_);
    return ERR_NO_MEMORY;
  }
  count_--;
  atoms_ -= filters_[id].natoms;
  return OK;
}

Status FilterSet::remove_all(uint32_t owner) {
  uint32_t removed = 0, removed_atoms = 0;
  uint32_t old_end = end_;
  for (uint32_t i = 0; i < end_; i++) {
    saved_live_[i] = live_[i];
    if (live_[i] && owners_[i] == owner) {
      live_[i] = false;
      removed++;
      removed_atoms += filters_[i].natoms;
    }
  }
  if (!removed) return OK;
  if (!recompile()) {
    end_ = old_end;
    for (uint32_t i = 0; i < end_; i++) live_[i] = saved_live_[i];
    tree_.build(filters_, live_, end_);
    return ERR_NO_MEMORY;
  }
  count_ -= removed;
  atoms_ -= removed_atoms;
  return OK;
}

}  // namespace veneer::net
