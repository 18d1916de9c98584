// Guest tests: page_share, the kernel call that binds the caller's own
// mappings into an env it controls (what ExOS's copy-on-write fork, shared
// memory and read-only published tables are built on), and bad input to it.
#include "guest_test.h"

namespace {

using namespace veneer;
using exos::sys_page_share;

constexpr uint64_t kSrc = 0x0000450000000000;    // our pages
constexpr uint64_t kDst = 0x0000460000000000;    // where they go in the other env
constexpr uint64_t kAlias = 0x0000470000000000;  // aliases in our own space
constexpr uint64_t kPteMayWrite = 1ull << 9, kPteHold = 1ull << 11;

uint64_t pte_pfn(uint64_t pte) { return (pte >> 12) & 0xFFFFFFFFFFull; }
const FrameInfo& frame(uint64_t pfn) { return exos::frame_table()[pfn]; }

// A fresh env (never run) that we control, in a new slot.
struct NewEnv {
  uint64_t slot;
  uint32_t id;
  operator uint64_t() const { return slot; }
};
NewEnv new_env() {
  int64_t slot = exos::slot_alloc();
  SysResult r = slot < 0 ? SysResult{ERR_NO_RESOURCES, 0} : exos::sys_env_create(slot);
  if (r.status != OK) exos::panic("env_create");
  return NewEnv{static_cast<uint64_t>(slot), static_cast<uint32_t>(r.value)};
}
void drop_env(uint64_t slot) {
  exos::sys_env_destroy(slot);
  exos::sys_cap_delete(slot);
  exos::slot_free(slot);
}

volatile uint64_t faults;
void skip_write(ExceptionFrame* f) {
  faults = faults + 1;
  f->rip += 3;  // movq %rax, (%rdx)
}
void write_word(uint64_t va, uint64_t v) { asm volatile("movq %0, (%1)" ::"a"(v), "d"(va) : "memory"); }

}  // namespace

