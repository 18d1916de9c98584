// Guest tests: ExOS as a library operating system. The test init starts
// the process manager and is process 1; it forks itself (the child runs the
// same test code, reports by exit code or through shared memory, and exits),
// spawns and execs child.elf, and checks every frame is accounted for at the
// end of each case: free, or its own (and mapped), none left to anyone else.
#include <initializer_list>

#include "common/elf.h"
#include "exos/heap.h"
#include "exos/ipc.h"
#include "exos/proc.h"
#include "exos/sched.h"
#include "exos/vm.h"
#include "guest_test.h"

namespace {

using namespace veneer;
using exos::proc::Pid;
namespace proc = exos::proc;
namespace ipc = exos::ipc;
namespace vm = exos::vm;
namespace layout = exos::layout;

// ---- Accounting -----------------------------------------------------------------
struct Ledger {
  uint64_t free, mine, others, orphans;  // orphans: our user frames nobody maps
  uint64_t slices_held;                  // positions of the slice vector with an owner
};
Ledger ledger() {
  Ledger l{};
  for (uint32_t i = 0; i < veneer::kSlices; i++) l.slices_held += exos::slice_vector().owner[i] != veneer::kNoOwner;
  const FrameInfo* f = exos::frame_table();
  for (uint64_t p = 0; p < exos::kernel_info().nframes; p++) {
    if (f[p].owner == kOwnerFree) l.free++;
    else if (f[p].owner == exos::self_id()) {
      l.mine++;
      if (f[p].kind == FRAME_USER && f[p].mappings == 0) l.orphans++;
    } else if (f[p].owner != kOwnerKernel) {
      l.others++;
    }
  }
  return l;
}

Ledger at_start;
// Every case: a fresh manager, the default page-fault policy, and a ledger.
void begin() {
  exos::set_exception_handler(14, nullptr);
  vm::settle();
  at_start = ledger();
  CHECK_EQ(proc::start_manager(), OK);
}
// The manager and every process gone, our copy-on-write pages ours again:
// every frame is free or ours, nothing is left to anyone else, none of
// ours is unmapped (leaked), and no slice position is still held.
void end() {
  proc::stop_manager();
  vm::settle();
  Ledger now = ledger();
  CHECK_EQ(now.others, at_start.others);
  CHECK_EQ(now.free + now.mine, at_start.free + at_start.mine);
  CHECK_EQ(now.orphans, at_start.orphans);
  CHECK_EQ(now.slices_held, at_start.slices_held);  // every process's slice positions came back

  CHECK_EQ(vm::released_pending(), 0);
}

int wait_for(Pid pid) {
  Pid got = -1;
  int status = -1;
  if (proc::wait(pid, &got, &status) != OK || got != pid) return -1;
  return status;
}

const BootModule* child_module() { return exos::find_module("child.elf"); }

// A region shared with forked children (marked shared: fork passes it on).
template <typename T>
T* shared_region(uint64_t size = kPageSize) {
  uint64_t va = 0;
  if (vm::map(&va, size, PERM_WRITE, vm::Kind::Shared) != OK) exos::panic("shared region");
  return reinterpret_cast<T*>(va);
}

// Decimal, for arguments.
void utoa(char* out, uint64_t v) {
  char tmp[24];
  int n = 0;
  do tmp[n++] = static_cast<char>('0' + v % 10), v /= 10;
  while (v);
  while (n) *out++ = tmp[--n];
  *out = 0;
}

bool read_pte_present(uint64_t va) { return exos::read_pte(va & ~(kPageSize - 1)) & 1; }

uint64_t pfn_at(const void* p) { return layout::pte_pfn(exos::read_pte(reinterpret_cast<uint64_t>(p) & ~(kPageSize - 1))); }

}  // namespace

// ---- Address spaces ---------------------------------------------------------------

namespace {
// A garbage collector's write barrier: the region is read-only; the first
// write to a page records it (a card) and unprotects the page.
struct Cards {
  uint64_t base;
  uint8_t dirty[64];
  uint64_t faults;
};
Cards cards;
bool write_barrier(vm::Region& r, ExceptionFrame* f) {
  auto* c = static_cast<Cards*>(r.ctx);
  uint64_t page = f->fault_addr & ~(kPageSize - 1);
  if (!(f->error_code & 1)) return false;  // not mapped yet: demand-zero as usual, then we see the write
  c->faults++;
  c->dirty[(page - c->base) / kPageSize] = 1;
  return exos::sys_page_protect(kSelfSlot, page, PERM_WRITE).status == OK;
}
}  // namespace

TEST(exos_regions_policies_protect_dirty) {
  begin();
  // Demand-zero: frames only where touched.
  uint64_t anon = 0;
  CHECK_EQ(vm::map(&anon, 64 * kPageSize, PERM_WRITE), OK);
  CHECK(anon >= layout::kMapBase && anon < layout::kMapTop);
  CHECK_EQ(exos::read_pte(anon) & 1, 0);
  auto* a = reinterpret_cast<volatile uint64_t*>(anon);
  CHECK_EQ(a[5 * 512], 0);
  a[5 * 512] = 7;
  CHECK_EQ(exos::read_pte(anon + 5 * kPageSize) & 1, 1);
  CHECK_EQ(exos::read_pte(anon + 4 * kPageSize) & 1, 0);
  // dirty: read from the PTE through the window, no system call.
  a[9 * 512 + 3];
  CHECK(vm::accessed(anon + 9 * kPageSize));
  CHECK(!vm::dirty(anon + 9 * kPageSize));
  CHECK(vm::dirty(anon + 5 * kPageSize));
  // Overlaps and bad arguments are refused.
  uint64_t at = anon + kPageSize;
  CHECK_EQ(vm::map(&at, kPageSize, PERM_WRITE), ERR_BUSY);
  at = anon + 8;
  CHECK_EQ(vm::map(&at, kPageSize, PERM_WRITE), ERR_INVALID_ARGS);
  at = kUserTop;
  CHECK_EQ(vm::map(&at, kPageSize, PERM_WRITE), ERR_INVALID_ARGS);
  CHECK_EQ(vm::unmap(anon + kPageSize, kPageSize), ERR_INVALID_ARGS);  // part of a region
  // A region too big for the first GiB's mapping area goes above the heap;
  // it costs nothing until touched.
  uint64_t big = 0;
  const Ledger before_big = ledger();
  CHECK_EQ(vm::map(&big, layout::kMapTop - layout::kMapBase + kPageSize, PERM_WRITE), OK);
  CHECK(big >= layout::kMapBase2 && big < layout::kMapTop2);
  CHECK_EQ(ledger().mine, before_big.mine);
  reinterpret_cast<volatile uint64_t*>(big)[(64ull << 20) / 8] = 5;
  CHECK_EQ(reinterpret_cast<volatile uint64_t*>(big)[(64ull << 20) / 8], 5);
  CHECK_EQ(vm::unmap(big, layout::kMapTop - layout::kMapBase + kPageSize), OK);
  CHECK_EQ(exos::read_pte(big + (64ull << 20)) & 1, 0);

  // A write barrier on one region while the other keeps the default policy.
  uint64_t heap = 0;
  CHECK_EQ(vm::map(&heap, 32 * kPageSize, PERM_WRITE), OK);
  for (uint64_t p = 0; p < 32; p++) reinterpret_cast<volatile uint64_t*>(heap)[p * 512] = p;  // all mapped
  cards = Cards{heap, {}, 0};
  CHECK_EQ(vm::set_policy(heap, write_barrier, &cards), OK);
  CHECK_EQ(vm::protect(heap, 32 * kPageSize, PERM_READ), OK);  // one batched call for the range
  for (uint64_t p = 0; p < 32; p++) CHECK_EQ(exos::read_pte(heap + p * kPageSize) & 2, 0);
  for (uint64_t p : {3ull, 17ull, 31ull}) reinterpret_cast<volatile uint64_t*>(heap)[p * 512 + 1] = 1;
  reinterpret_cast<volatile uint64_t*>(heap)[3 * 512 + 2] = 2;  // already unprotected: no fault
  CHECK_EQ(cards.faults, 3);
  uint64_t marked = 0;
  for (uint8_t d : cards.dirty) marked += d;
  CHECK_EQ(marked, 3);
  CHECK(cards.dirty[3] && cards.dirty[17] && cards.dirty[31]);
  a[20 * 512] = 1;  // the other region: still plain demand-zero
  CHECK_EQ(cards.faults, 3);
  // Unprotect the whole range again (one call); the barrier sees nothing more.
  CHECK_EQ(vm::protect(heap, 32 * kPageSize, PERM_WRITE), OK);
  reinterpret_cast<volatile uint64_t*>(heap)[8 * 512] = 1;
  CHECK_EQ(cards.faults, 3);
  CHECK_EQ(vm::set_policy(heap, nullptr, nullptr), OK);
  CHECK_EQ(vm::set_policy(layout::kMapTop2 + kPageSize, nullptr, nullptr), ERR_NOT_FOUND);

  // A guard page ends a process that touches it (here a forked child).
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    uint64_t stack_guard = layout::kStackTop - (8ull << 20) - kPageSize;
    *reinterpret_cast<volatile uint64_t*>(stack_guard) = 1;
    proc::exit(1);  // not reached
  }
  int st = wait_for(child);
  CHECK(proc::signaled(st));
  CHECK_EQ(proc::term_signal(st), proc::kSigSegv);

  // Unmapping a region gives its frames back.
  uint64_t free_before = ledger().free;
  CHECK_EQ(vm::unmap(anon, 64 * kPageSize), OK);
  CHECK_EQ(vm::unmap(heap, 32 * kPageSize), OK);
  CHECK_EQ(ledger().free, free_before + 3 + 32);
  CHECK(vm::find(anon) == nullptr);
  end();
}

