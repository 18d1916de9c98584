// Guest tests: the slice vector, CPU revocation (upcalls and the abort
// protocol), protected control transfer, and visible revocation of memory.
#include "guest_test.h"

namespace {

using namespace veneer;

guest::Mailbox* mailbox() { return reinterpret_cast<guest::Mailbox*>(guest::kMailboxVa); }

uint64_t ticks() { return exos::kernel_info().ticks; }

// Yields until `n` more slices have ended (bounded so a bug cannot hang us).
void run_slices(uint64_t n) {
  uint64_t end = ticks() + n;
  for (uint64_t spins = 0; ticks() < end && spins < 100000000; spins++) exos::yield();
}

void wait_blocked(uint32_t id) {
  for (int i = 0; i < 100000 && exos::env_info(id).state != ENV_BLOCKED; i++) exos::yield();
}

struct Kids {
  exos::Child c[4];
  int n = 0;
  ~Kids() {
    for (int i = 0; i < n; i++) {
      exos::sys_env_destroy(c[i].slot);
      exos::sys_cap_delete(c[i].slot);
      exos::slot_free(c[i].slot);
    }
  }
  exos::Child& spawn(uint64_t mode, uint64_t mailbox_slot, uint32_t extra_slices = 0) {
    exos::Child& k = c[n++];
    CHECK_EQ(guest::spawn_child(mode, mailbox_slot, &k), OK);
    if (extra_slices) CHECK_EQ(exos::give_slices(k.slot, extra_slices), OK);
    return k;
  }
};

// The page shared with children, mapped at kMailboxVa for one test.
struct MailboxPage {
  exos::Frame frame;
  MailboxPage() { CHECK_EQ(exos::shared_page_alloc(guest::kMailboxVa, PERM_WRITE, &frame), OK); }
  ~MailboxPage() { exos::frame_free(frame); }
  uint64_t slot() const { return frame.slot; }
};

// Drops our capability to a destroyed child.
void forget(const exos::Child& c) {
  exos::sys_cap_delete(c.slot);
  exos::slot_free(c.slot);
}

// Percentage (x10) of `part` in `whole`.
long per_mille(uint64_t part, uint64_t whole) { return whole ? long(part * 1000 / whole) : -1; }

}  // namespace

TEST(slice_vector_is_visible_and_checked) {
  const SliceVector& sv = exos::slice_vector();
  CHECK_EQ(sv.owner[0], exos::self_id());  // the kernel gave init position 0
  CHECK(sv.slice_ns > 0);
  CHECK(sv.grace_ns > 0 && sv.grace_ns < sv.slice_ns);
  CHECK_STATUS(exos::sys_slice_alloc(kSelfSlot, 0), ERR_BUSY);
  CHECK_STATUS(exos::sys_slice_alloc(kSelfSlot, kSlices), ERR_OUT_OF_RANGE);
  CHECK_STATUS(exos::sys_slice_alloc(950, 5), ERR_BAD_CAP);
  CHECK_STATUS(exos::sys_slice_free(kSelfSlot, 30), ERR_ACCESS_DENIED);  // not ours
  CHECK_STATUS(exos::sys_slice_alloc(kSelfSlot, 30), OK);
  CHECK_EQ(exos::slice_vector().owner[30], exos::self_id());
  CHECK_EQ(exos::env_info(exos::self_id()).slices_held, 2);
  CHECK_STATUS(exos::sys_slice_free(kSelfSlot, 30), OK);
  CHECK_EQ(exos::slice_vector().owner[30], kNoOwner);
}

// Three busy envs holding 3, 2 and 1 slices get 50/33/17% of what they share.
TEST(slice_shares_follow_positions) {
  MailboxPage mb;
  Kids kids;
  exos::Child& a = kids.spawn(guest::CHILD_SPIN, mb.slot(), 2);
  exos::Child& b = kids.spawn(guest::CHILD_SPIN, mb.slot(), 1);
  exos::Child& c = kids.spawn(guest::CHILD_SPIN, mb.slot(), 0);
  run_slices(30);  // let them all start
  uint64_t a0 = exos::env_info(a.id).cpu_tsc, b0 = exos::env_info(b.id).cpu_tsc, c0 = exos::env_info(c.id).cpu_tsc;
  run_slices(600);
  uint64_t da = exos::env_info(a.id).cpu_tsc - a0, db = exos::env_info(b.id).cpu_tsc - b0,
           dc = exos::env_info(c.id).cpu_tsc - c0, sum = da + db + dc;
  exos::printf("  shares: %ld %ld %ld per mille\n", per_mille(da, sum), per_mille(db, sum), per_mille(dc, sum));
  CHECK(per_mille(da, sum) >= 450 && per_mille(da, sum) <= 550);
  CHECK(per_mille(db, sum) >= 283 && per_mille(db, sum) <= 383);
  CHECK(per_mille(dc, sum) >= 117 && per_mille(dc, sum) <= 217);
}

