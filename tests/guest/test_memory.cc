// Guest tests: secure bindings for physical memory, and bad input to them.
#include "guest_test.h"

namespace {

using namespace veneer;
using exos::sys_frame_alloc;
using exos::sys_page_map;

constexpr uint64_t kVa = 0x0000440000000000;

uint64_t count_free() {
  uint64_t n = 0;
  for (uint64_t p = 0; p < exos::kernel_info().nframes; p++)
    if (exos::frame_table()[p].owner == kOwnerFree) n++;
  return n;
}

uint64_t first_free_pfn() {
  for (uint64_t p = exos::kernel_info().nframes; p-- > 0;)
    if (exos::frame_table()[p].owner == kOwnerFree) return p;
  return 0;
}

// Last fault seen by the recording handler.
volatile uint64_t faults, fault_addr, fault_error;
void record_and_fix_fault(ExceptionFrame* f) {
  faults = faults + 1;
  fault_addr = f->fault_addr;
  fault_error = f->error_code;
  // Make the page writable again (or map one) so the access completes.
  uint64_t page = f->fault_addr & ~(kPageSize - 1);
  if (exos::sys_page_protect(kSelfSlot, page, PERM_WRITE).status != OK)
    exos::page_alloc(page, PERM_WRITE);
}

// Skips the faulting instruction (used for writes that must never succeed).
volatile uint64_t skip_len;
void record_and_skip(ExceptionFrame* f) {
  faults = faults + 1;
  fault_addr = f->fault_addr;
  fault_error = f->error_code;
  f->rip += skip_len;
}

}  // namespace

TEST(kernel_tables_readable) {
  const KernelInfo& k = exos::kernel_info();
  CHECK_EQ(k.magic, kKernelInfoMagic);
  CHECK(k.nframes > 1000);
  CHECK(k.nmodules >= 1);
  const EnvInfo& me = exos::env_table()[env_index(exos::self_id())];
  CHECK_EQ(me.id, exos::self_id());
  CHECK_EQ(me.state, ENV_RUNNABLE);
  // Our stack page is ours in the page-ownership table.
  volatile uint64_t local = 0;
  uint64_t pte = exos::read_pte(reinterpret_cast<uint64_t>(&local) & ~(kPageSize - 1));
  CHECK(pte & 1);
  CHECK(pte & (1 << 6));  // dirty: we just wrote to the stack
  CHECK_EQ(exos::frame_table()[(pte >> 12) & 0xFFFFFFFFFFull].owner, exos::self_id());
}

TEST(kernel_tables_are_read_only) {
  exos::set_exception_handler(14, record_and_skip);
  faults = 0;
  uint64_t before = exos::kernel_info().nframes;
  uint32_t owner_before = exos::frame_table()[0].owner;
  // Each store is `movq %rax, (%rdx)`: 3 bytes.
  skip_len = 3;
  uint64_t targets[] = {kKernelInfoVa, kEnvTableVa, kFrameTableVa,
                        kPageTableWindowVa | (uint64_t(kRecursivePml4Slot) << 30) |
                            (uint64_t(kRecursivePml4Slot) << 21) | (uint64_t(kRecursivePml4Slot) << 12)};
  for (uint64_t t : targets) asm volatile("movq %0, (%1)" ::"a"(0x1234ull), "d"(t) : "memory");
  CHECK_EQ(faults, 4);
  CHECK_EQ(fault_error & 3, 3);  // present, write
  CHECK_EQ(exos::kernel_info().nframes, before);
  CHECK_EQ(exos::frame_table()[0].owner, owner_before);
  exos::set_exception_handler(14, nullptr);
}

TEST(null_and_unknown_syscalls) {
  CHECK_STATUS(exos::sys_null(), OK);
  CHECK_STATUS(exos::raw_syscall(30), ERR_BAD_SYSCALL);
  CHECK_STATUS(exos::raw_syscall(31), ERR_BAD_SYSCALL);
  CHECK_STATUS(exos::raw_syscall(40), ERR_BAD_SYSCALL);
  CHECK_STATUS(exos::raw_syscall(38), ERR_BAD_SYSCALL);
  CHECK_STATUS(exos::raw_syscall(1ull << 40), ERR_BAD_SYSCALL);
  CHECK_STATUS(exos::raw_syscall(~0ull), ERR_BAD_SYSCALL);
}