TEST(exos_heap_malloc_free_realloc) {
  begin();
  exos::HeapStats before = exos::heap_stats();
  // Many sizes, each filled with its own pattern, freed in a scrambled order.
  constexpr int kBlocks = 200;
  static uint8_t* blocks[kBlocks];
  static size_t sizes[kBlocks];
  uint64_t x = 12345;
  for (int i = 0; i < kBlocks; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    sizes[i] = 1 + (x >> 33) % (i % 5 == 0 ? 20000 : 600);
    blocks[i] = static_cast<uint8_t*>(exos::malloc(sizes[i]));
    CHECK(blocks[i] != nullptr);
    CHECK_EQ(reinterpret_cast<uint64_t>(blocks[i]) & 15, 0);
    CHECK(exos::malloc_usable_size(blocks[i]) >= sizes[i]);
    memset(blocks[i], i & 0xFF, sizes[i]);
  }
  for (int i = 0; i < kBlocks; i++)
    for (size_t k = 0; k < sizes[i]; k += 97) CHECK_EQ(blocks[i][k], i & 0xFF);
  for (int i = 0; i < kBlocks; i += 2) exos::free(blocks[i]);
  // realloc keeps the contents, growing and shrinking.
  for (int i = 1; i < kBlocks; i += 2) {
    size_t grown = sizes[i] * 3 + 5000;
    blocks[i] = static_cast<uint8_t*>(exos::realloc(blocks[i], grown));
    CHECK(blocks[i] != nullptr);
    for (size_t k = 0; k < sizes[i]; k += 31) CHECK_EQ(blocks[i][k], i & 0xFF);
    memset(blocks[i], 0x5A, grown);
    blocks[i] = static_cast<uint8_t*>(exos::realloc(blocks[i], 16));
    CHECK_EQ(blocks[i][15], 0x5A);
  }
  for (int i = 1; i < kBlocks; i += 2) exos::free(blocks[i]);
  CHECK_EQ(exos::heap_stats().blocks_in_use, before.blocks_in_use);
  CHECK_EQ(exos::heap_stats().bytes_in_use, before.bytes_in_use);
  // Freed space is reused (large blocks merge with free neighbours).
  size_t top = exos::heap_stats().heap_top;
  void* big = exos::malloc(60000);
  CHECK(big != nullptr);
  CHECK_EQ(exos::heap_stats().heap_top, top);
  exos::free(big);
  auto* z = static_cast<uint64_t*>(exos::calloc(100, 8));
  uint64_t sum = 0;
  for (int i = 0; i < 100; i++) sum += z[i];
  CHECK_EQ(sum, 0);
  exos::free(z);
  CHECK(exos::calloc(~size_t(0) / 4, 8) == nullptr);
  CHECK(exos::malloc(1ull << 50) == nullptr);
  exos::free(nullptr);
  end();
}

// ---- Processes ------------------------------------------------------------------------

namespace {
volatile uint64_t private_word;
}

TEST(exos_fork_isolation_both_ways) {
  begin();
  auto* shared = shared_region<volatile uint64_t>();
  auto* heap = static_cast<volatile uint64_t*>(exos::malloc(64));
  private_word = 1;
  heap[0] = 10;
  shared[0] = 0;
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    // The child sees the parent's memory as it was at fork ...
    uint64_t ok = private_word == 1 && heap[0] == 10;
    // ... and its writes stay its own.
    private_word = 2;
    heap[0] = 20;
    shared[1] = ok;
    shared[0] = 1;  // written; now wait for the parent's writes
    while (shared[0] != 2) ipc::yield_to(0);
    shared[2] = private_word == 2 && heap[0] == 20;  // the parent's writes did not come here
    proc::exit(7);
  }
  while (shared[0] != 1) exos::yield();
  CHECK_EQ(private_word, 1);  // the child's writes did not come here
  CHECK_EQ(heap[0], 10);
  private_word = 3;
  heap[0] = 30;
  shared[0] = 2;
  int st = wait_for(child);
  CHECK(proc::exited(st));
  CHECK_EQ(proc::exit_code(st), 7);
  CHECK_EQ(shared[1], 1);
  CHECK_EQ(shared[2], 1);
  CHECK_EQ(private_word, 3);
  CHECK_EQ(heap[0], 30);
  exos::free(const_cast<uint64_t*>(heap));
  CHECK_EQ(proc::wait(proc::kAnyChild, nullptr, nullptr), ERR_NO_CHILD);
  end();
}