// A cooperative env sees its upcalls; one that ignores its epilogue is
// aborted within the grace period, loses its slices after kMaxOverruns, and
// the others keep their shares.
TEST(epilogue_overrun_is_aborted) {
  MailboxPage mb;
  Kids kids;
  exos::Child& good2 = kids.spawn(guest::CHILD_SPIN, mb.slot(), 1);
  exos::Child& coop = kids.spawn(guest::CHILD_COOPERATIVE, mb.slot(), 0);
  exos::Child& bad = kids.spawn(guest::CHILD_IGNORE_EPILOGUE, mb.slot(), 1);
  run_slices(200);
  const EnvInfo& bi = exos::env_info(bad.id);
  CHECK(bi.overruns >= kMaxOverruns);
  CHECK_EQ(bi.slices_held, 0);
  CHECK_EQ(bi.slices_lost, 2);
  uint64_t grace_tsc = exos::slice_vector().grace_ns * exos::slice_vector().tsc_hz / 1000000000ull;
  exos::printf("  overrun: %lu tsc ticks, grace %lu\n", bi.last_overrun_tsc, grace_tsc);
  CHECK(bi.last_overrun_tsc <= grace_tsc * 2);
  for (uint32_t p = 0; p < kSlices; p++) CHECK(exos::slice_vector().owner[p] != bad.id);
  // The cooperative env answered every epilogue in time.
  CHECK(mailbox()->epilogues > 10);
  CHECK(mailbox()->prologues > 10);
  CHECK_EQ(exos::env_info(coop.id).overruns, 0);
  // The well-behaved envs (2 slices and 1 slice) now share the CPU 2:1.
  uint64_t g0 = exos::env_info(good2.id).cpu_tsc, c0 = exos::env_info(coop.id).cpu_tsc;
  uint64_t b0 = exos::env_info(bad.id).cpu_tsc;
  run_slices(300);
  uint64_t dg = exos::env_info(good2.id).cpu_tsc - g0, dc = exos::env_info(coop.id).cpu_tsc - c0;
  exos::printf("  after abort: %ld %ld per mille\n", per_mille(dg, dg + dc), per_mille(dc, dg + dc));
  CHECK(per_mille(dg, dg + dc) >= 617 && per_mille(dg, dg + dc) <= 717);
  CHECK_EQ(exos::env_info(bad.id).cpu_tsc, b0);  // no slices, never runs
}

TEST(upcall_registration_is_validated) {
  exos::Child c;
  CHECK_EQ(exos::spawn_module("child.elf", guest::CHILD_SPIN, &c), OK);
  uint64_t entry = reinterpret_cast<uint64_t>(&exos::exos_exception_entry);
  CHECK_STATUS(exos::sys_env_set_upcalls(kSelfSlot, 0xFFFF800000000000ull, 0), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_upcalls(kSelfSlot, 0, 0x0000800000000000ull), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_upcalls(950, entry, entry), ERR_BAD_CAP);
  // A child whose exception stack is gone cannot take upcalls.
  CHECK_STATUS(exos::sys_env_set_handler(c.slot, 0, 0, 0), OK);
  CHECK_STATUS(exos::sys_env_set_upcalls(c.slot, entry, entry), ERR_BAD_STATE);
  CHECK_STATUS(exos::sys_env_set_upcalls(kSelfSlot, 0, 0), OK);
  CHECK_STATUS(exos::sys_env_destroy(c.slot), OK);
  forget(c);
}

TEST(directed_yield_donates_the_slice) {
  MailboxPage mb;
  Kids kids;
  exos::Child& coop = kids.spawn(guest::CHILD_COOPERATIVE, mb.slot(), 0);
  for (uint32_t p = 0; p < kSlices; p++)
    if (exos::slice_vector().owner[p] == coop.id) exos::sys_slice_free(coop.slot, p);
  CHECK_EQ(exos::env_info(coop.id).slices_held, 0);
  // With no slices it runs only when we give it ours.
  uint64_t before = mailbox()->spins;
  for (int i = 0; i < 20; i++) CHECK_STATUS(exos::sys_yield_to(coop.slot), OK);
  CHECK(mailbox()->spins > before);
  CHECK_STATUS(exos::sys_yield_to(900), ERR_BAD_CAP);
  CHECK_STATUS(exos::sys_yield_to(kCapSlots), ERR_OUT_OF_RANGE);
}