TEST(frame_alloc_by_physical_name) {
  exos::Frame any;
  CHECK_EQ(exos::frame_alloc(&any), OK);
  CHECK_EQ(exos::frame_table()[any.pfn].owner, exos::self_id());
  CHECK_EQ(exos::frame_table()[any.pfn].kind, FRAME_USER);
  uint64_t want = first_free_pfn();
  exos::Frame named;
  CHECK_EQ(exos::frame_alloc(&named, want), OK);
  CHECK_EQ(named.pfn, want);

  uint64_t free_before = count_free();
  CHECK_STATUS(sys_frame_alloc(want, kSelfSlot, 300), ERR_BUSY);               // taken
  CHECK_STATUS(sys_frame_alloc(exos::kernel_info().nframes, kSelfSlot, 300), ERR_OUT_OF_RANGE);
  CHECK_STATUS(sys_frame_alloc(1ull << 50, kSelfSlot, 300), ERR_OUT_OF_RANGE);
  CHECK_STATUS(sys_frame_alloc(kAnyFrame, kSelfSlot, any.slot), ERR_BUSY);       // slot in use
  CHECK_STATUS(sys_frame_alloc(kAnyFrame, kSelfSlot, kCapSlots), ERR_OUT_OF_RANGE);
  CHECK_STATUS(sys_frame_alloc(kAnyFrame, 777, 300), ERR_BAD_CAP);              // no env cap there
  CHECK_STATUS(sys_frame_alloc(0, kSelfSlot, 300), ERR_BUSY);                   // a kernel frame
  CHECK_EQ(count_free(), free_before);
  CHECK_STATUS(exos::sys_frame_info(300), ERR_BAD_CAP);
  CHECK_EQ(exos::frame_free(any), OK);
  CHECK_EQ(exos::frame_free(named), OK);
  CHECK_EQ(exos::frame_table()[want].owner, kOwnerFree);
}

TEST(map_protect_unmap) {
  exos::set_exception_handler(14, record_and_fix_fault);
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc(&f), OK);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, f.slot, PERM_WRITE), OK);
  auto* p = reinterpret_cast<volatile uint64_t*>(kVa);
  CHECK_EQ(p[0], 0);  // fresh frames are zeroed
  p[0] = 0xABCD;
  uint64_t pte = exos::read_pte(kVa);
  CHECK_EQ((pte >> 12) & 0xFFFFFFFFFFull, f.pfn);
  CHECK(pte & 2);          // writable
  CHECK(pte & (1 << 6));   // dirty
  CHECK(pte & (1ull << 63));  // not executable
  CHECK_EQ(exos::frame_table()[f.pfn].mappings, 1);

  CHECK_STATUS(exos::sys_page_protect(kSelfSlot, kVa, PERM_READ), OK);
  CHECK_EQ(exos::read_pte(kVa) & 2, 0);
  faults = 0;
  p[1] = 7;  // faults; the handler makes it writable again
  CHECK_EQ(faults, 1);
  CHECK_EQ(fault_addr, kVa + 8);
  CHECK_EQ(fault_error & 7, 7);  // present | write | user
  CHECK_EQ(p[1], 7);

  CHECK_STATUS(exos::sys_page_unmap(kSelfSlot, kVa), OK);
  CHECK_EQ(exos::read_pte(kVa) & 1, 0);
  CHECK_EQ(exos::frame_table()[f.pfn].mappings, 0);
  CHECK_STATUS(exos::sys_page_unmap(kSelfSlot, kVa), ERR_NOT_FOUND);
  CHECK_STATUS(exos::sys_page_protect(kSelfSlot, kVa + kPageSize * 64, PERM_READ), ERR_NOT_FOUND);
  CHECK_STATUS(exos::sys_page_protect(kSelfSlot, kVa, 8), ERR_INVALID_ARGS);
  // Mapping the same frame twice is two bindings.
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, f.slot, PERM_WRITE), OK);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa + kPageSize, f.slot, PERM_READ), OK);
  CHECK_EQ(exos::frame_table()[f.pfn].mappings, 2);
  CHECK_EQ(reinterpret_cast<volatile uint64_t*>(kVa + kPageSize)[0], 0xABCD);
  // Freeing the frame removes every binding.
  CHECK_EQ(exos::frame_free(f), OK);
  CHECK_EQ(exos::read_pte(kVa) & 1, 0);
  CHECK_EQ(exos::read_pte(kVa + kPageSize) & 1, 0);
  exos::set_exception_handler(14, nullptr);
}