TEST(exos_fork_cow_shares_frames_until_written) {
  begin();
  auto* report = shared_region<volatile uint64_t>();
  static uint64_t data[3 * 512] __attribute__((aligned(4096)));
  for (int i = 0; i < 3 * 512; i++) data[i] = i;
  uint64_t pfn0 = pfn_at(&data[0]), pfn1 = pfn_at(&data[512]), pfn2 = pfn_at(&data[1024]);
  CHECK_EQ(exos::frame_table()[pfn0].mappings, 1);
  report[0] = 0;
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    // Right after fork: the same frames as the parent, read-only, marked.
    uint64_t pte = exos::read_pte(reinterpret_cast<uint64_t>(&data[0]));
    report[1] = layout::pte_pfn(pte);
    report[2] = !(pte & 2) && (layout::pte_marks(pte) & layout::kMarkCow);
    report[0] = 1;
    while (report[0] != 2) ipc::yield_to(0);
    data[512] = 77;  // the child writes page 1: its own copy now
    report[3] = pfn_at(&data[512]);
    report[4] = data[1024];
    report[0] = 3;
    while (report[0] != 4) ipc::yield_to(0);
    proc::exit(0);
  }
  while (report[0] != 1) exos::yield();
  CHECK_EQ(report[1], pfn0);
  CHECK_EQ(report[2], 1);
  // Counted in the kernel's ownership table: still ours, mapped twice.
  for (uint64_t p : {pfn0, pfn1, pfn2}) {
    CHECK_EQ(exos::frame_table()[p].owner, exos::self_id());
    CHECK_EQ(exos::frame_table()[p].mappings, 2);
  }
  data[0] = 55;  // the parent writes page 0: copied, the child keeps the original
  CHECK(pfn_at(&data[0]) != pfn0);
  CHECK_EQ(exos::frame_table()[pfn0].mappings, 1);
  CHECK_EQ(exos::frame_table()[pfn0].owner, exos::self_id());
  report[0] = 2;
  while (report[0] != 3) exos::yield();
  CHECK(report[3] != pfn1);  // the child copied page 1
  CHECK_EQ(exos::frame_table()[report[3]].owner, exos::frame_table()[report[3]].owner);
  CHECK_EQ(exos::frame_table()[pfn1].mappings, 1);  // only ours
  CHECK_EQ(exos::frame_table()[pfn2].mappings, 2);  // page 2: nobody wrote it, still shared
  CHECK_EQ(report[4], 1024);
  CHECK_EQ(data[512], 512);
  data[512] = 1;  // ours alone again: taken back without a copy
  CHECK_EQ(pfn_at(&data[512]), pfn1);
  report[0] = 4;
  CHECK(proc::exited(wait_for(child)));
  // The child is gone: page 0's original frame (ours, now unmapped) is swept.
  CHECK_EQ(exos::frame_table()[pfn2].mappings, 1);
  vm::sweep();
  CHECK_EQ(exos::frame_table()[pfn0].owner, kOwnerFree);
  end();
}

TEST(exos_fork_child_outlives_parent) {
  begin();
  auto* report = shared_region<volatile uint64_t>();
  report[0] = 0;
  Pid a;
  CHECK_EQ(proc::fork(&a), OK);
  if (a == 0) {
    // Process A: memory of its own, then a child B sharing it copy-on-write;
    // A exits first.
    uint64_t va = 0;
    if (vm::map(&va, 16 * kPageSize, PERM_WRITE) != OK) proc::exit(1);
    auto* mem = reinterpret_cast<volatile uint64_t*>(va);
    for (int p = 0; p < 16; p++) mem[p * 512] = 0xA000 + p;
    report[1] = pfn_at(const_cast<uint64_t*>(&mem[0]));
    Pid b;
    if (proc::fork(&b) != OK) proc::exit(2);
    if (b == 0) {
      while (report[0] != 1) ipc::yield_to(0);  // until A is gone
      uint64_t intact = 1;
      for (int p = 0; p < 16; p++) intact &= mem[p * 512] == uint64_t(0xA000 + p);
      report[2] = intact;
      report[3] = exos::frame_table()[pfn_at(const_cast<uint64_t*>(&mem[0]))].owner == exos::self_id();
      report[4] = proc::getppid();
      mem[0] = 1;  // writable: its own now, no copy needed
      report[5] = pfn_at(const_cast<uint64_t*>(&mem[0])) == report[1];
      proc::exit(9);
    }
    report[6] = static_cast<uint64_t>(b);
    proc::exit(4);
  }
  CHECK(proc::exited(wait_for(a)));  // A is gone ...
  report[0] = 1;                     // ... B carries on
  Pid b = static_cast<Pid>(report[6]);
  int st = wait_for(b);  // B was given to us (process 1) when A exited
  CHECK(proc::exited(st));
  CHECK_EQ(proc::exit_code(st), 9);
  CHECK_EQ(report[2], 1);  // its memory intact
  CHECK_EQ(report[3], 1);  // the frames A owned passed to B, which held them
  CHECK_EQ(report[4], proc::kInitPid);
  CHECK_EQ(report[5], 1);
  CHECK_EQ(exos::frame_table()[report[1]].owner, kOwnerFree);  // and went with B
  end();
}

TEST(exos_fork_of_1000_pages) {
  begin();
  constexpr uint64_t kPages = 1000;
  uint64_t va = 0;
  CHECK_EQ(vm::map(&va, kPages * kPageSize, PERM_WRITE), OK);
  auto* mem = reinterpret_cast<volatile uint64_t*>(va);
  for (uint64_t p = 0; p < kPages; p++) mem[p * 512] = p * 3 + 1;
  auto* report = shared_region<volatile uint64_t>();
  uint64_t t0 = __builtin_ia32_rdtsc();
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    uint64_t ok = 1;
    for (uint64_t p = 0; p < kPages; p++) ok &= mem[p * 512] == p * 3 + 1;
    for (uint64_t p = 0; p < kPages; p += 2) mem[p * 512] = 0;  // half the pages copied
    for (uint64_t p = 1; p < kPages; p += 2) ok &= mem[p * 512] == p * 3 + 1;
    report[0] = ok;
    proc::exit(0);
  }
  uint64_t fork_cost = __builtin_ia32_rdtsc() - t0;
  CHECK(proc::exited(wait_for(child)));
  CHECK_EQ(report[0], 1);
  uint64_t ok = 1;
  for (uint64_t p = 0; p < kPages; p++) ok &= mem[p * 512] == p * 3 + 1;
  CHECK_EQ(ok, 1);
  exos::printf("  fork of %lu touched pages: %lu instructions in the parent\n", kPages, fork_cost);
  CHECK_EQ(vm::unmap(va, kPages * kPageSize), OK);
  end();
}

namespace {
// Copies of child.elf, broken in one way each.
struct BadImage {
  const char* what;
  void (*mutate)(uint8_t* image, uint64_t* size);
};
veneer::elf::Header* hdr(uint8_t* image) { return reinterpret_cast<veneer::elf::Header*>(image); }
veneer::elf::ProgramHeader* ph(uint8_t* image, int i) {
  return reinterpret_cast<veneer::elf::ProgramHeader*>(image + hdr(image)->phoff) + i;
}
int load_index(uint8_t* image, int nth) {
  for (int i = 0; i < hdr(image)->phnum; i++)
    if (ph(image, i)->type == veneer::elf::kPtLoad && nth-- == 0) return i;
  return 0;
}
const BadImage kBadImages[] = {
    {"truncated header", [](uint8_t*, uint64_t* size) { *size = 40; }},
    {"truncated program headers", [](uint8_t*, uint64_t* size) { *size = 80; }},
    {"truncated segment data", [](uint8_t*, uint64_t* size) { *size = 0x1800; }},
    {"not an ELF", [](uint8_t* im, uint64_t*) { im[1] = 'X'; }},
    {"32-bit class", [](uint8_t* im, uint64_t*) { im[4] = 1; }},
    {"wrong machine", [](uint8_t* im, uint64_t*) { hdr(im)->machine = 3; }},
    {"not an executable", [](uint8_t* im, uint64_t*) { hdr(im)->type = 3; }},
    {"overlapping segments",
     [](uint8_t* im, uint64_t*) { ph(im, load_index(im, 2))->vaddr = ph(im, load_index(im, 1))->vaddr + 16; }},
    {"entry outside any segment", [](uint8_t* im, uint64_t*) { hdr(im)->entry = 0x10; }},
    {"entry in a data segment", [](uint8_t* im, uint64_t*) { hdr(im)->entry = ph(im, load_index(im, 3))->vaddr; }},
    {"absurd memory size", [](uint8_t* im, uint64_t*) { ph(im, load_index(im, 3))->memsz = 1ull << 40; }},
    {"size wrapping around", [](uint8_t* im, uint64_t*) { ph(im, load_index(im, 3))->memsz = ~0ull - 0x1000; }},
    {"absurd segment count", [](uint8_t* im, uint64_t*) { hdr(im)->phnum = 60000; }},
    {"file size beyond memory size", [](uint8_t* im, uint64_t*) {
       veneer::elf::ProgramHeader* p = ph(im, load_index(im, 1));
       p->memsz = p->filesz - 1;
     }},
    {"segment in the kernel half", [](uint8_t* im, uint64_t*) { ph(im, load_index(im, 2))->vaddr = 0xFFFF800000000000ull; }},
    {"writable and executable", [](uint8_t* im, uint64_t*) { ph(im, load_index(im, 1))->flags |= veneer::elf::kPfWrite; }},
    {"segment offset past the end", [](uint8_t* im, uint64_t*) { ph(im, load_index(im, 1))->offset = 1ull << 40; }},
};
constexpr int kBadCount = sizeof(kBadImages) / sizeof(kBadImages[0]);
}  // namespace

