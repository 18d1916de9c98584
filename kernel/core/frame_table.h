// The page-ownership table and the physical frame allocator behind it.
//
// FrameInfo (owner, guard, kind, mappings) is the public half: its pages are
// mapped read-only into every env so library OSes can see who owns what.
// FrameMeta is the kernel-private half: list links (the free list, or the
// owner's list of frames so an env's death frees them all in O(frames)) and
// the head of the frame's reverse-mapping list. It also keeps each env's
// EnvInfo.frames, the count library OSes read, in step with its list.
// Portable: unit-tested on the host (tests/host/frame_table_test.cc).
#pragma once

#include "veneer/abi.h"

namespace veneer::core {

constexpr uint32_t kNil = 0xFFFFFFFFu;

struct FrameMeta {
  uint32_t next;
  uint32_t prev;
  uint32_t rmap_head;  // index into RmapPool, kNil if unmapped
  uint32_t reserved;
};

class FrameTable {
 public:
  // Every frame starts as FRAME_KERNEL; boot code then releases usable RAM.
  // `envs` (kMaxEnvs rows, or nullptr) receives each owner's frame count.
  void init(FrameInfo* info, FrameMeta* meta, uint64_t nframes, EnvInfo* envs = nullptr);
  // Boot only: hands a frame to the free pool.
  void release(uint64_t pfn);
  // Boot only: gives a kernel frame to an env (boot modules, init's stack).
  void assign(uint64_t pfn, uint32_t owner, uint16_t kind);

  // Allocates frame `pfn` (must be free) or, with kAnyFrame, any free frame.
  // Validates before changing anything.
  Status alloc(uint64_t pfn, uint32_t owner, uint16_t kind, uint64_t* out);
  // Returns an allocated frame to the free pool and bumps its guard. The
  // caller has already removed every mapping of it.
  void free(uint64_t pfn);
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
  uint64_t nframes_ = 0;
  uint64_t free_count_ = 0;
  uint32_t free_head_ = kNil;
  uint32_t owned_head_[kMaxEnvs];
};

// Reverse mappings: for each frame, the (env, va) of every PTE that points at
// it, so a freed or revoked frame can be unmapped everywhere.
struct RmapRecord {
  uint64_t va;
  uint32_t env;   // env id
  uint32_t next;  // next record of the same frame, or the free list
};

class RmapPool {
 public:
  void init(RmapRecord* records, uint64_t count);
  bool has_free() const { return free_head_ != kNil; }
  Status add(FrameTable& frames, uint64_t pfn, uint32_t env, uint64_t va);
  // Removes the record for (env, va); false if there was none.
  bool remove(FrameTable& frames, uint64_t pfn, uint32_t env, uint64_t va);
  // Pops any record of `pfn` into *env/*va; false when none is left.
  bool pop(FrameTable& frames, uint64_t pfn, uint32_t* env, uint64_t* va);
  uint64_t free_count() const { return free_count_; }

  // Calls fn(env, va) for every record of `pfn` (at most `limit`; returns
  // false if there were more).
  template <typename F>
  bool for_each(const FrameTable& frames, uint64_t pfn, uint64_t limit, F&& fn) const {
    uint64_t n = 0;
    for (uint32_t r = const_cast<FrameTable&>(frames).meta(pfn).rmap_head; r != kNil; r = rec_[r].next) {
      if (n++ == limit) return false;
      fn(rec_[r].env, rec_[r].va);
    }
    return true;
  }

  // Removes the records of `pfn` for which drop(env, va) returns true.
  template <typename F>
  void remove_if(FrameTable& frames, uint64_t pfn, F&& drop) {
    for (uint32_t* link = &frames.meta(pfn).rmap_head; *link != kNil;) {
      uint32_t r = *link;
      if (!drop(rec_[r].env, rec_[r].va)) {
        link = &rec_[r].next;
        continue;
      }
      *link = rec_[r].next;
      rec_[r].next = free_head_;
      free_head_ = r;
      free_count_++;
      frames.info(pfn).mappings--;
    }
  }

 private:
  RmapRecord* rec_ = nullptr;
  uint32_t free_head_ = kNil;
  uint64_t free_count_ = 0;
};

}  // namespace veneer::core