TEST(forged_and_stale_capabilities) {
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc(&f), OK);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, 999, PERM_READ), ERR_BAD_CAP);        // empty slot
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, kCapSlots, PERM_READ), ERR_OUT_OF_RANGE);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, 1ull << 33, PERM_READ), ERR_OUT_OF_RANGE);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, kSelfSlot, PERM_READ), ERR_BAD_CAP);  // an env cap
  CHECK_STATUS(sys_page_map(f.slot, kVa, f.slot, PERM_READ), ERR_BAD_CAP);        // frame as env
  CHECK_STATUS(sys_page_map(kCapSlots + 5, kVa, f.slot, PERM_READ), ERR_OUT_OF_RANGE);
  CHECK_STATUS(exos::sys_frame_free(kSelfSlot), ERR_BAD_CAP);
  // A copy goes stale when the original is freed.
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kSelfSlot, 301, kRightsAll), OK);
  CHECK_STATUS(exos::sys_frame_info(301), OK);
  CHECK_EQ(exos::frame_free(f), OK);
  CHECK_STATUS(exos::sys_frame_info(301), ERR_STALE_CAP);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, 301, PERM_READ), ERR_STALE_CAP);
  CHECK_STATUS(exos::sys_cap_grant(301, kSelfSlot, 302, kRightsAll), ERR_STALE_CAP);
  CHECK_EQ(exos::read_pte(kVa) & 1, 0);
  // ... even when someone else gets the same frame again.
  exos::Frame again;
  CHECK_EQ(exos::frame_alloc(&again, f.pfn), OK);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, 301, PERM_READ), ERR_STALE_CAP);
  CHECK_STATUS(exos::sys_cap_delete(301), OK);
  CHECK_STATUS(exos::sys_cap_delete(301), ERR_BAD_CAP);
  CHECK_EQ(exos::frame_free(again), OK);
}

TEST(bad_addresses) {
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc(&f), OK);
  uint64_t mappings = exos::frame_table()[f.pfn].mappings;
  const uint64_t bad[] = {0,                       // null page
                          0xFFFF800000000000ull,   // kernel direct map
                          0xFFFFFFFF80100000ull,   // kernel image
                          0x0000800000000000ull,   // non-canonical
                          0x8000000000000000ull,   // non-canonical
                          kKernelTablesVa,         // read-only kernel tables
                          kPageTableWindowVa,      // page-table window
                          kUserTop};
  for (uint64_t va : bad) {
    CHECK_STATUS(sys_page_map(kSelfSlot, va, f.slot, PERM_READ), ERR_BAD_ADDRESS);
    CHECK_STATUS(exos::sys_page_unmap(kSelfSlot, va), ERR_BAD_ADDRESS);
    CHECK_STATUS(exos::sys_page_protect(kSelfSlot, va, PERM_READ), ERR_BAD_ADDRESS);
    CHECK_STATUS(exos::sys_cons_write(va, 8), ERR_BAD_ADDRESS);
    CHECK_STATUS(exos::sys_page_batch(kSelfSlot, va, 1), ERR_BAD_ADDRESS);
  }
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa + 8, f.slot, PERM_READ), ERR_UNALIGNED);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa + 4095, f.slot, PERM_READ), ERR_UNALIGNED);
  CHECK_STATUS(exos::sys_cons_write(kUserTop - 4, 8), ERR_BAD_ADDRESS);          // runs off the end
  CHECK_STATUS(exos::sys_cons_write(0x0000450000000000, 8), ERR_BAD_ADDRESS);     // unmapped
  CHECK_EQ(exos::frame_table()[f.pfn].mappings, mappings);
  CHECK_EQ(exos::read_pte(kVa) & 1, 0);
  CHECK_EQ(exos::frame_free(f), OK);
}

TEST(read_only_capability_cannot_map_writable) {
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc(&f), OK);
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kSelfSlot, 310, RIGHT_READ), OK);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, 310, PERM_WRITE), ERR_ACCESS_DENIED);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, 310, PERM_EXEC), ERR_ACCESS_DENIED);
  CHECK_EQ(exos::read_pte(kVa) & 1, 0);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, 310, PERM_READ), OK);
  CHECK_STATUS(exos::sys_page_protect(kSelfSlot, kVa, PERM_WRITE), ERR_ACCESS_DENIED);
  CHECK_EQ(exos::read_pte(kVa) & 2, 0);
  CHECK_STATUS(exos::sys_frame_free(310), ERR_ACCESS_DENIED);   // no REVOKE right
  CHECK_STATUS(exos::sys_cap_revoke(310), ERR_ACCESS_DENIED);
  CHECK_STATUS(exos::sys_cap_grant(310, kSelfSlot, 311, RIGHT_READ), ERR_ACCESS_DENIED);  // no GRANT
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kSelfSlot, 311, 0x100), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kSelfSlot, 310, RIGHT_READ), ERR_BUSY);
  CHECK_STATUS(exos::sys_page_unmap(kSelfSlot, kVa), OK);
  CHECK_STATUS(exos::sys_cap_delete(310), OK);
  CHECK_EQ(exos::frame_free(f), OK);
}