TEST(pct_sync_round_trip) {
  MailboxPage mb;
  exos::Frame probe;
  CHECK_EQ(exos::page_alloc(guest::kPctProbeVa, PERM_WRITE, &probe), OK);
  *reinterpret_cast<volatile uint64_t*>(guest::kPctProbeVa) = 0xC0FFEE;  // ours differs
  Kids kids;
  exos::Child& srv = kids.spawn(guest::CHILD_PCT_SERVER, mb.slot(), 0);
  wait_blocked(srv.id);
  CHECK_EQ(exos::env_info(srv.id).state, ENV_BLOCKED);
  for (uint64_t i = 0; i < 100; i++) {
    exos::Received r;
    exos::Message m{{i, i * 3, 0xFFFFFFFFFFFFFFF0ull + (i & 7), 77, 88}};
    CHECK_EQ(exos::pct_call(srv.slot, m, &r), OK);
    CHECK_EQ(r.sender, srv.id);                        // from the kernel
    CHECK(r.sync);
    CHECK_EQ(r.msg.w[0], i + 1);                        // payload intact both ways
    CHECK_EQ(r.msg.w[1], i * 3 + 1);
    CHECK_EQ(r.msg.w[2], 0xFFFFFFFFFFFFFFF1ull + (i & 7));
    CHECK_EQ(r.msg.w[3], guest::kServerMagic);          // ran in its own address space
    CHECK_EQ(r.msg.w[4], exos::self_id());              // it learned who called
  }
  CHECK_EQ(*reinterpret_cast<volatile uint64_t*>(guest::kPctProbeVa), 0xC0FFEE);
  exos::frame_free(probe);
}

TEST(pct_async_delivers_without_switching) {
  MailboxPage mb;
  Kids kids;
  exos::Child& srv = kids.spawn(guest::CHILD_PCT_SERVER, mb.slot(), 0);
  wait_blocked(srv.id);
  uint64_t runs = exos::env_info(srv.id).runs;
  CHECK_EQ(exos::pct_send(srv.slot, exos::Message{{11, 22, 33, 44, 55}}), OK);
  CHECK_EQ(exos::env_info(srv.id).runs, runs);           // we kept the CPU
  CHECK_EQ(exos::env_info(srv.id).state, ENV_RUNNABLE);
  CHECK_EQ(exos::pct_send(srv.slot, exos::Message{}), ERR_BAD_STATE);  // not waiting now
  for (int i = 0; i < 1000 && !mailbox()->pct_async_seen; i++) exos::yield();
  CHECK_EQ(mailbox()->pct_async_seen, 1);
  CHECK_EQ(mailbox()->pct_async_sender, exos::self_id());
  for (int i = 0; i < 5; i++) CHECK_EQ(mailbox()->pct_async_words[i], 11 * (i + 1));
  wait_blocked(srv.id);
  CHECK_EQ(exos::env_info(srv.id).state, ENV_BLOCKED);
}

TEST(pct_refuses_bad_targets) {
  MailboxPage mb;
  Kids kids;
  exos::Child& spinner = kids.spawn(guest::CHILD_SPIN, mb.slot(), 0);
  exos::Message m{{1, 2, 3, 4, 5}};
  exos::Received r{};
  CHECK_EQ(exos::pct_call(950, m, &r), ERR_BAD_CAP);            // no capability
  CHECK_EQ(exos::pct_call(kCapSlots, m, &r), ERR_OUT_OF_RANGE);
  CHECK_EQ(exos::pct_call(mb.slot(), m, &r), ERR_BAD_CAP);        // not an env capability
  CHECK_EQ(exos::pct_call(spinner.slot, m, &r), ERR_NO_ENTRY);  // no protected entry point
  CHECK_EQ(exos::pct_send(spinner.slot, m), ERR_NO_ENTRY);
  CHECK_EQ(exos::pct_call(kPctReply, m, &r), ERR_NOT_FOUND);    // nobody called us
  CHECK_EQ(r.sender, 0);                                         // nothing was delivered
  CHECK_STATUS(exos::sys_pct_wait(), ERR_NO_ENTRY);             // we have no entry either
  CHECK_EQ(exos::env_info(exos::self_id()).state, ENV_RUNNABLE);
  CHECK_STATUS(exos::sys_env_set_pct_entry(kSelfSlot, 0xFFFF800000000000ull, 0x10000), ERR_BAD_ADDRESS);
  CHECK_STATUS(exos::sys_env_set_pct_entry(kSelfSlot, 0x401000, 0x10008), ERR_UNALIGNED);
  exos::sys_env_destroy(spinner.slot);
  CHECK_EQ(exos::pct_call(spinner.slot, m, &r), ERR_STALE_CAP);
}