TEST(exos_exec_bad_elf_fails_cleanly) {
  begin();
  const BootModule* m = child_module();
  CHECK(m != nullptr);
  // Boot modules are init's (fork does not pass them on): the image goes
  // to children in our heap, copy-on-write.
  auto* good = static_cast<uint8_t*>(exos::malloc(m->size));
  auto* copy = static_cast<uint8_t*>(exos::malloc(m->size));
  memcpy(good, reinterpret_cast<const void*>(m->va), m->size);
  // From process 1: exec is refused (the manager cannot replace init), and
  // a bad image never starts a process.
  const char* exit_args[] = {"exit", "5", nullptr};
  CHECK_EQ(proc::exec(good, m->size, exit_args), ERR_ACCESS_DENIED);
  for (int i = 0; i < kBadCount; i++) {
    memcpy(copy, good, m->size);
    uint64_t size = m->size;
    kBadImages[i].mutate(copy, &size);
    Pid pid = 0;
    Status s = proc::spawn(copy, size, exit_args, &pid);
    if (s != ERR_BAD_ELF) exos::printf("  spawn of image with %s: %s\n", kBadImages[i].what, status_name(s));
    CHECK_EQ(s, ERR_BAD_ELF);
  }
  CHECK_EQ(proc::table()->nprocs, 1);
  // In a process: every bad exec fails with ERR_BAD_ELF and leaves it
  // running; then a good one replaces it (same pid, same parent).
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    if (read_pte_present(m->va)) proc::exit(98);  // modules stay init's
    int refused = 0;
    for (int i = 0; i < kBadCount; i++) {
      memcpy(copy, good, m->size);
      uint64_t size = m->size;
      kBadImages[i].mutate(copy, &size);
      if (proc::exec(copy, size, exit_args) == ERR_BAD_ELF) refused++;
    }
    if (refused != kBadCount) proc::exit(100 + refused);
    char pid[12], ppid[12];
    utoa(pid, proc::getpid());
    utoa(ppid, proc::getppid());
    const char* identity[] = {"identity", pid, ppid, nullptr};
    proc::exec(good, m->size, identity);
    proc::exit(99);  // exec failed
  }
  int st = wait_for(child);
  CHECK(proc::exited(st));
  CHECK_EQ(proc::exit_code(st), 42);  // the exec'd image saw the same pid and parent
  exos::free(copy);
  exos::free(good);
  end();
}

TEST(exos_spawn_wait_kill_getppid) {
  begin();
  const BootModule* m = child_module();
  const void* image = reinterpret_cast<const void*>(m->va);
  CHECK_EQ(proc::getpid(), proc::kInitPid);
  CHECK_EQ(proc::getppid(), 0);
  // Exit codes come back through wait.
  Pid a, b;
  const char* exit3[] = {"exit", "3", nullptr};
  CHECK_EQ(proc::spawn(image, m->size, exit3, &a), OK);
  char me[12];
  utoa(me, proc::kInitPid);
  char apid[12];
  const char* dummy[] = {"spin", nullptr};
  CHECK_EQ(proc::spawn(image, m->size, dummy, &b), OK);
  utoa(apid, static_cast<uint64_t>(b) + 1);
  const char* identity[] = {"identity", apid, me, nullptr};
  Pid c;
  CHECK_EQ(proc::spawn(image, m->size, identity, &c), OK);
  CHECK_EQ(c, b + 1);
  int st = wait_for(a);
  CHECK(proc::exited(st));
  CHECK_EQ(proc::exit_code(st), 3);
  st = wait_for(c);
  CHECK_EQ(proc::exit_code(st), 42);
  // kill: b spins until we end it.
  Pid reaped = 0;
  CHECK_EQ(proc::wait(b, &reaped, &st, true), OK);
  CHECK_EQ(reaped, 0);  // still running
  CHECK_EQ(proc::kill(b, proc::kSigTerm), OK);
  st = wait_for(b);
  CHECK(proc::signaled(st));
  CHECK_EQ(proc::term_signal(st), proc::kSigTerm);
  CHECK_EQ(proc::kill(b, proc::kSigTerm), ERR_NO_PROCESS);  // gone
  CHECK_EQ(proc::wait(b, nullptr, nullptr), ERR_NO_CHILD);  // and reaped
  // Crashes: caught by ExOS (a bad pointer: SIGSEGV), or no handler at all
  // (the kernel destroys it; the manager finds it gone: SIGKILL).
  const char* crash[] = {"crash", nullptr};
  const char* crash_nh[] = {"crash-no-handler", nullptr};
  Pid d, e;
  CHECK_EQ(proc::spawn(image, m->size, crash, &d), OK);
  CHECK_EQ(proc::spawn(image, m->size, crash_nh, &e), OK);
  st = wait_for(d);
  CHECK(proc::signaled(st));
  CHECK_EQ(proc::term_signal(st), proc::kSigSegv);
  st = wait_for(e);
  CHECK(proc::signaled(st));
  CHECK_EQ(proc::term_signal(st), proc::kSigKill);
  // Who may kill whom: a process its descendants, never its parent or init.
  auto* report = shared_region<volatile int64_t>();
  Pid f;
  CHECK_EQ(proc::fork(&f), OK);
  if (f == 0) {
    report[0] = proc::kill(proc::kInitPid, proc::kSigKill);
    report[1] = proc::kill(proc::getppid(), proc::kSigKill);
    report[2] = proc::kill(12345, proc::kSigKill);
    report[3] = proc::kill(proc::getpid(), 0);
    report[4] = proc::wait(proc::kAnyChild, nullptr, nullptr);
    proc::kill(proc::getpid(), proc::kSigKill);  // itself: allowed, and final
    proc::exit(1);
  }
  st = wait_for(f);
  CHECK_EQ(proc::term_signal(st), proc::kSigKill);
  CHECK_EQ(report[0], ERR_ACCESS_DENIED);
  CHECK_EQ(report[1], ERR_ACCESS_DENIED);
  CHECK_EQ(report[2], ERR_NO_PROCESS);
  CHECK_EQ(report[3], ERR_INVALID_ARGS);
  CHECK_EQ(report[4], ERR_NO_CHILD);
  CHECK_EQ(proc::table()->nprocs, 1);
  end();
}

// ---- Pipes --------------------------------------------------------------------------------

TEST(exos_pipe_1mib_in_order_through_4kib) {
  begin();
  int fds[2];
  CHECK_EQ(ipc::pipe(fds), OK);
  constexpr uint64_t kTotal = 1 << 20;
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    ipc::close(fds[0]);
    static uint8_t chunk[5000];
    uint64_t sent = 0, n = 1;
    while (sent < kTotal) {
      n = n * 7 % 4999 + 1;  // writes of 1..4999 bytes, some larger than the ring
      if (n > kTotal - sent) n = kTotal - sent;
      for (uint64_t i = 0; i < n; i++) chunk[i] = static_cast<uint8_t>((sent + i) * 131 >> 3);
      if (ipc::write(fds[1], chunk, n) != static_cast<int64_t>(n)) proc::exit(1);
      sent += n;
    }
    proc::exit(0);
  }
  ipc::close(fds[1]);
  static uint8_t buf[3000];
  uint64_t got = 0, bad = 0;
  for (;;) {
    int64_t n = ipc::read(fds[0], buf, 1 + got % 2999);
    if (n <= 0) {
      CHECK_EQ(n, 0);  // end of file once the child is done
      break;
    }
    for (int64_t i = 0; i < n; i++) bad += buf[i] != static_cast<uint8_t>((got + i) * 131 >> 3);
    got += n;
  }
  CHECK_EQ(got, kTotal);
  CHECK_EQ(bad, 0);
  CHECK_EQ(proc::exit_code(wait_for(child)), 0);
  CHECK_EQ(ipc::read(fds[0], buf, 10), 0);
  ipc::close(fds[0]);
  CHECK_EQ(ipc::read(fds[0], buf, 10), ERR_BAD_FD);
  end();
}

