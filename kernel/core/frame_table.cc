#include "frame_table.h"

namespace veneer::core {

void FrameTable::init(FrameInfo* info, FrameMeta* meta, uint64_t nframes, EnvInfo* envs, Accounts* accounts) {
  info_ = info;
  meta_ = meta;
  envs_ = envs;
  accounts_ = accounts;
  nframes_ = nframes;
  free_count_ = 0;
  free_head_ = kNil;
  for (auto& h : owned_head_) h = kNil;
  for (uint64_t i = 0; i < nframes; i++) {
    info_[i] = FrameInfo{kOwnerKernel, FRAME_KERNEL, 0, 0};
    meta_[i] = FrameMeta{kNil, kNil, 0, 0, 0, 0};
  }
}

uint32_t* FrameTable::list_of(uint32_t owner) {
  if (owner == kOwnerFree) return &free_head_;
  if (owner == kOwnerKernel) return nullptr;
  return &owned_head_[env_index(owner)];
}

void FrameTable::link(uint32_t* head, uint32_t pfn) {
  if (!head) return;
  meta_[pfn].prev = kNil;
  meta_[pfn].next = *head;
  if (*head != kNil) meta_[*head].prev = pfn;
  *head = pfn;
}

void FrameTable::unlink(uint32_t* head, uint32_t pfn) {
  if (!head) return;
  FrameMeta& m = meta_[pfn];
  if (m.prev != kNil) meta_[m.prev].next = m.next; else *head = m.next;
  if (m.next != kNil) meta_[m.next].prev = m.prev;
  m.next = m.prev = kNil;
}

void FrameTable::take(uint32_t owner, uint32_t pfn) {
  link(list_of(owner), pfn);
  if (owner == kOwnerFree || owner == kOwnerKernel) return;
  if (envs_) envs_[env_index(owner)].frames++;
  if (accounts_) accounts_->charge(owner, RES_FRAMES, 1);
}

void FrameTable::drop(uint32_t owner, uint32_t pfn) {
  unlink(list_of(owner), pfn);
  if (owner == kOwnerFree || owner == kOwnerKernel) return;
  if (envs_) envs_[env_index(owner)].frames--;
  if (accounts_) accounts_->uncharge(owner, RES_FRAMES, 1);
}

void FrameTable::release(uint64_t pfn) {
  if (pfn >= nframes_ || info_[pfn].owner == kOwnerFree) return;
  drop(info_[pfn].owner, pfn);
  info_[pfn].owner = kOwnerFree;
  info_[pfn].kind = FRAME_FREE;
  link(&free_head_, pfn);
  free_count_++;
}

void FrameTable::assign(uint64_t pfn, uint32_t owner, uint16_t kind) {
  if (pfn >= nframes_) return;
  if (info_[pfn].owner == kOwnerFree) free_count_--;
  drop(info_[pfn].owner, pfn);
  info_[pfn].owner = owner;
  info_[pfn].kind = kind;
  take(owner, pfn);
}

Status FrameTable::alloc(uint64_t pfn, uint32_t owner, uint16_t kind, uint64_t* out) {
  if (accounts_ && !accounts_->can_charge(owner, RES_FRAMES, 1)) return ERR_QUOTA;
  if (pfn == kAnyFrame) {
    if (free_head_ == kNil) return ERR_NO_MEMORY;
    pfn = free_head_;
  } else {
    if (pfn >= nframes_) return ERR_OUT_OF_RANGE;
    if (info_[pfn].owner != kOwnerFree) return ERR_BUSY;
  }
  unlink(&free_head_, static_cast<uint32_t>(pfn));
  free_count_--;
  info_[pfn].owner = owner;
  info_[pfn].kind = kind;
  info_[pfn].mappings = 0;
  meta_[pfn].rmap_head = 0;  // no reverse-map records; a page table's links are set by its user
  meta_[pfn].links_next = meta_[pfn].links_prev = 0;
  meta_[pfn].table_va = 0;
  take(owner, static_cast<uint32_t>(pfn));
  *out = pfn;
  return OK;
}

void FrameTable::free(uint64_t pfn) {
  FrameInfo& f = info_[pfn];
  if (f.owner == kOwnerFree || f.owner == kOwnerKernel) return;
  drop(f.owner, static_cast<uint32_t>(pfn));
  f.owner = kOwnerFree;
  f.kind = FRAME_FREE;
  f.guard++;
  link(&free_head_, static_cast<uint32_t>(pfn));
  free_count_++;
}

void FrameTable::transfer(uint64_t pfn, uint32_t new_owner) {
  drop(info_[pfn].owner, static_cast<uint32_t>(pfn));
  info_[pfn].owner = new_owner;
  take(new_owner, static_cast<uint32_t>(pfn));
}

uint64_t FrameTable::bump_guard(uint64_t pfn) { return ++info_[pfn].guard; }

}  // namespace veneer::core
