// Guest tests: user-level exceptions, environments, isolation, revocation.
#include "guest_test.h"

namespace {

using namespace veneer;

volatile uint64_t hits[32];
volatile uint64_t last_rip, last_vector;
volatile uint64_t skip;
constexpr int kVectors[] = {0, 3, 6, 13};

void count_and_skip(ExceptionFrame* f) {
  hits[f->vector] = hits[f->vector] + 1;
  last_rip = f->rip;
  last_vector = f->vector;
  f->rip += skip;
}

// Frames owned by env `id` in the page-ownership table.
uint64_t frames_owned_by(uint32_t id) {
  uint64_t n = 0;
  for (uint64_t p = 0; p < exos::kernel_info().nframes; p++)
    if (exos::frame_table()[p].owner == id) n++;
  return n;
}

uint64_t free_frames() { return frames_owned_by(kOwnerFree); }

// Runs a child that must be destroyed by the kernel; checks that everything
// it owned went back to the free pool.
void expect_killed(uint64_t mode) {
  exos::Child c;
  CHECK_EQ(exos::spawn_module("child.elf", mode, &c), OK);
  exos::wait_env(c.id);
  CHECK_EQ(frames_owned_by(c.id), 0);
  CHECK_STATUS(exos::sys_env_run(c.slot), ERR_STALE_CAP);
  exos::sys_cap_delete(c.slot);
  exos::slot_free(c.slot);
}

}  // namespace

TEST(exceptions_reach_user_handlers) {
  for (int v : kVectors) exos::set_exception_handler(v, count_and_skip);
  skip = 0;
  asm volatile("int3");  // a trap: rip is already past it
  CHECK_EQ(hits[3], 1);
  skip = 2;
  asm volatile("ud2");
  CHECK_EQ(hits[6], 1);
  CHECK_EQ(last_vector, 6);
  skip = 3;
  asm volatile("xor %%edx, %%edx\n div %%rcx" ::"a"(1ull), "c"(0ull) : "rdx");  // 48 f7 f1
  CHECK_EQ(hits[0], 1);
  skip = 1;
  asm volatile("hlt");  // privileged: #GP
  CHECK_EQ(hits[13], 1);
  // Registers survive the round trip through the kernel and the handler.
  uint64_t a = 0x1111, b = 0x2222, c = 0x3333, d = 0x4444;
  skip = 0;
  asm volatile("int3" : "+a"(a), "+b"(b), "+c"(c), "+d"(d));
  CHECK_EQ(a, 0x1111);
  CHECK_EQ(b, 0x2222);
  CHECK_EQ(c, 0x3333);
  CHECK_EQ(d, 0x4444);
  CHECK_EQ(hits[3], 2);
  for (int v : kVectors) exos::set_exception_handler(v, nullptr);
}

TEST(nested_exception_in_handler) {
  for (auto& h : hits) h = 0;
  exos::set_exception_handler(6, count_and_skip);
  exos::set_exception_handler(3, [](ExceptionFrame* f) {
    hits[3] = hits[3] + 1;
    skip = 2;
    asm volatile("ud2");  // faults inside the handler: nests below this frame
    CHECK_EQ(f->vector, 3);
  });
  asm volatile("int3");
  CHECK_EQ(hits[3], 1);
  CHECK_EQ(hits[6], 1);
  exos::set_exception_handler(3, nullptr);
  exos::set_exception_handler(6, nullptr);
}

TEST(exception_without_handler_destroys_env) {
  expect_killed(guest::CHILD_FAULT_NO_HANDLER);  // also builds our scratch page tables
  uint64_t before = free_frames();
  expect_killed(guest::CHILD_DIVIDE_NO_HANDLER);
  CHECK_EQ(free_frames(), before);  // every frame it had came back
}

TEST(exception_stack_overflow_destroys_env) {
  expect_killed(guest::CHILD_FAULT_NO_HANDLER);  // first spawn builds our scratch page tables
  uint64_t before = free_frames();
  expect_killed(guest::CHILD_RECURSIVE_FAULT);
  CHECK_EQ(free_frames(), before);
}

TEST(unusable_exception_stack_destroys_env) {
  expect_killed(guest::CHILD_FAULT_NO_HANDLER);  // first spawn builds our scratch page tables
  uint64_t before = free_frames();
  expect_killed(guest::CHILD_BAD_XSTACK);
  CHECK_EQ(free_frames(), before);
}

