// Child program for the guest tests; its start argument picks what it does
// (guest::ChildMode).
#include "exos/ipc.h"
#include "exos/proc.h"
#include "guest_test.h"
#include "net_frames.h"

namespace {

using namespace guest;

Mailbox* mailbox() { return reinterpret_cast<Mailbox*>(kMailboxVa); }

// Waits for the mailbox capability from the test init and maps it.
void map_mailbox() {
  while (exos::sys_frame_info(kMailboxSlotInChild).status != veneer::OK) exos::yield();
  if (exos::sys_page_map(veneer::kSelfSlot, kMailboxVa, kMailboxSlotInChild, veneer::PERM_WRITE).status !=
      veneer::OK)
    exos::panic("cannot map mailbox");
}

constexpr uint64_t kSecret = 0x5EC2E75EC2E75EC2ull;
constexpr uint64_t kVictimVa = 0x0000410000000000;
constexpr uint64_t kGrantVa = 0x0000420000000000;

void victim() {
  map_mailbox();
  Mailbox* mb = mailbox();
  for (uint64_t i = 0; i < 4; i++) {
    exos::Frame f;
    if (exos::page_alloc(kVictimVa + i * veneer::kPageSize, veneer::PERM_WRITE, &f) != veneer::OK)
      exos::panic("victim alloc");
    auto* p = reinterpret_cast<volatile uint64_t*>(kVictimVa + i * veneer::kPageSize);
    for (int w = 0; w < 512; w++) p[w] = kSecret ^ w;
    mb->victim_pfns[i] = f.pfn;
  }
  mb->victim_id = exos::self_id();
  mb->victim_ready = 1;
  while (!mb->attack_done) exos::yield();
  bool intact = true;
  for (uint64_t i = 0; i < 4; i++) {
    auto* p = reinterpret_cast<volatile uint64_t*>(kVictimVa + i * veneer::kPageSize);
    for (int w = 0; w < 512; w++) intact &= p[w] == (kSecret ^ w);
  }
  mb->victim_intact = intact;
  mb->victim_checked = 1;
  for (;;) exos::yield();  // until the test destroys it
}

// Every way the attacker can name memory, aimed at the victim's frames.
void attacker() {
  map_mailbox();
  Mailbox* mb = mailbox();
  while (!mb->victim_ready) exos::yield();
  uint64_t attempts = 0, denied = 0, leaks = 0;
  auto expect_denied = [&](veneer::SysResult r) {
    attempts++;
    if (r.status != veneer::OK) denied++;
  };
  constexpr uint64_t va = 0x0000430000000000;
  for (uint64_t i = 0; i < 4; i++) {
    uint64_t pfn = mb->victim_pfns[i];
    // Allocate the victim's frame by its physical name.
    expect_denied(exos::sys_frame_alloc(pfn, veneer::kSelfSlot, 100));
    // Guess capability slots: every slot not ours, as a frame to map.
    for (uint64_t slot = 64; slot < veneer::kCapSlots; slot += 61) {
      if (slot == kMailboxSlotInChild) continue;
      expect_denied(exos::sys_page_map(veneer::kSelfSlot, va, slot, veneer::PERM_READ));
    }
    // Forge slots out of range, or the frame number itself as a slot.
    expect_denied(exos::sys_page_map(veneer::kSelfSlot, va, pfn, veneer::PERM_READ));
    expect_denied(exos::sys_page_map(veneer::kSelfSlot, va, ~0ull, veneer::PERM_READ));
    // Use the victim's env id or a guessed slot as an env capability.
    expect_denied(exos::sys_page_map(mb->victim_id, va, kMailboxSlotInChild, veneer::PERM_READ));
    expect_denied(exos::sys_cap_grant(kMailboxSlotInChild, mb->victim_id, 200, veneer::kRightsAll));
    expect_denied(exos::sys_env_destroy(mb->victim_id));
    expect_denied(exos::sys_frame_free(pfn));
    expect_denied(exos::sys_cap_revoke(pfn));
  }
  // Reading the kernel tables tells who owns what, never the contents; and a
  // mapped page must never alias a victim frame.
  for (uint64_t i = 0; i < 4; i++)
    if (exos::find_mapping(mb->victim_pfns[i])) leaks++;
  mb->attempts = attempts;
  mb->denied = denied;
  mb->leaks = leaks;
  mb->attack_done = 1;
  for (;;) exos::yield();
}

void grantee() {
  map_mailbox();
  Mailbox* mb = mailbox();
  exos::set_exception_handler(14, [](veneer::ExceptionFrame* f) {
    mailbox()->grantee_faulted = 1;
    mailbox()->grantee_fault_addr = f->fault_addr;
    // Give the page a fresh frame of our own so the write can complete.
    exos::page_alloc(f->fault_addr & ~(veneer::kPageSize - 1), veneer::PERM_WRITE);
  });
  while (exos::sys_frame_info(kExtraSlotInChild).status != veneer::OK) exos::yield();
  if (exos::sys_page_map(veneer::kSelfSlot, kGrantVa, kExtraSlotInChild, veneer::PERM_WRITE).status != veneer::OK)
    exos::panic("grantee map");
  *reinterpret_cast<volatile uint64_t*>(kGrantVa) = 42;
  mb->grantee_value_written = 1;
  while (!mb->go) exos::yield();  // the test revokes meanwhile
  mb->grantee_saw_stale = exos::sys_frame_info(kExtraSlotInChild).status == veneer::ERR_STALE_CAP;
  *reinterpret_cast<volatile uint64_t*>(kGrantVa) = 43;  // must fault now
  mb->go = 2;
  for (;;) exos::yield();
}

[[noreturn]] void spin() {
  for (;;) {
    asm volatile("" ::: "memory");
  }
}

void ignore_epilogue() {
  // A raw epilogue handler that never yields: the kernel must abort us.
  exos::set_exception_handler(veneer::kVecSliceEnd, [](veneer::ExceptionFrame*) { spin(); });
  exos::sys_env_set_upcalls(veneer::kSelfSlot, 0, reinterpret_cast<uint64_t>(&exos::exos_exception_entry));
  spin();
}

void cooperative() {
  map_mailbox();
  exos::set_exception_handler(veneer::kVecSliceStart, [](veneer::ExceptionFrame*) {
    mailbox()->prologues = mailbox()->prologues + 1;
  });
  exos::set_exception_handler(veneer::kVecSliceEnd, [](veneer::ExceptionFrame*) {
    mailbox()->epilogues = mailbox()->epilogues + 1;
    exos::sys_yield();  // save nothing more: give the CPU back in time
  });
  uint64_t entry = reinterpret_cast<uint64_t>(&exos::exos_exception_entry);
  exos::sys_env_set_upcalls(veneer::kSelfSlot, entry, entry);
  for (;;) mailbox()->spins = mailbox()->spins + 1;
}

exos::Message serve(const exos::Received& in) {
  if (!in.sync) {
    Mailbox* mb = mailbox();
    for (int i = 0; i < 5; i++) mb->pct_async_words[i] = in.msg.w[i];
    mb->pct_async_sender = in.sender;
    mb->pct_async_seen = mb->pct_async_seen + 1;
    return {};
  }
  // Echo with a twist the caller can check: words + 1, our private probe,
  // and the caller's identity as the kernel told us.
  return exos::Message{{in.msg.w[0] + 1, in.msg.w[1] + 1, in.msg.w[2] + 1,
                        *reinterpret_cast<volatile uint64_t*>(kPctProbeVa), in.sender}};
}

void pct_server() {
  map_mailbox();
  if (exos::page_alloc(kPctProbeVa, veneer::PERM_WRITE) != veneer::OK) exos::panic("probe");
  *reinterpret_cast<volatile uint64_t*>(kPctProbeVa) = kServerMagic;
  exos::pct_serve(serve);
}

constexpr uint64_t kReclaimVa = 0x00004B0000000000;
exos::Frame reclaim_frames[8];

void reclaim_child(bool cooperate) {
  map_mailbox();
  Mailbox* mb = mailbox();
  for (int i = 0; i < 8; i++) {
    if (exos::page_alloc(kReclaimVa + i * veneer::kPageSize, veneer::PERM_WRITE, &reclaim_frames[i]) != veneer::OK)
      exos::panic("reclaim alloc");
    mb->reclaim_pfns[i] = reclaim_frames[i].pfn;
  }
  if (cooperate) {
    // Visible revocation: we choose which frames to give back (the last ones).
    exos::set_exception_handler(veneer::kVecReclaim, [](veneer::ExceptionFrame* f) {
      Mailbox* m = mailbox();
      m->reclaim_upcalls = m->reclaim_upcalls + 1;
      for (uint64_t k = 0; k < f->error_code && k < 8; k++)
        if (exos::frame_free(reclaim_frames[7 - k]) == veneer::OK) m->reclaim_freed = m->reclaim_freed + 1;
    });
  } else {
    exos::set_exception_handler(veneer::kVecReclaim, [](veneer::ExceptionFrame*) {
      mailbox()->reclaim_upcalls = mailbox()->reclaim_upcalls + 1;  // and do nothing
    });
  }
  mb->reclaim_ready = 1;
  while (!mb->reclaim_check) exos::yield();
  // Which repossessed frames can we still reach?
  const veneer::RepossessionVector& rv = exos::repossession_vector(exos::self_id());
  uint64_t reachable = 0;
  for (uint64_t i = 0; i < rv.count && i < veneer::kRepossessionSlots; i++)
    if (exos::find_mapping(rv.pfns[i])) reachable++;
  mb->reclaim_reachable = reachable;
  mb->reclaim_checked = 1;
  for (;;) exos::yield();
}

// Random system calls with the arguments an attacker would try. Any outcome
// is fine for this env (it may well destroy itself); the test checks that
// the kernel survives and that everything it held comes back.
void syscall_fuzz() {
  map_mailbox();
  Mailbox* mb = mailbox();
  uint64_t x = mb->fuzz_seed * 0x9E3779B97F4A7C15ull + 1;
  auto rnd = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  static const uint64_t edges[] = {
      0, 1, 2, 3, 7, 64, veneer::kCapSlots - 1, veneer::kCapSlots, kMailboxSlotInChild, ~0ull, ~0ull - 1,
      1ull << 63, 1ull << 32, veneer::kUserBase, veneer::kUserTop - veneer::kPageSize, veneer::kUserTop,
      veneer::kKernelTablesVa, veneer::kFrameTableVa, veneer::kPageTableWindowVa, 0x0000800000000000ull,
      0xFFFF800000000000ull, 0xFFFFFFFF80100000ull, 0x0000500000000000ull, 0x0000500000001000ull,
      kMailboxVa, 0x0000500000000008ull, veneer::kAnyFrame, 0x10, 0x100, 0xFFFF};
  constexpr uint64_t kEdges = sizeof(edges) / sizeof(edges[0]);
  auto arg = [&] { return (rnd() & 3) == 0 ? rnd() : edges[rnd() % kEdges]; };
  for (uint64_t i = 0; i < 20000; i++) {
    // Mostly Veneer's own numbers (assigned or not), sometimes foreign ones.
    uint64_t num = (rnd() & 7) ? VENEER_SYSCALL_NUMBER(rnd() % VENEER_SYSCALL_COUNT) : arg();
    uint64_t a0 = arg(), a1 = arg(), a2 = arg(), a3 = arg(), a4 = arg(), a5 = arg();
    if (num == veneer::SYS_cons_write) continue;                         // keep the log readable
    if (num == veneer::SYS_env_destroy && a0 == veneer::kSelfSlot) continue;  // keep going
    exos::raw_syscall(num, a0, a1, a2, a3, a4, a5);
    mb->fuzz_calls = mb->fuzz_calls + 1;
  }
  mb->fuzz_done = 1;
  for (;;) exos::yield();
}

// Loads unusual data-segment selectors and checks, across many switches,
// that they stay ours: nobody else's leak in, ours leak nowhere.
// #GP from `in %dx, %al` (one byte): counted, and skipped.
void port_probe() {
  map_mailbox();
  Mailbox* mb = mailbox();
  exos::set_exception_handler(13, [](veneer::ExceptionFrame* f) {
    mailbox()->port_probe_faults = mailbox()->port_probe_faults + 1;
    f->rip += 1;
  });
  for (;;) {
    if (mb->port_probe_go != mb->port_probe_done) {
      uint8_t v = 0xEE;  // unchanged when the read faults
      asm volatile("in %%dx, %%al" : "+a"(v) : "d"(kScratchPort));
      mb->port_probe_value = v;
      mb->port_probe_done = mb->port_probe_go;
    }
    exos::yield();
  }
}

void segment_setter() {
  map_mailbox();
  Mailbox* mb = mailbox();
  asm volatile("mov %0, %%ds\n mov %1, %%es\n mov %1, %%fs\n mov %0, %%gs" ::"r"(kOddDs), "r"(kOddEs));
  mb->segments_loaded = 1;
  for (uint64_t i = 0; i < 2000; i++) {
    uint16_t ds, es, fs, gs;
    asm volatile("mov %%ds, %0\n mov %%es, %1\n mov %%fs, %2\n mov %%gs, %3" : "=r"(ds), "=r"(es), "=r"(fs), "=r"(gs));
    if (ds != kOddDs || es != kOddEs || fs != kOddEs || gs != kOddDs) mb->segments_changed = mb->segments_changed + 1;
    exos::yield();
  }
  mb->segments_done = 1;
  for (;;) exos::yield();
}

// Finding 4 of the review: an env used to exhaust the kernel's reverse-map
// pool through envs it created. Now everything it and its envs hold is
// charged to its account: it takes all it can, and must be refused by its
// quota (ERR_QUOTA) long before the machine runs out.
void memory_hog() {
  map_mailbox();
  Mailbox* mb = mailbox();
  constexpr uint64_t kEnvs = 4;
  uint64_t env_slot[kEnvs], made = 0;
  veneer::SysResult r{veneer::OK, 0};
  for (; made < 64; made++) {
    r = exos::sys_env_create(300 + made);
    if (r.status != veneer::OK) break;
    if (made < kEnvs) env_slot[made] = 300 + made;
  }
  mb->hog_env_status = r.status;
  mb->hog_envs = made;
  // Frames owned by its envs, each mapped in a 2 MiB region of its own (page
  // tables too), round robin, until the account says no.
  uint64_t n = 0;
  int64_t frame_status = veneer::OK, map_status = veneer::OK;
  while (frame_status == veneer::OK && map_status == veneer::OK && n < 1000000) {
    uint64_t slot = env_slot[n % (made < kEnvs ? made : kEnvs)];
    r = exos::sys_frame_alloc(veneer::kAnyFrame, slot, veneer::kNoSlot);
    frame_status = r.status;
    if (r.status != veneer::OK) break;
    mb->hog_frames = mb->hog_frames + 1;
    uint64_t va = 0x0000100000000000 + n * (2ull << 20);
    map_status = exos::sys_page_map(slot, va, veneer::kFrameByPfn | r.value, veneer::PERM_WRITE).status;
    if (map_status == veneer::OK) mb->hog_mappings = mb->hog_mappings + 1;
    n++;
  }
  mb->hog_frame_status = frame_status;
  mb->hog_map_status = map_status;
  // Slice positions, every one.
  int64_t slice_status = veneer::OK;
  for (uint64_t pos = 0; pos < veneer::kSlices; pos++) {
    veneer::SysResult s = exos::sys_slice_alloc(veneer::kSelfSlot, pos);
    if (s.status == veneer::OK) mb->hog_slices = mb->hog_slices + 1;
    else if (s.status != veneer::ERR_BUSY) slice_status = s.status;
  }
  mb->hog_slice_status = slice_status;
  mb->hog_done = 1;
  for (;;) exos::yield();
}

// Finding 6: page tables used to be out of reach of repossession. This env
// holds its memory as page tables (one frame mapped once per 2 MiB region)
// and ignores the request to give memory back.
void table_hoarder() {
  map_mailbox();
  Mailbox* mb = mailbox();
  exos::set_exception_handler(veneer::kVecReclaim, [](veneer::ExceptionFrame*) {});  // ignore it
  exos::Frame f;
  if (exos::frame_alloc_owned(&f) != veneer::OK) exos::panic("hoarder frame");
  uint64_t tables = 0;
  for (uint64_t i = 0; i < 600; i++)
    if (exos::sys_page_map(veneer::kSelfSlot, 0x0000100000000000 + i * (2ull << 20), f.ref(), veneer::PERM_READ).status ==
        veneer::OK)
      tables++;
  mb->hoard_tables = tables;
  mb->hoard_ready = 1;
  // Wait where no code of ours runs again (blocked for protected control
  // transfers nobody sends), so repossession shows exactly what is left.
  exos::pct_serve([](const exos::Received&) { return exos::Message{}; });
}

// Finding 5: in its slice-end upcall this env hands the CPU to a helper (the
// env in its extra slot, which has no slices of its own) instead of
// yielding. That used to count as answering and let the helper run out the
// grace period: 1.25 times the CPU of an honest env with as many positions.
void grace_dodger() {
  map_mailbox();
  while (exos::sys_env_run(kExtraSlotInChild).status == veneer::ERR_BAD_CAP) exos::yield();
  exos::set_exception_handler(veneer::kVecSliceEnd, [](veneer::ExceptionFrame*) {
    mailbox()->epilogues = mailbox()->epilogues + 1;
    exos::sys_yield_to(kExtraSlotInChild);
  });
  uint64_t entry = reinterpret_cast<uint64_t>(&exos::exos_exception_entry);
  exos::sys_env_set_upcalls(veneer::kSelfSlot, 0, entry);
  spin();
}

// Decimal argument i, or -1.
long number_arg(int i) {
  const char* s = exos::proc::argv(i);
  if (!s || !*s) return -1;
  long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

// An image spawned or exec'd by the ExOS process tests: argv[0] says what
// to do; the exit code reports.
int process_mode() {
  const char* mode = exos::proc::argv(0);
  if (exos::strcmp(mode, "exit") == 0) return static_cast<int>(number_arg(1));
  if (exos::strcmp(mode, "identity") == 0) {
    // argv: identity PID PPID. Exit 42 when both are what the caller said.
    if (exos::proc::getpid() != number_arg(1)) return 1;
    if (exos::proc::getppid() != number_arg(2)) return 2;
    return 42;
  }
  if (exos::strcmp(mode, "write") == 0) {
    // argv: write FD COUNT: COUNT bytes i % 251 to inherited descriptor FD.
    int fd = static_cast<int>(number_arg(1));
    long n = number_arg(2);
    for (long i = 0; i < n; i++) {
      uint8_t b = static_cast<uint8_t>(i % 251);
      if (exos::ipc::write(fd, &b, 1) != 1) return 3;
    }
    return 43;
  }
  if (exos::strcmp(mode, "spin") == 0) spin();
  if (exos::strcmp(mode, "crash") == 0) *reinterpret_cast<volatile uint64_t*>(0x0000490000000000) = 1;
  if (exos::strcmp(mode, "crash-no-handler") == 0) {
    exos::sys_env_set_handler(veneer::kSelfSlot, 0, 0, 0);
    *reinterpret_cast<volatile uint64_t*>(0x0000490000000000) = 1;
  }
  return 99;
}

}  // namespace

int main() {
  if (exos::proc::managed() && exos::proc::argc() > 0) return process_mode();
  switch (exos::start_arg()) {
    case CHILD_FAULT_NO_HANDLER:
      exos::sys_env_set_handler(veneer::kSelfSlot, 0, 0, 0);
      *reinterpret_cast<volatile uint64_t*>(0x0000450000000000) = 1;
      break;
    case CHILD_DIVIDE_NO_HANDLER: {
      exos::sys_env_set_handler(veneer::kSelfSlot, 0, 0, 0);
      volatile int zero = 0;
      volatile int x = 1 / zero;
      (void)x;
      break;
    }
    case CHILD_BAD_XSTACK:
      exos::sys_env_set_handler(veneer::kSelfSlot, reinterpret_cast<uint64_t>(&exos::exos_exception_entry),
                                0x0000460000000000, 4096);
      asm volatile("int3");
      break;
    case CHILD_VICTIM: victim(); break;
    case CHILD_ATTACKER: attacker(); break;
    case CHILD_GRANTEE: grantee(); break;
    case CHILD_SPIN: spin(); break;
    case CHILD_SYSCALL_FUZZ: syscall_fuzz(); break;
    case CHILD_SEGMENT_SETTER: segment_setter(); break;
    case CHILD_MEMORY_HOG: memory_hog(); break;
    case CHILD_GRACE_DODGER: grace_dodger(); break;
    case CHILD_PORT_PROBE: port_probe(); break;
    case CHILD_NET_CLAIM: {
      map_mailbox();
      veneer::NetRingFrames ring{1, {}};
      exos::Frame f;
      veneer::Filter filter = guest::net::frames_to_me(guest::net::kEtherArp);
      veneer::SysResult r{veneer::ERR_NO_MEMORY, 0};
      if (exos::page_alloc(kVictimVa, veneer::PERM_WRITE, &f) == veneer::OK) {
        ring.frames[0] = f.ref();
        r = exos::sys_net_filter_install(reinterpret_cast<uint64_t>(&filter), reinterpret_cast<uint64_t>(&ring), 0);
      }
      mailbox()->net_claim_id = r.value;
      mailbox()->net_claim_status = r.status;
      mailbox()->net_claim_done = 1;
      for (;;) exos::yield();
    }
    case CHILD_NET_CHURN: {
      map_mailbox();
      veneer::NetRingFrames ring{1, {}};
      exos::Frame f;
      if (exos::page_alloc(kVictimVa, veneer::PERM_WRITE, &f) != veneer::OK) exos::exit();
      ring.frames[0] = f.ref();
      veneer::Filter filter = guest::net::frames_to_me(guest::net::kEtherArp);
      auto* header = reinterpret_cast<volatile veneer::NetRingHeader*>(kVictimVa);
      for (;;) {
        veneer::SysResult r =
            exos::sys_net_filter_install(reinterpret_cast<uint64_t>(&filter), reinterpret_cast<uint64_t>(&ring), 0);
        if (r.status == veneer::OK) mailbox()->net_churn_installs = mailbox()->net_churn_installs + 1;
        exos::yield();
        mailbox()->net_churn_frames = mailbox()->net_churn_frames + header->head;
        if (r.status == veneer::OK) exos::sys_net_filter_remove(r.value);
      }
    }
    case CHILD_NET_WAIT: {
      map_mailbox();
      exos::set_exception_handler(veneer::kVecInterrupt, [](veneer::ExceptionFrame* f) {
        if (f->error_code & veneer::kNetInterruptBit) mailbox()->net_wait_upcalls = mailbox()->net_wait_upcalls + 1;
      });
      veneer::NetRingFrames ring{1, {}};
      exos::Frame f;
      if (exos::page_alloc(kVictimVa, veneer::PERM_WRITE, &f) != veneer::OK) exos::exit();
      if (exos::page_alloc(kVictimVa + 0x10000, veneer::PERM_WRITE) != veneer::OK) exos::exit();
      ring.frames[0] = f.ref();
      veneer::Filter filter = guest::net::frames_to_me(guest::net::kEtherArp);
      if (exos::sys_net_filter_install(reinterpret_cast<uint64_t>(&filter), reinterpret_cast<uint64_t>(&ring),
                                       veneer::NET_RING_UPCALL).status != veneer::OK)
        exos::exit();
      // An entry point (never entered here: nobody transfers to us) so that
      // pct_wait blocks.
      exos::sys_env_set_pct_entry(veneer::kSelfSlot, reinterpret_cast<uint64_t>(&spin), kVictimVa + 0x11000);
      mailbox()->net_wait_ready = 1;
      for (;;) {
        veneer::SysResult r = exos::sys_pct_wait();
        mailbox()->net_wait_status = r.status;
        mailbox()->net_wait_value = r.value;
        mailbox()->net_wait_returns = mailbox()->net_wait_returns + 1;
      }
    }
    case CHILD_TABLE_HOARDER: table_hoarder(); break;
    case CHILD_SPAWN_MODULE: {
      map_mailbox();
      exos::Child c;
      mailbox()->spawn_status = exos::spawn_module("child.elf", CHILD_SPIN, &c);
      mailbox()->spawn_done = 1;
      for (;;) exos::yield();
    }
    case CHILD_FOREIGN_NO_HANDLER:
      map_mailbox();
      exos::sys_env_set_handler(veneer::kSelfSlot, 0, 0, 0);
      mailbox()->foreign_status = exos::raw_syscall(39).status;  // Linux's getpid
      mailbox()->foreign_done = 1;
      for (;;) exos::yield();
    case CHILD_PCT_BLACKHOLE:
      map_mailbox();
      exos::pct_serve([](const exos::Received&) -> exos::Message { spin(); });
      break;
    case CHILD_PCT_CALLER: {
      map_mailbox();
      // Wait for the env capability the test grants (env_run on an empty
      // slot says ERR_BAD_CAP; on the granted one, something else).
      while (exos::sys_env_run(kExtraSlotInChild).status == veneer::ERR_BAD_CAP) exos::yield();
      mailbox()->caller_started = 1;
      exos::Received r;
      mailbox()->caller_status = exos::pct_call(kExtraSlotInChild, exos::Message{{1, 2, 3, 4, 5}}, &r);
      mailbox()->caller_done = 1;
      for (;;) exos::yield();
    }
    case CHILD_RECURSIVE_FAULT:
      exos::set_exception_handler(6, [](veneer::ExceptionFrame*) { asm volatile("ud2"); });
      asm volatile("ud2");
      break;
    case CHILD_IGNORE_EPILOGUE: ignore_epilogue(); break;
    case CHILD_COOPERATIVE: cooperative(); break;
    case CHILD_PCT_SERVER: pct_server(); break;
    case CHILD_RECLAIM_COOP: reclaim_child(true); break;
    case CHILD_RECLAIM_IGNORE: reclaim_child(false); break;
  }
  exos::printf("child %x: mode %lu survived; that is a bug\n", exos::self_id(), exos::start_arg());
  return 0;
}