TEST(double_free) {
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc(&f), OK);
  uint64_t free_before = count_free();
  CHECK_STATUS(exos::sys_frame_free(f.slot), OK);
  CHECK_EQ(count_free(), free_before + 1);
  CHECK_STATUS(exos::sys_frame_free(f.slot), ERR_BAD_CAP);  // the slot was consumed
  CHECK_EQ(count_free(), free_before + 1);
  exos::slot_free(f.slot);

  CHECK_EQ(exos::frame_alloc(&f), OK);
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kSelfSlot, 320, kRightsAll), OK);
  CHECK_STATUS(exos::sys_frame_free(f.slot), OK);
  free_before = count_free();
  uint64_t guard = exos::frame_table()[f.pfn].guard;
  CHECK_STATUS(exos::sys_frame_free(320), ERR_STALE_CAP);   // through a copy
  CHECK_EQ(count_free(), free_before);
  CHECK_EQ(exos::frame_table()[f.pfn].guard, guard);
  CHECK_EQ(exos::frame_table()[f.pfn].owner, kOwnerFree);
  exos::slot_free(f.slot);
  exos::sys_cap_delete(320);
}

TEST(page_batch_validates_everything_first) {
  static PageOp ops[100];
  static exos::Frame fr[100];
  for (int i = 0; i < 100; i++) {
    CHECK_EQ(exos::frame_alloc(&fr[i]), OK);
    ops[i] = PageOp{kVa + i * kPageSize, fr[i].slot, PAGE_OP_MAP, PERM_WRITE};
  }
  // One bad op in the middle: nothing at all changes; the value names it.
  ops[50].va = 0xFFFF800000000000ull;
  veneer::SysResult r = exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 100);
  CHECK_EQ(r.status, ERR_BAD_ADDRESS);
  CHECK_EQ(r.value, 50);
  for (int i = 0; i < 100; i++) CHECK_EQ(exos::read_pte(kVa + i * kPageSize) & 1, 0);
  ops[50].va = kVa + 50 * kPageSize;
  ops[70].frame = 4000;  // empty slot
  r = exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 100);
  CHECK_EQ(r.status, ERR_BAD_CAP);
  CHECK_EQ(r.value, 70);
  CHECK_EQ(exos::read_pte(kVa) & 1, 0);
  ops[70].frame = fr[70].slot;
  ops[99].kind = 7;
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 100), ERR_INVALID_ARGS);
  ops[99].kind = PAGE_OP_MAP;
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), kMaxPageBatch + 1),
               ERR_INVALID_ARGS);
  // All good: 100 pages mapped in one call.
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 100), OK);
  for (int i = 0; i < 100; i++) {
    CHECK_EQ((exos::read_pte(kVa + i * kPageSize) >> 12) & 0xFFFFFFFFFFull, fr[i].pfn);
    reinterpret_cast<volatile uint64_t*>(kVa + i * kPageSize)[0] = i;
  }
  for (int i = 0; i < 100; i++) ops[i].kind = PAGE_OP_UNMAP;
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 100), OK);
  for (int i = 0; i < 100; i++) {
    CHECK_EQ(exos::read_pte(kVa + i * kPageSize) & 1, 0);
    CHECK_EQ(exos::frame_free(fr[i]), OK);
  }
}