TEST(page_share_bad_input) {
  NewEnv child = new_env();
  CHECK_EQ(exos::page_alloc(kSrc, PERM_WRITE), OK);
  CHECK_EQ(exos::page_alloc(kSrc + kPageSize, PERM_WRITE), OK);
  uint64_t pfn = pte_pfn(exos::read_pte(kSrc));
  // The env: no capability, a capability without CONTROL.
  CHECK_STATUS(sys_page_share(999, kDst, kSrc, 1, PERM_READ), ERR_BAD_CAP);
  CHECK_STATUS(sys_page_share(kCapSlots, kDst, kSrc, 1, PERM_READ), ERR_OUT_OF_RANGE);
  int64_t weak = exos::slot_alloc();
  CHECK_STATUS(exos::sys_cap_grant(child, kSelfSlot, weak, RIGHT_DEPOSIT), OK);
  CHECK_STATUS(sys_page_share(weak, kDst, kSrc, 1, PERM_READ), ERR_ACCESS_DENIED);
  // Counts and permissions out of their domain.
  CHECK_STATUS(sys_page_share(child, kDst, kSrc, 0, PERM_READ), ERR_INVALID_ARGS);
  CHECK_STATUS(sys_page_share(child, kDst, kSrc, kMaxPageBatch + 1, PERM_READ), ERR_INVALID_ARGS);
  CHECK_STATUS(sys_page_share(child, kDst, kSrc, ~0ull, PERM_READ), ERR_INVALID_ARGS);
  CHECK_STATUS(sys_page_share(child, kDst, kSrc, 1, 1ull << 20), ERR_INVALID_ARGS);
  CHECK_STATUS(sys_page_share(child, kDst, kSrc, 1, 1ull << 32), ERR_INVALID_ARGS);
  // Addresses: the null page, the kernel, non-canonical, the kernel tables
  // and the page-table window, ranges running past the user top, unaligned.
  CHECK_STATUS(sys_page_share(child, 0, kSrc, 1, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(sys_page_share(child, kDst, 0, 1, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(sys_page_share(child, 0xFFFFFFFF80100000ull, kSrc, 1, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(sys_page_share(child, 0x0000800000000000ull, kSrc, 1, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(sys_page_share(child, kDst, kFrameTableVa, 1, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(sys_page_share(child, kDst, kPageTableWindowVa, 1, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(sys_page_share(child, kPageTableWindowVa, kSrc, 1, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(sys_page_share(child, kUserTop - kPageSize, kSrc, 2, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(sys_page_share(child, kDst, kUserTop - kPageSize, 2, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(sys_page_share(child, kDst + 8, kSrc, 1, PERM_READ), ERR_UNALIGNED);
  CHECK_STATUS(sys_page_share(child, kDst, kSrc + 8, 1, PERM_READ), ERR_UNALIGNED);
  // More than the source binding allows: write or exec of a boot module
  // (the kernel maps modules read-only and non-executable into init).
  uint64_t module = exos::kernel_info().modules[0].va & ~(kPageSize - 1);
  CHECK_STATUS(sys_page_share(child, kDst, module, 1, PERM_WRITE), ERR_ACCESS_DENIED);
  CHECK_STATUS(sys_page_share(child, kDst, module, 1, PERM_EXEC), ERR_ACCESS_DENIED);
  // A refused call binds nothing, not even the pages before the one refused
  // (the value names it): [ours, ours, read-only alias] asking for write.
  CHECK_STATUS(sys_page_share(kSelfSlot, kSrc + 2 * kPageSize, module, 1, PERM_READ), OK);
  SysResult r = sys_page_share(child, kDst, kSrc, 3, PERM_WRITE);
  CHECK_STATUS(r, ERR_ACCESS_DENIED);
  CHECK_EQ(r.value, 2);
  CHECK_EQ(frame(pfn).mappings, 1);
  // Nothing above changed the frame's bindings; a good call does.
  r = sys_page_share(child, kDst, kSrc, 2, PERM_READ);
  CHECK_STATUS(r, OK);
  CHECK_EQ(r.value, 2);
  CHECK_EQ(frame(pfn).mappings, 2);
  CHECK_EQ(frame(pfn).owner, exos::self_id());
  exos::sys_page_unmap(kSelfSlot, kSrc + 2 * kPageSize);
  exos::sys_cap_delete(weak);
  exos::slot_free(weak);
  drop_env(child);
  CHECK_EQ(frame(pfn).mappings, 1);  // the child's binding went with it, the frame stays ours
  CHECK_EQ(frame(pfn).owner, exos::self_id());
  for (uint64_t p = 0; p < 2; p++) {
    uint64_t f = pte_pfn(exos::read_pte(kSrc + p * kPageSize));
    exos::sys_page_unmap(kSelfSlot, kSrc + p * kPageSize);
    CHECK_STATUS(exos::sys_frame_free(kFrameByPfn | f), OK);
  }
}

// A share allows exactly the permissions asked, so a read-only share can
// never be protected writable; absent source pages are skipped; the
// library OS's marks travel; a refused share changes nothing.
TEST(page_share_rights_never_grow) {
  exos::set_exception_handler(14, skip_write);
  CHECK_EQ(exos::page_alloc(kSrc, PERM_WRITE), OK);
  CHECK_EQ(exos::page_alloc(kSrc + 2 * kPageSize, PERM_WRITE), OK);  // page 1 stays absent
  *reinterpret_cast<volatile uint64_t*>(kSrc) = 0xABCD;
  constexpr uint64_t kMark = 1ull << 9;  // a library OS mark (perms bit 9, PTE bit 53)
  SysResult r = sys_page_share(kSelfSlot, kAlias, kSrc, 3, PERM_READ | kMark);
  CHECK_STATUS(r, OK);
  CHECK_EQ(r.value, 2);
  uint64_t alias = exos::read_pte(kAlias);
  CHECK(alias & 1);
  CHECK_EQ(pte_pfn(alias), pte_pfn(exos::read_pte(kSrc)));
  CHECK(!(alias & 2));             // read-only
  CHECK(!(alias & kPteMayWrite));  // and may never be more
  CHECK(alias & kPteHold);         // our own frame by ownership: the binding holds it
  CHECK_EQ((alias >> 53) & 1, 1);  // the mark, where the library OS reads it
  CHECK_EQ(exos::read_pte(kAlias + kPageSize) & 1, 0);  // skipped
  CHECK_EQ(*reinterpret_cast<volatile uint64_t*>(kAlias), 0xABCD);
  faults = 0;
  write_word(kAlias, 1);
  CHECK_EQ(faults, 1);
  CHECK_STATUS(exos::sys_page_protect(kSelfSlot, kAlias, PERM_WRITE), ERR_ACCESS_DENIED);
  veneer::PageOp op{kAlias, 0, PAGE_OP_PROTECT, PERM_WRITE};
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(&op), 1), ERR_ACCESS_DENIED);
  write_word(kSrc, 2);  // the original binding keeps its rights
  CHECK_EQ(faults, 1);
  CHECK_EQ(*reinterpret_cast<volatile uint64_t*>(kAlias), 2);
  // Re-sharing the alias can only narrow further: write is refused.
  CHECK_STATUS(sys_page_share(kSelfSlot, kAlias + 8 * kPageSize, kAlias, 1, PERM_WRITE), ERR_ACCESS_DENIED);
  // A writable share is writable in the target (shared memory).
  CHECK_STATUS(sys_page_share(kSelfSlot, kAlias + 8 * kPageSize, kSrc, 1, PERM_WRITE), OK);
  write_word(kAlias + 8 * kPageSize, 3);
  CHECK_EQ(faults, 1);
  CHECK_EQ(*reinterpret_cast<volatile uint64_t*>(kSrc), 3);
  exos::set_exception_handler(14, nullptr);
  const uint64_t aliases[] = {kAlias, kAlias + 2 * kPageSize, kAlias + 8 * kPageSize};
  for (uint64_t va : aliases) exos::sys_page_unmap(kSelfSlot, va);
  const uint64_t sources[] = {kSrc, kSrc + 2 * kPageSize};
  for (uint64_t va : sources) {
    uint64_t f = pte_pfn(exos::read_pte(va));
    exos::sys_page_unmap(kSelfSlot, va);
    CHECK_STATUS(exos::sys_frame_free(kFrameByPfn | f), OK);
  }
}

// RIGHT_HOLD travels with a share: a frame whose owner dies passes to an
// env holding it through a shared binding; without HOLD it is freed and
// unmapped there.
TEST(page_share_holds_past_the_owner) {
  NewEnv owner = new_env(), holder = new_env();
  int64_t with_hold = exos::slot_alloc(), without = exos::slot_alloc(), plain = exos::slot_alloc();
  // Two frames owned by `owner`; our capabilities to them, one without HOLD.
  SysResult a = exos::sys_frame_alloc(kAnyFrame, owner, with_hold);
  SysResult b = exos::sys_frame_alloc(kAnyFrame, owner, plain);
  CHECK_STATUS(a, OK);
  CHECK_STATUS(b, OK);
  CHECK_STATUS(exos::sys_cap_grant(plain, kSelfSlot, without, kRightsAll & ~RIGHT_HOLD), OK);
  CHECK_STATUS(exos::sys_page_map(kSelfSlot, kSrc, with_hold, PERM_WRITE), OK);
  CHECK_STATUS(exos::sys_page_map(kSelfSlot, kSrc + kPageSize, without, PERM_WRITE), OK);
  *reinterpret_cast<volatile uint64_t*>(kSrc) = 0x401D;
  CHECK_STATUS(sys_page_share(holder, kDst, kSrc, 2, PERM_READ), OK);
  // Only the holder keeps them now.
  exos::sys_page_unmap(kSelfSlot, kSrc);
  exos::sys_page_unmap(kSelfSlot, kSrc + kPageSize);
  CHECK_EQ(frame(a.value).mappings, 1);
  CHECK_EQ(frame(b.value).mappings, 1);
  uint32_t holder_id = holder.id;
  drop_env(owner);
  CHECK_EQ(frame(a.value).owner, holder_id);  // passed to the env that holds it
  CHECK_EQ(frame(a.value).mappings, 1);
  CHECK_EQ(frame(b.value).owner, kOwnerFree);  // no holder: freed, and unmapped there
  CHECK_EQ(frame(b.value).mappings, 0);
  CHECK_EQ(exos::env_table()[env_index(holder_id)].mappings, 1);
  const int64_t slots[] = {with_hold, without, plain};
  for (int64_t s : slots) {
    exos::sys_cap_delete(s);
    exos::slot_free(s);
  }
  drop_env(holder);
  CHECK_EQ(frame(a.value).owner, kOwnerFree);  // the last holder gone: freed
}

// The per-frame mapping limit and the target's account are checked before
// anything changes.
TEST(page_share_limits) {
  // One frame mapped 512 times in our space, shared twice into a child:
  // 1536 bindings, then the limit (1024) refuses the next share at page 0.
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc_owned(&f), OK);
  static PageOp ops[kMaxPageBatch];
  for (uint64_t i = 0; i < kMaxPageBatch; i++) ops[i] = PageOp{kSrc + i * kPageSize, f.ref(), PAGE_OP_MAP, PERM_READ};
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), kMaxPageBatch), OK);
  NewEnv child = new_env();
  CHECK_STATUS(sys_page_share(child, kDst, kSrc, kMaxPageBatch, PERM_READ), OK);
  CHECK_EQ(frame(f.pfn).mappings, 2 * kMaxPageBatch);
  SysResult r = sys_page_share(child, kDst + (1ull << 30), kSrc, kMaxPageBatch, PERM_READ);
  CHECK_STATUS(r, ERR_NO_RESOURCES);
  CHECK_EQ(r.value, 0);
  CHECK_EQ(frame(f.pfn).mappings, 2 * kMaxPageBatch);
  drop_env(child);
  CHECK_EQ(frame(f.pfn).mappings, kMaxPageBatch);
  // One share that would cross the limit part way: its own bindings count
  // as they are decoded, so it is refused at the page that would pass it
  // (768 + 256 = 1024), and nothing of it is bound.
  NewEnv half = new_env();
  CHECK_STATUS(sys_page_share(half, kDst, kSrc, kMaxPageBatch / 2, PERM_READ), OK);
  CHECK_EQ(frame(f.pfn).mappings, kMaxPageBatch + kMaxPageBatch / 2);
  r = sys_page_share(half, kDst + (1ull << 30), kSrc, kMaxPageBatch, PERM_READ);
  CHECK_STATUS(r, ERR_NO_RESOURCES);
  CHECK_EQ(r.value, kMaxPageBatch / 2);
  CHECK_EQ(frame(f.pfn).mappings, kMaxPageBatch + kMaxPageBatch / 2);
  CHECK_EQ(exos::env_info(half.id).mappings, kMaxPageBatch / 2);
  CHECK_EQ(exos::sys_invariant_scan(veneer::kMachineSlot).value, 0);
  drop_env(half);
  CHECK_EQ(frame(f.pfn).mappings, kMaxPageBatch);
  // A child whose account has no room for the page tables a share needs.
  NewEnv poor = new_env();
  uint32_t poor_id = poor.id;
  CHECK_STATUS(exos::sys_env_set_quota(poor, exos::env_info(poor_id).frames, 1, 0), OK);
  r = sys_page_share(poor, kDst, kSrc, 4, PERM_READ);
  CHECK_STATUS(r, ERR_QUOTA);
  CHECK_EQ(exos::env_info(poor_id).mappings, 0);
  CHECK_EQ(frame(f.pfn).mappings, kMaxPageBatch);
  drop_env(poor);
  for (uint64_t i = 0; i < kMaxPageBatch; i++) ops[i].kind = PAGE_OP_UNMAP;
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), kMaxPageBatch), OK);
  CHECK_EQ(exos::frame_free(f), OK);
}