TEST(handler_registration_is_validated) {
  uint64_t entry = reinterpret_cast<uint64_t>(&exos::exos_exception_entry);
  CHECK_STATUS(exos::sys_env_set_handler(kSelfSlot, 0xFFFFFFFF80100000ull, 0x6F0000000000, 4096), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_handler(kSelfSlot, entry, 0xFFFF800000001000ull, 4096), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_handler(kSelfSlot, entry, 0x6F0000000008, 4096), ERR_UNALIGNED);
  CHECK_STATUS(exos::sys_env_set_handler(kSelfSlot, entry, 0x2000, 0x4000), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_handler(kSelfSlot, entry, 0x6F0000000000, 8), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_handler(kSelfSlot, entry, 0x10000, ~0ull - 0x100), ERR_BAD_ADDRESS);  // wraps
  CHECK_STATUS(exos::sys_env_set_handler(900, entry, 0x6F0000000000, 4096), ERR_BAD_CAP);
  // The ExOS handler is still in place.
  exos::set_exception_handler(3, count_and_skip);
  skip = 0;
  uint64_t before = hits[3];
  asm volatile("int3");
  CHECK_EQ(hits[3], before + 1);
  exos::set_exception_handler(3, nullptr);
}

TEST(env_lifecycle) {
  CHECK_STATUS(exos::sys_env_create(kSelfSlot), ERR_BUSY);
  CHECK_STATUS(exos::sys_env_create(kCapSlots), ERR_OUT_OF_RANGE);
  veneer::SysResult r = exos::sys_env_create(400);
  CHECK_EQ(r.status, OK);
  uint32_t id = static_cast<uint32_t>(r.value);
  CHECK_EQ(exos::env_table()[env_index(id)].state, ENV_NEW);
  CHECK_EQ(exos::env_table()[env_index(id)].parent, exos::self_id());
  CHECK_STATUS(exos::sys_env_set_entry(400, 0x0000800000000000ull, 0x10000, 0), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_entry(400, 0x401000, 0xFFFF800000000000ull, 0), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_entry(400, 0, 0x10000, 0), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_run(401), ERR_BAD_CAP);
  CHECK_STATUS(exos::sys_env_destroy(400), OK);
  CHECK_EQ(exos::env_table()[env_index(id)].id == id, false);
  CHECK_STATUS(exos::sys_env_run(400), ERR_STALE_CAP);
  CHECK_STATUS(exos::sys_env_destroy(400), ERR_STALE_CAP);
  CHECK_STATUS(exos::sys_env_destroy(kMachineSlot), ERR_BAD_CAP);
  CHECK_STATUS(exos::sys_cap_delete(400), OK);
  CHECK_STATUS(exos::sys_poweroff(kSelfSlot, 0), ERR_BAD_CAP);  // needs MACHINE
  // A running child cannot be re-run or re-aimed.
  exos::Child c;
  CHECK_EQ(exos::spawn_module("child.elf", guest::CHILD_VICTIM, &c), OK);
  CHECK_STATUS(exos::sys_env_run(c.slot), ERR_BAD_STATE);
  CHECK_STATUS(exos::sys_env_set_entry(c.slot, 0x401000, 0x10000, 0), ERR_BAD_STATE);
  CHECK_STATUS(exos::sys_env_destroy(c.slot), OK);
  CHECK_EQ(frames_owned_by(c.id), 0);
  exos::sys_cap_delete(c.slot);
  exos::slot_free(c.slot);
}

// Env A (the attacker) tries every call against env B's frames; B checks its
// secret afterwards; A's page tables never point at B's frames.
TEST(isolation_between_envs) {
  exos::Frame mailbox;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mailbox), OK);
  auto* mb = reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa);
  exos::Child victim, attacker;
  CHECK_EQ(guest::spawn_child(guest::CHILD_VICTIM, mailbox.slot, &victim), OK);
  CHECK_EQ(guest::spawn_child(guest::CHILD_ATTACKER, mailbox.slot, &attacker), OK);
  while (!mb->victim_checked) exos::yield();
  CHECK(mb->attempts > 100);
  CHECK_EQ(mb->denied, mb->attempts);
  CHECK_EQ(mb->leaks, 0);
  CHECK_EQ(mb->victim_intact, 1);
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(exos::frame_table()[mb->victim_pfns[i]].owner, victim.id);
    CHECK_EQ(exos::frame_table()[mb->victim_pfns[i]].mappings, 1);  // only the victim's own
  }
  // When the victim dies its frames are free, and whoever gets them next
  // sees zeros, not the secret.
  CHECK_STATUS(exos::sys_env_destroy(victim.slot), OK);
  CHECK_STATUS(exos::sys_env_destroy(attacker.slot), OK);
  for (int i = 0; i < 4; i++) {
    exos::Frame f;
    CHECK_EQ(exos::frame_alloc(&f, mb->victim_pfns[i]), OK);
    CHECK_STATUS(exos::sys_page_map(kSelfSlot, 0x0000470000000000, f.slot, PERM_READ), OK);
    bool zero = true;
    for (int w = 0; w < 512; w++) zero &= reinterpret_cast<volatile uint64_t*>(0x0000470000000000)[w] == 0;
    CHECK(zero);
    CHECK_EQ(exos::frame_free(f), OK);
  }
  CHECK_EQ(exos::frame_free(mailbox), OK);
}