TEST(exos_pipe_eof_and_writer_without_reader) {
  begin();
  int p[2];
  CHECK_EQ(ipc::pipe(p), OK);
  // EOF only when the last write end closes: fork duplicates ours.
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    ipc::close(p[0]);
    int extra = ipc::dup(p[1]);
    ipc::write(p[1], "ab", 2);
    ipc::close(p[1]);
    ipc::write(extra, "c", 1);  // the duplicate still writes
    ipc::close(extra);
    proc::exit(0);
  }
  ipc::close(p[1]);
  char buf[8] = {};
  uint64_t got = 0;
  int64_t n;
  while ((n = ipc::read(p[0], buf + got, sizeof(buf) - got)) > 0) got += n;
  CHECK_EQ(n, 0);
  CHECK_EQ(got, 3);
  CHECK_EQ(memcmp(buf, "abc", 3), 0);
  CHECK_EQ(proc::exit_code(wait_for(child)), 0);
  ipc::close(p[0]);
  // A writer with no reader: ERR_PIPE_CLOSED (Linux's EPIPE), at once or
  // as soon as the last reader goes.
  CHECK_EQ(ipc::pipe(p), OK);
  ipc::close(p[0]);
  CHECK_EQ(ipc::write(p[1], "x", 1), ERR_PIPE_CLOSED);
  ipc::close(p[1]);
  CHECK_EQ(ipc::pipe(p), OK);
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    ipc::close(p[1]);
    char c;
    ipc::read(p[0], &c, 1);  // one byte, then it exits with the read end open
    proc::exit(0);
  }
  ipc::close(p[0]);
  static uint8_t big[16384];
  int64_t w = ipc::write(p[1], big, sizeof big);  // fills the ring; the reader leaves after one byte
  CHECK(w > 0 && w < static_cast<int64_t>(sizeof big));
  CHECK_EQ(ipc::write(p[1], big, 1), ERR_PIPE_CLOSED);
  CHECK_EQ(proc::exit_code(wait_for(child)), 0);
  ipc::close(p[1]);
  // Bad descriptors.
  CHECK_EQ(ipc::read(-1, buf, 1), ERR_BAD_FD);
  CHECK_EQ(ipc::write(ipc::kMaxFds, buf, 1), ERR_BAD_FD);
  CHECK_EQ(ipc::close(5), ERR_BAD_FD);
  CHECK_EQ(ipc::dup2(7, 3), ERR_BAD_FD);
  CHECK_EQ(ipc::pipe(p), OK);
  CHECK_EQ(ipc::write(p[0], "x", 1), ERR_BAD_FD);  // the read end does not write
  CHECK_EQ(ipc::read(p[1], buf, 1), ERR_BAD_FD);
  CHECK_EQ(ipc::dup2(p[1], 20), 20);
  ipc::close(p[1]);
  CHECK_EQ(ipc::write(20, "y", 1), 1);
  CHECK_EQ(ipc::read(p[0], buf, 4), 1);
  CHECK_EQ(buf[0], 'y');
  ipc::close(20);
  CHECK_EQ(ipc::read(p[0], buf, 4), 0);
  ipc::close(p[0]);
  end();
}

TEST(exos_pipe_16_concurrent) {
  begin();
  constexpr int kPipes = 16;
  constexpr uint64_t kBytes = 20000;
  int rd[kPipes];
  Pid kids[kPipes];
  for (int i = 0; i < kPipes; i++) {
    int p[2];
    CHECK_EQ(ipc::pipe(p), OK);
    CHECK_EQ(proc::fork(&kids[i]), OK);
    if (kids[i] == 0) {
      for (int k = 0; k < ipc::kMaxFds; k++)
        if (k != p[1]) ipc::close(k);  // only our own write end
      uint8_t chunk[97];
      for (uint64_t sent = 0; sent < kBytes;) {
        uint64_t n = kBytes - sent < sizeof chunk ? kBytes - sent : sizeof chunk;
        for (uint64_t b = 0; b < n; b++) chunk[b] = static_cast<uint8_t>(i * 16 + (sent + b) % 13);
        if (ipc::write(p[1], chunk, n) != static_cast<int64_t>(n)) proc::exit(1);
        sent += n;
      }
      proc::exit(0);
    }
    ipc::close(p[1]);
    rd[i] = p[0];
  }
  // Round-robin over all sixteen: every stream arrives whole and in order.
  uint64_t got[kPipes] = {}, bad = 0, open = kPipes;
  uint8_t buf[300];
  while (open) {
    for (int i = 0; i < kPipes; i++) {
      if (rd[i] < 0) continue;
      int64_t n = ipc::read(rd[i], buf, sizeof buf);
      if (n <= 0) {
        ipc::close(rd[i]);
        rd[i] = -1;
        open--;
        continue;
      }
      for (int64_t b = 0; b < n; b++) bad += buf[b] != static_cast<uint8_t>(i * 16 + (got[i] + b) % 13);
      got[i] += n;
    }
  }
  for (int i = 0; i < kPipes; i++) {
    CHECK_EQ(got[i], kBytes);
    CHECK_EQ(proc::exit_code(wait_for(kids[i])), 0);
  }
  CHECK_EQ(bad, 0);
  end();
}

TEST(exos_pipe_writer_crashes_mid_transfer) {
  begin();
  // The writer dies half-way through, with no exception handler (the kernel
  // destroys it; nobody closes its end for it): the reader gets what was
  // written, then end of file; the parent's wait reports the crash; every
  // frame it had comes back.
  int p[2];
  CHECK_EQ(ipc::pipe(p), OK);
  const Ledger before = ledger();  // the manager running, no other process
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    ipc::close(p[0]);
    uint8_t chunk[1000];
    for (int i = 0; i < 1000; i++) chunk[i] = static_cast<uint8_t>(i);
    for (int k = 0; k < 10; k++) ipc::write(p[1], chunk, sizeof chunk);
    exos::sys_env_set_handler(kSelfSlot, 0, 0, 0);
    *reinterpret_cast<volatile uint64_t*>(0x0000490000000000) = 1;  // crash
    proc::exit(0);
  }
  ipc::close(p[1]);
  uint64_t got = 0, bad = 0;
  uint8_t buf[512];
  int64_t n;
  while ((n = ipc::read(p[0], buf, sizeof buf)) > 0) {
    for (int64_t i = 0; i < n; i++) bad += buf[i] != static_cast<uint8_t>((got + i) % 1000);
    got += n;
  }
  CHECK_EQ(n, 0);
  CHECK_EQ(got, 10000);
  CHECK_EQ(bad, 0);
  int st = wait_for(child);
  CHECK(proc::signaled(st));
  CHECK_EQ(proc::term_signal(st), proc::kSigKill);
  // Its slice position and its frames came back as soon as it was gone
  // (those it shared with us copy-on-write are ours alone again).
  vm::settle();
  const Ledger after = ledger();
  CHECK_EQ(after.slices_held, before.slices_held);
  CHECK_EQ(after.others, before.others);
  CHECK_EQ(after.free + after.mine, before.free + before.mine);
  ipc::close(p[0]);
  // A crash caught by ExOS closes its ends on the way out (a reader of an
  // exec'd writer sees the same).
  CHECK_EQ(ipc::pipe(p), OK);
  const BootModule* m = child_module();
  const char* writer[] = {"write", "9", "3000", nullptr};
  CHECK_EQ(ipc::dup2(p[1], 9), 9);
  Pid w;
  CHECK_EQ(proc::spawn(reinterpret_cast<const void*>(m->va), m->size, writer, &w), OK);
  ipc::close(p[1]);
  ipc::close(9);
  got = bad = 0;
  while ((n = ipc::read(p[0], buf, sizeof buf)) > 0) {
    for (int64_t i = 0; i < n; i++) bad += buf[i] != static_cast<uint8_t>((got + i) % 251);
    got += n;
  }
  CHECK_EQ(got, 3000);
  CHECK_EQ(bad, 0);
  CHECK_EQ(proc::exit_code(wait_for(w)), 43);
  ipc::close(p[0]);
  end();
}