TEST(reclaim_cooperative_env_chooses) {
  MailboxPage mb;
  Kids kids;
  exos::Child& k = kids.spawn(guest::CHILD_RECLAIM_COOP, mb.slot(), 0);
  for (int i = 0; i < 100000 && !mailbox()->reclaim_ready; i++) exos::yield();
  uint32_t frames_before = exos::env_info(k.id).frames;
  CHECK_STATUS(exos::sys_frame_reclaim(kSelfSlot, k.slot, 3, 50), ERR_BAD_CAP);  // needs MACHINE
  CHECK_STATUS(exos::sys_frame_reclaim(kMachineSlot, k.slot, 0, 50), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_frame_reclaim(kMachineSlot, k.slot, 3, 0), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_frame_reclaim(kMachineSlot, k.slot, 3, 10001), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_frame_reclaim(kMachineSlot, k.slot, 1u << 30, 50), ERR_INVALID_ARGS);
  CHECK_STATUS(exos::sys_frame_reclaim(kMachineSlot, 950, 3, 50), ERR_BAD_CAP);
  CHECK_EQ(exos::env_info(k.id).reclaim_asked, 0);  // none of those asked for anything
  CHECK_STATUS(exos::sys_frame_reclaim(kMachineSlot, k.slot, 3, 50), OK);
  CHECK_EQ(exos::env_info(k.id).reclaim_asked, 3);
  run_slices(60);
  CHECK_EQ(mailbox()->reclaim_upcalls, 1);
  CHECK_EQ(mailbox()->reclaim_freed, 3);
  CHECK_EQ(exos::env_info(k.id).frames, frames_before - 3);
  CHECK_EQ(exos::env_info(k.id).reclaim_asked, 0);
  CHECK_EQ(exos::repossession_vector(k.id).count, 0);  // nothing taken by force
  for (int i = 5; i < 8; i++) CHECK_EQ(exos::frame_table()[mailbox()->reclaim_pfns[i]].owner, kOwnerFree);
  for (int i = 0; i < 5; i++) CHECK_EQ(exos::frame_table()[mailbox()->reclaim_pfns[i]].owner, k.id);
}

TEST(reclaim_uncooperative_env_is_repossessed) {
  MailboxPage mb;
  Kids kids;
  exos::Child& k = kids.spawn(guest::CHILD_RECLAIM_IGNORE, mb.slot(), 0);
  for (int i = 0; i < 100000 && !mailbox()->reclaim_ready; i++) exos::yield();
  uint32_t frames_before = exos::env_info(k.id).frames;
  CHECK_STATUS(exos::sys_frame_reclaim(kMachineSlot, k.slot, 3, 5), OK);
  run_slices(40);
  CHECK_EQ(mailbox()->reclaim_upcalls, 1);  // it was asked, visibly
  const RepossessionVector& rv = exos::repossession_vector(k.id);
  CHECK_EQ(rv.count, 3);
  CHECK_EQ(exos::env_info(k.id).repossessed, 3);
  CHECK_EQ(exos::env_info(k.id).frames, frames_before - 3);
  // It can no longer reach them ...
  mailbox()->reclaim_check = 1;
  for (int i = 0; i < 100000 && !mailbox()->reclaim_checked; i++) exos::yield();
  CHECK_EQ(mailbox()->reclaim_reachable, 0);
  // ... and they are free for anyone else.
  for (uint64_t i = 0; i < 3; i++) {
    exos::Frame f;
    CHECK_EQ(exos::frame_table()[rv.pfns[i]].mappings, 0);
    CHECK_EQ(exos::frame_alloc(&f, rv.pfns[i]), OK);
    CHECK_EQ(exos::frame_free(f), OK);
  }
}

