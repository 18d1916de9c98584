// The page-ownership table and the physical frame allocator behind it.
//
// FrameInfo (owner, guard, kind, mappings) is the public half: its pages are
// mapped read-only into every env so library OSes can see who owns what.
// FrameMeta is the kernel-private half: list links (the free list, or the
// owner's list of frames so an env's death frees them all in O(frames)), the
// head of the frame's reverse-map list and, for a leaf page table, where its
// reverse-map links live. The table also keeps each env's EnvInfo.frames,
// the count library OSes read, and charges frames to the owner's account.
// Portable: unit-tested on the host (tests/host/frame_table_test.cc).
#pragma once

#include "kernel/core/accounts.h"
#include "veneer/abi.h"

namespace veneer::core {

constexpr uint32_t kNil = 0xFFFFFFFFu;

struct FrameMeta {
  uint32_t next;
  uint32_t prev;
  uint64_t rmap_head;   // mappable frames: first reverse-map record (kNoRid: unmapped)
  // Leaf page tables: the two FRAME_RMAP frames that hold their entries'
  // reverse-map links (next, prev), and the virtual address they map.
  uint32_t links_next;
  uint32_t links_prev;
  uint64_t table_va;
};

class FrameTable {
 public:
  // Every frame starts as FRAME_KERNEL; boot code then releases usable RAM.
  // `envs` (kMaxEnvs rows, or nullptr) receives each owner's frame count;
  // `accounts` (or nullptr) is charged for every frame an env owns.
  void init(FrameInfo* info, FrameMeta* meta, uint64_t nframes, EnvInfo* envs = nullptr,
            Accounts* accounts = nullptr);
  // Boot only: hands a frame to the free pool.
  void release(uint64_t pfn);
  // Boot only: gives a kernel frame to an env (boot modules, init's stack).
  void assign(uint64_t pfn, uint32_t owner, uint16_t kind);

  // Allocates frame `pfn` (must be free) or, with kAnyFrame, any free frame,
  // charged to the owner's account (ERR_QUOTA when it is full). Validates
  // before changing anything.
  Status alloc(uint64_t pfn, uint32_t owner, uint16_t kind, uint64_t* out);
  // Returns an allocated frame to the free pool and bumps its guard. The
  // caller has already removed every mapping of it.
  void free(uint64_t pfn);
  // Gives an allocated frame to another owner (its account is charged; the
  // caller checked it has room). The guard stays: capabilities to it stay valid.
  void transfer(uint64_t pfn, uint32_t new_owner);
  // Bumps the guard without freeing: every capability made before is stale.
  uint64_t bump_guard(uint64_t pfn);

  // First frame owned by env `owner`, then next_owned(); kNil ends the list.
  uint32_t first_owned(uint32_t owner) const { return owned_head_[env_index(owner)]; }
  uint32_t next_owned(uint32_t pfn) const { return meta_[pfn].next; }

  // The free list, for consistency checks.
  uint32_t first_free() const { return free_head_; }

  uint64_t nframes() const { return nframes_; }
  uint64_t free_count() const { return free_count_; }
  FrameInfo& info(uint64_t pfn) { return info_[pfn]; }
  const FrameInfo& info(uint64_t pfn) const { return info_[pfn]; }
  FrameMeta& meta(uint64_t pfn) { return meta_[pfn]; }
  bool is_free(uint64_t pfn) const { return info_[pfn].owner == kOwnerFree; }

 private:
  void link(uint32_t* head, uint32_t pfn);
  void unlink(uint32_t* head, uint32_t pfn);
  uint32_t* list_of(uint32_t owner);
  // Moves pfn onto / off its owner's list, keeping the owner's count.
  void take(uint32_t owner, uint32_t pfn);
  void drop(uint32_t owner, uint32_t pfn);

  FrameInfo* info_ = nullptr;
  FrameMeta* meta_ = nullptr;
  EnvInfo* envs_ = nullptr;
  Accounts* accounts_ = nullptr;
  uint64_t nframes_ = 0;
  uint64_t free_count_ = 0;
  uint32_t free_head_ = kNil;
  uint32_t owned_head_[kMaxEnvs];
};

}  // namespace veneer::core