// ---- LRPC and shared memory ---------------------------------------------------------------------

namespace {
uint64_t add(uint64_t a, uint64_t b, void*, uint64_t) { return a + b; }
uint64_t mix(uint64_t a, uint64_t b, void*, uint64_t) { return (a ^ (b << 7)) * 0x9E3779B97F4A7C15ull; }
uint64_t sum_page(uint64_t, uint64_t, void* page, uint64_t len) {
  uint64_t s = 0;
  auto* p = static_cast<uint8_t*>(page);
  for (uint64_t i = 0; i < len; i++) s += p[i], p[i] = static_cast<uint8_t>(~p[i]);  // results back in place
  return s;
}
const ipc::LrpcProc kProcs[] = {add, mix, sum_page};
}  // namespace

TEST(exos_lrpc_100000_calls) {
  begin();
  Pid server, trusted;
  CHECK_EQ(proc::fork(&server), OK);
  if (server == 0) proc::exit(ipc::lrpc_serve("calc", kProcs, 3, ipc::Trust::Checked));
  CHECK_EQ(proc::fork(&trusted), OK);
  if (trusted == 0) proc::exit(ipc::lrpc_serve("calc-trusted", kProcs, 3, ipc::Trust::Trusted));
  ipc::Binding b, t;
  Status s;
  while ((s = ipc::lrpc_import("calc", &b)) == ERR_NO_NAME) exos::yield();  // until it is serving
  CHECK_EQ(s, OK);
  while ((s = ipc::lrpc_import("calc-trusted", &t)) == ERR_NO_NAME) exos::yield();
  CHECK_EQ(s, OK);
  CHECK(!b.trusted);
  CHECK(t.trusted);
  // Arguments and results intact, checked and trusted, 100,000 calls.
  uint64_t x = 1, wrong = 0, failed = 0;
  for (uint64_t i = 0; i < 100000; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t a = x, c = x >> 17 | i << 40, r = 0;
    uint32_t pr = i & 1;
    if (i % 4 < 2) {
      if (ipc::lrpc_call(b, pr, a, c, &r) != OK) failed++;
    } else {
      r = ipc::lrpc_call_trusted(t, pr, a, c);
    }
    wrong += r != (pr ? mix(a, c, nullptr, 0) : add(a, c, nullptr, 0));
  }
  CHECK_EQ(failed, 0);
  CHECK_EQ(wrong, 0);
  // Larger arguments in the shared page: copied by the checked server.
  auto* page = static_cast<uint8_t*>(b.page);
  uint64_t expect = 0;
  for (int i = 0; i < 3000; i++) page[i] = static_cast<uint8_t>(i * 7), expect += static_cast<uint8_t>(i * 7);
  uint64_t r = 0;
  CHECK_EQ(ipc::lrpc_call(b, 2, 0, 0, &r, 3000), OK);
  CHECK_EQ(r, expect);
  CHECK_EQ(page[1], static_cast<uint8_t>(~7));
  CHECK_EQ(ipc::lrpc_call(b, 2, 0, 0, &r, kPageSize + 1), ERR_INVALID_ARGS);
  // Refused: no such procedure; another process's binding; bad names.
  CHECK_EQ(ipc::lrpc_call(b, 3, 1, 2, &r), ERR_ACCESS_DENIED);
  CHECK_EQ(ipc::lrpc_call(b, ~0u, 1, 2, &r), ERR_ACCESS_DENIED);
  ipc::Binding forged = b;
  forged.id = t.id + 1;
  CHECK_EQ(ipc::lrpc_call(forged, 0, 1, 2, &r), ERR_ACCESS_DENIED);
  forged.id = 5000;
  CHECK_EQ(ipc::lrpc_call(forged, 0, 1, 2, &r), ERR_ACCESS_DENIED);
  CHECK_EQ(ipc::lrpc_import("no-such-service", &forged), ERR_NO_NAME);
  CHECK_EQ(ipc::lrpc_import("", &forged), ERR_INVALID_ARGS);
  CHECK_EQ(ipc::lrpc_import("a-name-longer-than-16", &forged), ERR_INVALID_ARGS);
  auto* report = shared_region<volatile int64_t>();
  Pid other;
  CHECK_EQ(proc::fork(&other), OK);
  if (other == 0) {
    // A forked child has our binding's numbers but not our capability or
    // identity: its calls are refused by the checked server.
    ipc::Binding mine;
    report[1] = ipc::lrpc_import("calc", &mine);
    uint64_t v = 0;
    report[0] = ipc::lrpc_call(b, 0, 1, 2, &v);
    report[2] = ipc::lrpc_call(mine, 0, 40, 2, &v) == OK ? static_cast<int64_t>(v) : -1;
    mine.id = b.id;
    report[3] = ipc::lrpc_call(mine, 0, 40, 2, &v);  // someone else's binding number
    proc::exit(0);
  }
  CHECK_EQ(proc::exit_code(wait_for(other)), 0);
  CHECK(report[0] != OK);
  CHECK_EQ(report[1], OK);
  CHECK_EQ(report[2], 42);
  CHECK_EQ(report[3], ERR_ACCESS_DENIED);
  CHECK_EQ(proc::kill(server, proc::kSigTerm), OK);
  CHECK_EQ(proc::kill(trusted, proc::kSigTerm), OK);
  CHECK_EQ(proc::term_signal(wait_for(server)), proc::kSigTerm);
  CHECK_EQ(proc::term_signal(wait_for(trusted)), proc::kSigTerm);
  end();
}

namespace {
// A hostile LRPC procedure: returns a0 + a1 but hands back every register
// the C ABI says it must preserve (rbx, rbp, r12-r15) trashed.
extern "C" uint64_t lrpc_trash_registers(uint64_t, uint64_t, void*, uint64_t);
asm(R"(
  .text
  .type lrpc_trash_registers, @function
lrpc_trash_registers:
  lea (%rdi,%rsi), %rax
  movabs $0xDEADBEEFDEADBEEF, %rbx
  mov %rbx, %rbp
  mov %rbx, %r12
  mov %rbx, %r13
  mov %rbx, %r14
  mov %rbx, %r15
  ret
)");
const ipc::LrpcProc kHostile[] = {lrpc_trash_registers};
}  // namespace

