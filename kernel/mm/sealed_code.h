// Sealed code pages, for code the kernel generates at run time (compiled
// packet filters): a buffer is written through a writable, non-executable
// alias, then sealed: the alias becomes read-only, its stale TLB entries are
// flushed, and only then is the code mapped executable (read-only). Freeing
// unmaps the code first and makes the alias writable last. So no page of the
// pool is ever writable and executable at once, not even through a TLB.
//
// Portable: the page-table work is done by `Mmu` (kernel/mm/sealed_code.cc
// on x86-64; a model in tests/host/sealed_code_test.cc that checks W^X after
// every step).
//
//   struct Mmu {
//     void set_alias_writable(uint64_t pa, bool writable);  // no flush
//     void flush_alias(uint64_t pa);                        // TLB, all CPUs
//     void map_exec(uint64_t va, uint64_t pa);              // read-only + exec
//     void unmap_exec(uint64_t va);                         // and flush
//     void zero(uint64_t pa);                               // through the alias
//   };
#pragma once

#include <stdint.h>

#include "veneer/status.h"

namespace veneer::mm {

struct CodeBuffer {
  uint64_t first = 0;     // pool index of its first page
  uint64_t pages = 0;     // 0: no buffer
  uint64_t write_pa = 0;  // physical address of the first page (the kernel writes it through the direct map)
  uint64_t exec_va = 0;   // where it runs once sealed
  bool sealed = false;
};

template <typename Mmu, uint64_t kMaxPages = 512>
class SealedCodePool {
 public:
  // `npages` physical pages from pool_pa, run at exec_va (npages pages of
  // virtual space with page tables ready). Every page starts writable in its
  // alias and unmapped at exec_va.
  void init(Mmu* mmu, uint64_t pool_pa, uint64_t npages, uint64_t exec_va) {
    mmu_ = mmu;
    pool_pa_ = pool_pa;
    npages_ = npages < kMaxPages ? npages : kMaxPages;
    exec_va_ = exec_va;
    for (auto& u : used_) u = false;
  }

  // A zeroed buffer of `pages` consecutive pages, writable, not executable.
  Status alloc(uint64_t pages, CodeBuffer* out) {
    if (pages == 0 || pages > npages_) return ERR_INVALID_ARGS;
    for (uint64_t first = 0; first + pages <= npages_; first++) {
      uint64_t n = 0;
      while (n < pages && !used_[first + n]) n++;
      if (n < pages) {
        first += n;
        continue;
      }
      for (uint64_t i = 0; i < pages; i++) {
        used_[first + i] = true;
        mmu_->zero(pa_of(first + i));
      }
      *out = CodeBuffer{first, pages, pa_of(first), exec_va_ + first * kPage, false};
      return OK;
    }
    return ERR_NO_MEMORY;
  }

  // Read-only and executable from here on; the writable alias is gone first.
  Status seal(CodeBuffer* b) {
    if (!valid(*b) || b->sealed) return ERR_BAD_STATE;
    for (uint64_t i = 0; i < b->pages; i++) mmu_->set_alias_writable(pa_of(b->first + i), false);
    for (uint64_t i = 0; i < b->pages; i++) mmu_->flush_alias(pa_of(b->first + i));
    for (uint64_t i = 0; i < b->pages; i++) mmu_->map_exec(exec_va_ + (b->first + i) * kPage, pa_of(b->first + i));
    b->sealed = true;
    return OK;
  }

  // Unmaps (if sealed) and returns the pages; the alias is writable again
  // only once nothing executes them.
  Status free(CodeBuffer* b) {
    if (!valid(*b)) return ERR_BAD_STATE;
    for (uint64_t i = 0; i < b->pages; i++) {
      if (b->sealed) mmu_->unmap_exec(exec_va_ + (b->first + i) * kPage);
      mmu_->set_alias_writable(pa_of(b->first + i), true);
      mmu_->flush_alias(pa_of(b->first + i));
      used_[b->first + i] = false;
    }
    *b = CodeBuffer{};
    return OK;
  }

  uint64_t free_pages() const {
    uint64_t n = 0;
    for (uint64_t i = 0; i < npages_; i++) n += !used_[i];
    return n;
  }

 private:
  static constexpr uint64_t kPage = 4096;
  uint64_t pa_of(uint64_t index) const { return pool_pa_ + index * kPage; }
  bool valid(const CodeBuffer& b) const {
    if (b.pages == 0 || b.first >= npages_ || b.pages > npages_ - b.first) return false;
    if (b.write_pa != pa_of(b.first) || b.exec_va != exec_va_ + b.first * kPage) return false;
    for (uint64_t i = 0; i < b.pages; i++)
      if (!used_[b.first + i]) return false;
    return true;
  }

  Mmu* mmu_ = nullptr;
  uint64_t pool_pa_ = 0, npages_ = 0, exec_va_ = 0;
  bool used_[kMaxPages];
};

}  // namespace veneer::mm