TEST(mapping_limits) {
  // One frame bound at kMaxMappingsPerFrame addresses, then one more.
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc(&f), OK);
  static PageOp ops[kMaxPageBatch];
  uint64_t done = 0;
  while (done < kMaxMappingsPerFrame) {
    uint64_t n = kMaxMappingsPerFrame - done < kMaxPageBatch ? kMaxMappingsPerFrame - done : kMaxPageBatch;
    for (uint64_t i = 0; i < n; i++) ops[i] = PageOp{kVa + (done + i) * kPageSize, f.slot, PAGE_OP_MAP, PERM_READ};
    CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), n), OK);
    done += n;
  }
  CHECK_EQ(exos::frame_table()[f.pfn].mappings, kMaxMappingsPerFrame);
  uint64_t next = kVa + kMaxMappingsPerFrame * kPageSize;
  CHECK_STATUS(sys_page_map(kSelfSlot, next, f.slot, PERM_READ), ERR_NO_RESOURCES);
  CHECK_EQ(exos::read_pte(next) & 1, 0);
  ops[0] = PageOp{next, f.slot, PAGE_OP_MAP, PERM_READ};
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 1), ERR_NO_RESOURCES);
  CHECK_EQ(exos::env_info(exos::self_id()).mappings >= kMaxMappingsPerFrame, true);
  // One batch cannot pass the limit either: its maps count as they are
  // checked, so from 1,023 bindings the second of two new ones is refused
  // and neither is made.
  CHECK_STATUS(exos::sys_page_unmap(kSelfSlot, kVa), OK);
  ops[0] = PageOp{next, f.slot, PAGE_OP_MAP, PERM_READ};
  ops[1] = PageOp{next + kPageSize, f.slot, PAGE_OP_MAP, PERM_READ};
  veneer::SysResult r = exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 2);
  CHECK_EQ(r.status, ERR_NO_RESOURCES);
  CHECK_EQ(r.value, 1);
  CHECK_EQ(exos::frame_table()[f.pfn].mappings, kMaxMappingsPerFrame - 1);
  CHECK_EQ(exos::read_pte(next) & 1, 0);
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 1), OK);
  CHECK_EQ(exos::frame_table()[f.pfn].mappings, kMaxMappingsPerFrame);
  // Freeing the frame removes all 1024 bindings at once.
  CHECK_EQ(exos::frame_free(f), OK);
  CHECK_EQ(exos::read_pte(next) & 1, 0);
  CHECK_EQ(exos::read_pte(kVa + 1023 * kPageSize) & 1, 0);
}

TEST(batch_protect_checks_binding_rights) {
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc(&f), OK);
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kSelfSlot, 330, RIGHT_READ), OK);
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa + kPageSize, 330, PERM_READ), OK);  // read-only binding
  CHECK_STATUS(sys_page_map(kSelfSlot, kVa, f.slot, PERM_READ), OK);               // may become writable
  PageOp ops[2] = {{kVa, 0, PAGE_OP_PROTECT, PERM_WRITE}, {kVa + kPageSize, 0, PAGE_OP_PROTECT, PERM_WRITE}};
  veneer::SysResult r = exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 2);
  CHECK_EQ(r.status, ERR_ACCESS_DENIED);
  CHECK_EQ(r.value, 1);
  CHECK_EQ(exos::read_pte(kVa) & 2, 0);  // the valid op was not applied either
  CHECK_STATUS(exos::sys_page_batch(kSelfSlot, reinterpret_cast<uint64_t>(ops), 1), OK);
  CHECK_EQ(exos::read_pte(kVa) & 2, 2);
  exos::sys_cap_delete(330);
  CHECK_EQ(exos::frame_free(f), OK);
}