// A checked call protects the client from its server: a server that trashes
// the registers the C ABI says are preserved leaves the client's live values
// (held in those registers across the call) intact, and its answers count
// only when they come from the server.
TEST(exos_lrpc_checked_client_survives_hostile_server) {
  begin();
  Pid server;
  CHECK_EQ(proc::fork(&server), OK);
  if (server == 0) proc::exit(ipc::lrpc_serve("hostile", kHostile, 1, ipc::Trust::Checked));
  ipc::Binding b;
  Status s;
  while ((s = ipc::lrpc_import("hostile", &b)) == ERR_NO_NAME) exos::yield();
  CHECK_EQ(s, OK);
  // Many values live across each call: the compiler keeps them in rbx,
  // rbp and r12-r15 unless the call says those are clobbered.
  uint64_t v0 = 1, v1 = 2, v2 = 3, v3 = 5, v4 = 8, v5 = 13, wrong = 0, failed = 0;
  for (uint64_t i = 0; i < 1000; i++) {
    uint64_t r = 0;
    if (ipc::lrpc_call(b, 0, v0, i, &r) != OK) failed++;
    wrong += r != v0 + i;
    v0 = v0 * 3 + v1, v1 = v1 * 5 + v2, v2 = v2 * 7 + v3, v3 = v3 * 11 + v4, v4 = v4 * 13 + v5, v5 = v5 * 17 + i;
  }
  uint64_t e0 = 1, e1 = 2, e2 = 3, e3 = 5, e4 = 8, e5 = 13;
  for (uint64_t i = 0; i < 1000; i++)
    e0 = e0 * 3 + e1, e1 = e1 * 5 + e2, e2 = e2 * 7 + e3, e3 = e3 * 11 + e4, e4 = e4 * 13 + e5, e5 = e5 * 17 + i;
  CHECK_EQ(failed, 0);
  CHECK_EQ(wrong, 0);
  CHECK_EQ(v0, e0);
  CHECK_EQ(v1, e1);
  CHECK_EQ(v2, e2);
  CHECK_EQ(v3, e3);
  CHECK_EQ(v4, e4);
  CHECK_EQ(v5, e5);
  CHECK_EQ(proc::kill(server, proc::kSigTerm), OK);
  CHECK_EQ(proc::term_signal(wait_for(server)), proc::kSigTerm);
  end();
}

TEST(exos_shm_visibility) {
  begin();
  uint64_t va = 0;
  CHECK_EQ(ipc::shm_open("segment", 3, true, &va), OK);
  auto* mine = reinterpret_cast<volatile uint64_t*>(va);
  CHECK_EQ(mine[0], 0);  // zeroed
  mine[0] = 111;
  mine[2 * 512] = 222;
  const BootModule* m = child_module();
  (void)m;
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    // Opened again by name, at another address: the same memory.
    uint64_t at = layout::kShmBase + (1ull << 30);
    if (ipc::shm_open("segment", 0, false, &at) != OK) proc::exit(1);
    auto* other = reinterpret_cast<volatile uint64_t*>(at);
    if (other[0] != 111 || other[2 * 512] != 222) proc::exit(2);
    // The fork's own copy of the mapping is shared too (not copy-on-write).
    if (mine[0] != 111) proc::exit(3);
    other[1] = 333;
    while (other[3] != 444) ipc::yield_to(0);
    mine[4] = 555;
    proc::exit(0);
  }
  while (mine[1] != 333) exos::yield();
  mine[3] = 444;
  CHECK_EQ(proc::exit_code(wait_for(child)), 0);
  CHECK_EQ(mine[4], 555);
  uint64_t none = 0;
  CHECK_EQ(ipc::shm_open("missing", 1, false, &none), ERR_NO_NAME);
  CHECK_EQ(ipc::shm_open("huge", 1ull << 20, true, &none), ERR_INVALID_ARGS);
  CHECK_EQ(ipc::shm_open("segment", 1, false, &none), OK);  // a part of it
  CHECK_EQ(reinterpret_cast<volatile uint64_t*>(none)[0], 111);
  // Unlinked: the name goes; the memory stays while mapped, and goes after.
  uint64_t pfn = pfn_at(reinterpret_cast<void*>(va));
  CHECK_EQ(ipc::shm_unlink("segment"), OK);
  CHECK_EQ(ipc::shm_unlink("segment"), ERR_NO_NAME);
  uint64_t again = 0;
  CHECK_EQ(ipc::shm_open("segment", 1, false, &again), ERR_NO_NAME);
  CHECK_EQ(mine[0], 111);
  CHECK_EQ(ipc::shm_detach(va, 3), OK);
  CHECK_EQ(ipc::shm_detach(none, 1), OK);
  CHECK_EQ(exos::frame_table()[pfn].mappings, 1);  // the manager's own
  end();
  CHECK_EQ(exos::frame_table()[pfn].owner, kOwnerFree);
}

// ---- Scheduling ------------------------------------------------------------------------------

TEST(exos_stride_shares_and_ticket_change) {
  // This test init is the scheduling process: three spinning envs with no
  // slice positions of their own get our slices by directed yield, in
  // proportion to their tickets (shares measured by the kernel's per-env
  // CPU time, exact under -icount).
  exos::Child kids[3];
  for (auto& k : kids) {
    CHECK_EQ(exos::spawn_module("child.elf", guest::CHILD_SPIN, &k), OK);
    for (uint32_t p = 0; p < kSlices; p++)
      if (exos::slice_vector().owner[p] == k.id) exos::sys_slice_free(k.slot, p);
  }
  exos::sched::StrideScheduler s;
  CHECK_EQ(s.add(kids[0].slot, kids[0].id, 3), OK);
  CHECK_EQ(s.add(kids[1].slot, kids[1].id, 2), OK);
  CHECK_EQ(s.add(kids[2].slot, kids[2].id, 1), OK);
  CHECK_EQ(s.add(kids[2].slot, kids[2].id, 1), ERR_BUSY);
  CHECK_EQ(s.add(kids[2].slot, 12345, 1), ERR_STALE_CAP);
  CHECK_EQ(s.add(kids[2].slot, kids[2].id, 0), ERR_INVALID_ARGS);
  CHECK_EQ(s.set_tickets(12345, 1), ERR_NOT_FOUND);
  CHECK_EQ(s.run(300), 300);
  uint64_t c[3], total = 0;
  for (int i = 0; i < 3; i++) total += c[i] = s.cpu(kids[i].id);
  const int expect[3] = {500, 333, 167};  // per mille
  for (int i = 0; i < 3; i++) {
    int share = static_cast<int>(c[i] * 1000 / total);
    exos::printf("  tickets 3:2:1, client %d: %d per mille of the CPU (%lu slices)\n", i, share,
                 s.picks(kids[i].id));
    CHECK(share >= expect[i] - 20 && share <= expect[i] + 20);
  }
  // New tickets take effect at once: the next 100 slices (100 ms) already
  // follow them.
  CHECK_EQ(s.set_tickets(kids[0].id, 1), OK);
  CHECK_EQ(s.set_tickets(kids[1].id, 1), OK);
  CHECK_EQ(s.set_tickets(kids[2].id, 2), OK);
  uint64_t before[3];
  for (int i = 0; i < 3; i++) before[i] = s.cpu(kids[i].id);
  CHECK_EQ(s.run(100), 100);
  total = 0;
  for (int i = 0; i < 3; i++) total += c[i] = s.cpu(kids[i].id) - before[i];
  const int expect2[3] = {250, 250, 500};
  for (int i = 0; i < 3; i++) {
    int share = static_cast<int>(c[i] * 1000 / total);
    exos::printf("  tickets 1:1:2 in the next 100 ms, client %d: %d per mille\n", i, share);
    CHECK(share >= expect2[i] - 30 && share <= expect2[i] + 30);
  }
  // A client that goes away is skipped.
  exos::sys_env_destroy(kids[1].slot);
  CHECK_EQ(s.run(10), 10);
  CHECK_EQ(s.remove(kids[1].id), OK);
  CHECK_EQ(s.remove(kids[1].id), ERR_NOT_FOUND);
  for (auto& k : kids) {
    exos::sys_env_destroy(k.slot);
    exos::sys_cap_delete(k.slot);
    exos::slot_free(k.slot);
  }
}

// ---- What a hostile process can send or share -------------------------------------------