// A frame granted to a child and mapped there disappears from the child when
// the owner revokes it; the child's capability goes stale.
TEST(revoke_breaks_bindings) {
  exos::Frame mailbox, shared;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mailbox), OK);
  CHECK_EQ(exos::shared_page_alloc(0x0000490000000000, PERM_WRITE, &shared), OK);
  auto* mb = reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa);
  exos::Child c;
  CHECK_EQ(guest::spawn_child(guest::CHILD_GRANTEE, mailbox.slot, &c, shared.slot, RIGHT_READ | RIGHT_WRITE), OK);
  while (!mb->grantee_value_written) exos::yield();
  CHECK_EQ(*reinterpret_cast<volatile uint64_t*>(0x0000490000000000), 42);
  CHECK_EQ(exos::frame_table()[shared.pfn].mappings, 2);
  uint64_t guard = exos::frame_table()[shared.pfn].guard;
  CHECK_STATUS(exos::sys_cap_revoke(shared.slot), OK);
  CHECK_EQ(exos::frame_table()[shared.pfn].guard, guard + 1);
  CHECK_EQ(exos::frame_table()[shared.pfn].mappings, 1);  // ours stays
  mb->go = 1;
  while (mb->go != 2) exos::yield();
  CHECK_EQ(mb->grantee_saw_stale, 1);
  CHECK_EQ(mb->grantee_faulted, 1);
  CHECK_EQ(mb->grantee_fault_addr, 0x0000420000000000);
  CHECK_EQ(*reinterpret_cast<volatile uint64_t*>(0x0000490000000000), 42);  // 43 went elsewhere
  CHECK_STATUS(exos::sys_frame_info(shared.slot), OK);  // our own capability was refreshed
  CHECK_STATUS(exos::sys_env_destroy(c.slot), OK);
  CHECK_EQ(exos::frame_free(shared), OK);
  CHECK_EQ(exos::frame_free(mailbox), OK);
}

// A hostile env makes random system calls (tens of thousands, arguments from
// the edges of every range). The kernel must survive, and once the env is
// destroyed, every frame and env slot it (and anything it created) held
// must be back.
TEST(syscall_fuzz_from_a_hostile_env) {
  expect_killed(guest::CHILD_FAULT_NO_HANDLER);  // first spawn builds our scratch page tables
  exos::Frame mb;
  CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &mb), OK);
  auto* box = reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa);
  uint64_t total = 0;
  for (uint64_t seed = 1; seed <= 4; seed++) {
    *box = guest::Mailbox{};
    box->fuzz_seed = seed;
    uint64_t before = free_frames();
    exos::Child c;
    CHECK_EQ(exos::spawn_module("child.elf", guest::CHILD_SYSCALL_FUZZ, &c), OK);
    // Read and write the mailbox, nothing more: it must not free our page.
    CHECK_STATUS(exos::sys_cap_grant(mb.slot, c.slot, guest::kMailboxSlotInChild, RIGHT_READ | RIGHT_WRITE), OK);
    uint64_t end = exos::kernel_info().ticks + 3000;
    while (!box->fuzz_done && exos::env_table()[env_index(c.id)].id == c.id && exos::kernel_info().ticks < end)
      exos::yield();
    exos::printf("  seed %lu: %lu calls, %s\n", seed, box->fuzz_calls, box->fuzz_done ? "finished" : "stopped");
    total += box->fuzz_calls;
    exos::sys_env_destroy(c.slot);
    exos::sys_cap_delete(c.slot);
    exos::slot_free(c.slot);
    CHECK_EQ(free_frames(), before);
    for (uint32_t i = 1; i < kMaxEnvs; i++)
      if (i != env_index(exos::self_id())) CHECK_EQ(exos::env_table()[i].state, ENV_FREE);
  }
  CHECK(total > 20000);
  CHECK_EQ(exos::kernel_info().magic, kKernelInfoMagic);
  // The kernel's own consistency scan, on the real tables.
  veneer::SysResult scan = exos::sys_invariant_scan(kMachineSlot);
  CHECK_EQ(scan.status, OK);
  CHECK_EQ(scan.value, 0);
  CHECK_EQ(exos::frame_table()[mb.pfn].owner, exos::self_id());
  CHECK_EQ(exos::frame_free(mb), OK);
}