// Starts a PCT server that never replies and a child blocked calling it.
void start_blocked_call(const MailboxPage& mb, exos::Child* hole, exos::Child* caller) {
  CHECK_EQ(guest::spawn_child(guest::CHILD_PCT_BLACKHOLE, mb.slot(), hole), OK);
  wait_blocked(hole->id);
  CHECK_EQ(guest::spawn_child(guest::CHILD_PCT_CALLER, mb.slot(), caller, hole->slot, 0), OK);
  for (int i = 0; i < 100000 && exos::env_info(caller->id).state != ENV_BLOCKED; i++) exos::yield();
  CHECK_EQ(mailbox()->caller_started, 1);
  CHECK_EQ(exos::env_info(caller->id).state, ENV_BLOCKED);  // waiting for a reply that never comes
}

// A caller blocked in pct_sync wakes with ERR_STALE_CAP when the callee dies,
// and both env slots come back free (no half-dead envs).
TEST(pct_partner_death_wakes_caller) {
  MailboxPage mb;
  exos::Child hole, caller;
  start_blocked_call(mb, &hole, &caller);
  run_slices(5);
  CHECK_EQ(mailbox()->caller_done, 0);
  CHECK_STATUS(exos::sys_env_destroy(hole.slot), OK);
  for (int i = 0; i < 100000 && !mailbox()->caller_done; i++) exos::yield();
  CHECK_EQ(mailbox()->caller_done, 1);
  CHECK_EQ(mailbox()->caller_status, ERR_STALE_CAP);
  CHECK_STATUS(exos::sys_env_destroy(caller.slot), OK);
  CHECK_EQ(exos::env_info(hole.id).state == ENV_FREE, true);
  CHECK_EQ(exos::env_info(caller.id).state == ENV_FREE, true);
  forget(hole);
  forget(caller);
}

// Destroying a caller that is blocked in pct_sync, then its callee, leaves
// both slots free.
TEST(blocked_caller_destroyed_cleanly) {
  MailboxPage mb;
  exos::Child hole, caller;
  start_blocked_call(mb, &hole, &caller);
  CHECK_STATUS(exos::sys_env_destroy(caller.slot), OK);
  CHECK_STATUS(exos::sys_env_destroy(hole.slot), OK);
  CHECK_EQ(exos::env_table()[env_index(caller.id)].state, ENV_FREE);
  CHECK_EQ(exos::env_table()[env_index(hole.id)].state, ENV_FREE);
  forget(hole);
  forget(caller);
}

// Finding 5 of the review: an env that answered its epilogue upcall by
// handing the CPU to a spinning helper (instead of yielding) kept its
// positions and let the helper run out the grace period: 1.25 times the CPU
// of an honest env with as many positions. Handing the CPU over from a
// grace period now ends the slice there.
TEST(grace_period_cannot_be_given_away) {
  MailboxPage mb;
  Kids kids;
  exos::Child& helper = kids.spawn(guest::CHILD_SPIN, mb.slot());
  for (uint32_t p = 0; p < kSlices; p++)
    if (exos::slice_vector().owner[p] == helper.id) CHECK_STATUS(exos::sys_slice_free(helper.slot, p), OK);
  exos::Child& honest = kids.spawn(guest::CHILD_SPIN, mb.slot());
  exos::Child& dodger = kids.c[kids.n++];
  CHECK_EQ(guest::spawn_child(guest::CHILD_GRACE_DODGER, mb.slot(), &dodger, helper.slot, 0), OK);
  CHECK_EQ(exos::env_info(helper.id).slices_held, 0);
  run_slices(30);
  auto cpu = [](const exos::Child& c) { return exos::env_info(c.id).cpu_tsc; };
  uint64_t d0 = cpu(dodger), h0 = cpu(helper), c0 = cpu(honest);
  run_slices(300);
  uint64_t d = cpu(dodger) - d0, h = cpu(helper) - h0, c = cpu(honest) - c0;
  exos::printf("  dodger %lu + helper %lu against honest %lu: %ld per mille\n", d, h, c, per_mille(d + h, c));
  CHECK(mailbox()->epilogues > 50);
  CHECK(per_mille(d + h, c) <= 1050);  // no more than the honest env, give or take the upcall
  CHECK(per_mille(h, c) <= 20);        // the helper gets (next to) nothing
  CHECK_EQ(exos::env_info(dodger.id).overruns, 0);  // it did answer
}