namespace {
// A raw request to the manager, as a malicious process would send it.
int64_t raw_request(uint64_t op, uint64_t seq, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0) {
  exos::Received r;
  Status s = exos::pct_call(veneer::kCapSlots - 1, exos::Message{{op | seq << 32, a1, a2, a3, a4}}, &r);
  return s != OK ? s : static_cast<int64_t>(r.msg.w[0]);
}
}  // namespace

// With an account per process (ManagerConfig::process_frames), a process
// that takes memory without bound stops at its own limit and crashes
// (SIGSEGV: a fault it cannot serve) while another process keeps
// allocating; everything the hog had comes back.
TEST(exos_process_accounts_contain_a_hog) {
  exos::set_exception_handler(14, nullptr);
  vm::settle();
  at_start = ledger();
  proc::ManagerConfig config;
  config.process_frames = 256;
  CHECK_EQ(proc::start_manager(config), OK);
  auto* shared = shared_region<volatile uint64_t>();  // [0] the hog's pages, [1] go, [2] victim's pages
  Pid victim, hog;
  CHECK_EQ(proc::fork(&victim), OK);
  if (victim == 0) {
    while (!shared[1]) exos::yield();  // until the hog is gone
    uint64_t va = 0;
    if (vm::map(&va, 100 * kPageSize, PERM_WRITE) != OK) proc::exit(1);
    for (uint64_t p = 0; p < 100; p++) reinterpret_cast<volatile uint64_t*>(va)[p * 512] = p, shared[2] = p + 1;
    proc::exit(7);
  }
  CHECK_EQ(proc::fork(&hog), OK);
  if (hog == 0) {
    uint64_t va = 0;
    if (vm::map(&va, 64ull << 20, PERM_WRITE) != OK) proc::exit(1);
    for (uint64_t p = 0; p < (64ull << 20) / kPageSize; p++) {
      reinterpret_cast<volatile uint64_t*>(va)[p * 512] = p;
      shared[0] = p + 1;
    }
    proc::exit(0);  // never: 16,384 pages are far past its account
  }
  int st = wait_for(hog);
  CHECK(proc::signaled(st));
  CHECK_EQ(proc::term_signal(st), proc::kSigSegv);
  CHECK(shared[0] > 100);                        // it got a fair amount ...
  CHECK(shared[0] < config.process_frames);      // ... and no more than its account
  shared[1] = 1;
  CHECK_EQ(proc::exit_code(wait_for(victim)), 7);
  CHECK_EQ(shared[2], 100);
  end();
}

TEST(exos_manager_refuses_bad_requests) {
  begin();
  auto* report = shared_region<volatile int64_t>();
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    uint64_t seq = 1000;
    int i = 0;
    report[i++] = raw_request(0, ++seq);                          // no such request
    report[i++] = raw_request(999, ++seq);
    report[i++] = raw_request(1, ++seq, 0);                       // a new child into slot 0 (ours: self)
    report[i++] = raw_request(1, ++seq, veneer::kCapSlots);       // a slot past the table
    report[i++] = raw_request(1, ++seq, veneer::kCapSlots - 1);   // an occupied slot (the manager's)
    report[i++] = raw_request(3, ++seq);                          // commit an exec never prepared
    report[i++] = raw_request(6, ++seq, 1);                       // wait for init, not our child
    report[i++] = raw_request(7, ++seq, 1, 9);                    // kill init
    report[i++] = raw_request(7, ++seq, proc::getpid(), 1000);    // an absurd signal
    report[i++] = raw_request(8, ++seq, 0xDEAD, 100);             // a capability to an env that is no process
    report[i++] = raw_request(8, ++seq, exos::self_id(), 1ull << 40);
    uint64_t name[2] = {0x61, 0};
    report[i++] = raw_request(9, ++seq, name[0], name[1], 0xFFFF800000000000ull, 1 | 1ull << 63);  // kernel address
    report[i++] = raw_request(9, ++seq, name[0], name[1], layout::kShmBase, 0xFFFFFFFF | 1ull << 63);  // too large
    report[i++] = raw_request(9, ++seq, name[0], name[1], layout::kShmBase, 1);  // (the refused ones made nothing)
    report[i++] = raw_request(10, ++seq, 0x7A7A, 0);              // unlink what does not exist
    report[i++] = raw_request(12, ++seq, 0x7A7A, 0, 300, 0);      // import no service
    // A repeated request is answered from memory, not done twice: one child.
    report[i++] = raw_request(1, ++seq, 300);
    report[i++] = raw_request(1, seq, 300);
    report[i++] = proc::table()->nprocs;
    // Asynchronous messages are ignored; the manager still serves.
    exos::pct_send(veneer::kCapSlots - 1, exos::Message{{1, 2, 3, 4, 5}});
    report[i++] = proc::wait(proc::kAnyChild, nullptr, nullptr, true);
    report[40] = i;
    proc::exit(0);
  }
  CHECK_EQ(proc::exit_code(wait_for(child)), 0);
  const int64_t expect[] = {ERR_INVALID_ARGS, ERR_INVALID_ARGS, ERR_INVALID_ARGS, ERR_INVALID_ARGS, ERR_BUSY,
                            ERR_BAD_STATE, ERR_NO_CHILD, ERR_ACCESS_DENIED, ERR_INVALID_ARGS, ERR_NO_PROCESS,
                            ERR_INVALID_ARGS, ERR_BAD_ADDRESS, ERR_INVALID_ARGS, ERR_NO_NAME, ERR_NO_NAME, ERR_NO_NAME, OK, OK, 3, OK};
  CHECK_EQ(report[40], sizeof(expect) / sizeof(expect[0]));
  for (uint64_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
    if (report[i] != expect[i]) exos::printf("  request %lu: %ld, expected %ld\n", i, report[i], expect[i]);
    CHECK_EQ(report[i], expect[i]);
  }
  // The orphaned never-run child the repeated request made is the
  // manager's to clean up; a normal fork still works.
  Pid again;
  CHECK_EQ(proc::fork(&again), OK);
  if (again == 0) proc::exit(5);
  CHECK_EQ(proc::exit_code(wait_for(again)), 5);
  end();
}

TEST(exos_hostile_pipe_peer_and_heap_misuse) {
  begin();
  // A process sharing a pipe can garble it, but not hurt the other end:
  // counters are clamped, holder entries bounded.
  int p[2];
  CHECK_EQ(ipc::pipe(p), OK);
  Pid child;
  CHECK_EQ(proc::fork(&child), OK);
  if (child == 0) {
    auto* words = reinterpret_cast<volatile uint32_t*>(layout::kPipeBase);
    for (int k = 0; k < 1024; k++) words[k] = 0xFFFFFFFF - k * 977;  // the whole header
    words[2] = 0;               // head
    words[3] = 0x80000000;      // tail: "more than the ring holds"
    proc::exit(0);
  }
  CHECK_EQ(proc::exit_code(wait_for(child)), 0);
  static uint8_t buf[8192];
  int64_t n = ipc::read(p[0], buf, sizeof buf);
  CHECK(n >= 0 && n <= static_cast<int64_t>(ipc::kPipeCapacity));
  int64_t w = ipc::write(p[1], buf, 10);
  CHECK(w == 10 || w == ERR_PIPE_CLOSED);
  ipc::close(p[0]);
  ipc::close(p[1]);
  // Heap misuse ends the process that does it (panic: SIGABRT), nobody else.
  Pid a;
  CHECK_EQ(proc::fork(&a), OK);
  if (a == 0) {
    void* q = exos::malloc(100);
    exos::free(q);
    exos::free(q);  // twice
    proc::exit(0);
  }
  CHECK_EQ(proc::term_signal(wait_for(a)), proc::kSigAbrt);
  CHECK_EQ(proc::fork(&a), OK);
  if (a == 0) {
    static uint64_t not_from_malloc[4];
    exos::free(&not_from_malloc[2]);
    proc::exit(0);
  }
  CHECK_EQ(proc::term_signal(wait_for(a)), proc::kSigAbrt);
  end();
}