// page_protect_range: one walk per 2 MiB region, every present page checked
// before any changes, absent pages skipped, the TLB flushed either page by
// page or (above 32 pages) all at once.
TEST(page_protect_range) {
  exos::set_exception_handler(14, record_and_fix_fault);
  exos::Frame f;
  CHECK_EQ(exos::frame_alloc(&f), OK);
  CHECK_STATUS(exos::sys_cap_grant(f.slot, kSelfSlot, 331, RIGHT_READ), OK);
  // Two pages at the end of one region, a hole, a read-only binding in the next.
  const uint64_t base = kVa + 0x1FE000;
  CHECK_STATUS(sys_page_map(kSelfSlot, base, f.slot, PERM_READ), OK);
  CHECK_STATUS(sys_page_map(kSelfSlot, base + kPageSize, f.slot, PERM_READ), OK);
  CHECK_STATUS(sys_page_map(kSelfSlot, base + 3 * kPageSize, 331, PERM_READ), OK);
  veneer::SysResult r = exos::sys_page_protect_range(kSelfSlot, base, 4, PERM_WRITE);
  CHECK_EQ(r.status, ERR_ACCESS_DENIED);
  CHECK_EQ(r.value, 3);  // the page whose binding refuses it
  CHECK_EQ(exos::read_pte(base) & 2, 0);  // nothing changed
  CHECK_EQ(exos::read_pte(base + kPageSize) & 2, 0);
  r = exos::sys_page_protect_range(kSelfSlot, base, 3, PERM_WRITE);
  CHECK_EQ(r.status, OK);
  CHECK_EQ(r.value, 2);  // the hole is skipped, never made present
  CHECK_EQ(exos::read_pte(base + 2 * kPageSize) & 1, 0);
  faults = 0;
  auto* p = reinterpret_cast<volatile uint64_t*>(base);
  p[0] = 1;
  p[kPageSize / 8] = 2;
  CHECK_EQ(faults, 0);
  // Taking write away flushes the TLB entries the writes just made.
  r = exos::sys_page_protect_range(kSelfSlot, base, 4, PERM_READ);
  CHECK_EQ(r.status, OK);
  CHECK_EQ(r.value, 3);
  p[0] = 3;
  CHECK_EQ(faults, 1);
  // Above 32 pages the kernel flushes everything once.
  const uint64_t many = kVa + 0x400000;
  for (uint64_t i = 0; i < 40; i++) CHECK_STATUS(sys_page_map(kSelfSlot, many + i * kPageSize, f.slot, PERM_WRITE), OK);
  for (uint64_t i = 0; i < 40; i++) reinterpret_cast<volatile uint64_t*>(many + i * kPageSize)[1] = i;
  faults = 0;
  r = exos::sys_page_protect_range(kSelfSlot, many, 40, PERM_READ);
  CHECK_EQ(r.status, OK);
  CHECK_EQ(r.value, 40);
  for (uint64_t i = 0; i < 40; i++) reinterpret_cast<volatile uint64_t*>(many + i * kPageSize)[1] = i;
  CHECK_EQ(faults, 40);
  // Bad input: a clear status, nothing changed.
  CHECK_STATUS(exos::sys_page_protect_range(kSelfSlot, many, 0, PERM_WRITE), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_page_protect_range(kSelfSlot, many, kMaxPageBatch + 1, PERM_WRITE), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_page_protect_range(kSelfSlot, many + 8, 1, PERM_WRITE), ERR_UNALIGNED);
  CHECK_STATUS(exos::sys_page_protect_range(kSelfSlot, many, 1, 8), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_page_protect_range(kSelfSlot, kUserTop - kPageSize, 2, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_page_protect_range(kSelfSlot, kKernelTablesVa, 1, PERM_READ), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_page_protect_range(331, many, 1, PERM_READ), ERR_BAD_CAP);
  CHECK_STATUS(exos::sys_page_protect_range(kSelfSlot, kVa + 0x800000, 8, PERM_WRITE), OK);  // nothing there
  CHECK_EQ(exos::read_pte(kVa + 0x800000) & 1, 0);
  exos::sys_cap_delete(331);
  CHECK_EQ(exos::frame_free(f), OK);
  exos::set_exception_handler(14, nullptr);
}

namespace {
volatile uint64_t program_faults;
}  // namespace

// exos::read_pte is one load through the page-table window: where no page
// table reaches the address, the load faults and ExOS's page-fault entry
// answers 0 there, before any page-fault handler of the program's.
TEST(read_pte_where_no_table_reaches) {
  constexpr uint64_t kNowhere = 0x0000650000000000;  // a 512 GiB slot no test maps
  CHECK_EQ(exos::read_pte(kNowhere), 0u);
  CHECK_EQ(exos::read_pte(kNowhere + 0x40201000), 0u);
  program_faults = 0;
  exos::set_exception_handler(14, [](ExceptionFrame*) {
    program_faults = program_faults + 1;
    exos::exit();  // not reached: the window fault never gets here
  });
  CHECK_EQ(exos::read_pte(kNowhere + 0x1000), 0u);
  CHECK_EQ(program_faults, 0u);
  exos::set_exception_handler(14, nullptr);
  // A mapped page reads back as present, with the frame it maps.
  exos::Frame f;
  CHECK_EQ(exos::page_alloc(kNowhere, PERM_WRITE, &f), OK);
  uint64_t pte = exos::read_pte(kNowhere);
  CHECK_EQ(pte & 1, 1u);
  CHECK_EQ((pte >> 12) & 0xFFFFFFFFFull, f.pfn);
  CHECK_EQ(exos::read_pte(kNowhere + 0x200000), 0u);  // the next 2 MiB: no leaf table
  CHECK_EQ(exos::frame_free(f), OK);
}
