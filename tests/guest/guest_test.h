// A tiny in-guest test framework. Test cases register themselves; the test
// init runs the one named by the kernel command line (test=NAME), or all of
// them, prints one line per check failure and per case, then a summary
// "GUEST-TESTS: N passed, M failed", and powers off with the result.
#pragma once

#include "exos/exos.h"

namespace guest {

struct TestCase {
  const char* name;
  void (*fn)();
  TestCase* next;
};

void register_test(TestCase* t);
// Marks the running case failed (the CHECK macros call it).
void fail(const char* file, int line, const char* expr, long a, long b);

struct Registrar {
  explicit Registrar(TestCase* t) { register_test(t); }
};

// Slots for env capabilities the tests create; the mailbox shared with
// child programs sits in the child's slot kGrantBase.
constexpr uint64_t kMailboxSlotInChild = exos::kGrantBase;
constexpr uint64_t kExtraSlotInChild = exos::kGrantBase + 1;

// Modes for tests/guest/child.cc (its start argument).
enum ChildMode : uint64_t {
  CHILD_FAULT_NO_HANDLER = 1,   // removes its handler, then touches unmapped memory
  CHILD_BAD_XSTACK = 2,         // exception stack on an unmapped page, then int3
  CHILD_VICTIM = 3,             // owns frames with a secret; checks it stays intact
  CHILD_ATTACKER = 4,           // tries to reach the victim's frames by every call
  CHILD_GRANTEE = 5,            // maps a granted frame; sees it revoked
  CHILD_DIVIDE_NO_HANDLER = 6,  // divide error with no handler
  CHILD_SPIN = 7,               // burns CPU forever
  CHILD_IGNORE_EPILOGUE = 8,    // epilogue upcall handler that never yields
  CHILD_COOPERATIVE = 9,        // counts prologue/epilogue upcalls, yields in time
  CHILD_PCT_SERVER = 10,        // serves protected control transfers
  CHILD_RECLAIM_COOP = 11,      // gives frames back when asked
  CHILD_RECLAIM_IGNORE = 12,    // ignores the request to give frames back
  CHILD_RECURSIVE_FAULT = 13,   // its #UD handler raises #UD again, forever
  CHILD_PCT_BLACKHOLE = 14,     // serves PCT but never replies
  CHILD_PCT_CALLER = 15,        // calls the env in its extra slot, reports the status
  CHILD_SYSCALL_FUZZ = 16,      // makes random system calls with hostile arguments
  CHILD_SEGMENT_SETTER = 17,    // loads odd segment selectors, checks they stay its own
  CHILD_FOREIGN_NO_HANDLER = 18,  // removes its handler, makes a foreign system call
  CHILD_MEMORY_HOG = 19,        // creates envs and fills them with frames and mappings until refused
  CHILD_TABLE_HOARDER = 20,     // holds its memory as page tables, ignores requests to give it back
  CHILD_SPAWN_MODULE = 21,      // tries to spawn a boot module (only init has them mapped)
  CHILD_GRACE_DODGER = 22,      // answers its epilogue by a directed yield to a spinning helper
  CHILD_PORT_PROBE = 23,        // reads an I/O port each time it is asked, reports faults and values
  CHILD_NET_CLAIM = 24,         // installs the ARP filter of tests/guest/net_frames.h, reports the status
  CHILD_NET_CHURN = 25,         // installs and removes that filter in a loop, counting installs
  CHILD_NET_WAIT = 26,          // that filter with upcalls, then blocks in pct_wait; reports each return
};

// Selectors the segment setter loads: the user code and data descriptors,
// each where the other would normally be.
constexpr uint16_t kOddDs = 0x2b, kOddEs = 0x23;

// Shared page between the test init and its children.
struct Mailbox {
  volatile uint64_t victim_ready;
  volatile uint64_t victim_id;
  volatile uint64_t victim_pfns[4];
  volatile uint64_t attack_done;
  volatile uint64_t attempts;
  volatile uint64_t denied;
  volatile uint64_t leaks;
  volatile uint64_t victim_intact;
  volatile uint64_t victim_checked;
  volatile uint64_t grantee_value_written;
  volatile uint64_t grantee_saw_stale;
  volatile uint64_t grantee_faulted;
  volatile uint64_t grantee_fault_addr;
  volatile uint64_t go;
  // CPU and PCT tests
  volatile uint64_t prologues;
  volatile uint64_t epilogues;
  volatile uint64_t spins;
  volatile uint64_t pct_async_seen;
  volatile uint64_t pct_async_sender;
  volatile uint64_t pct_async_words[5];
  // revocation tests
  volatile uint64_t reclaim_ready;
  volatile uint64_t reclaim_pfns[8];
  volatile uint64_t reclaim_upcalls;
  volatile uint64_t reclaim_freed;
  volatile uint64_t reclaim_check;   // set by the test: child reports reachability
  volatile uint64_t reclaim_reachable;  // repossessed frames still mapped in the child
  volatile uint64_t reclaim_checked;
  volatile uint64_t caller_started;
  volatile uint64_t caller_done;
  volatile int64_t caller_status;
  volatile uint64_t fuzz_seed;
  volatile uint64_t fuzz_calls;
  volatile uint64_t fuzz_done;
  volatile uint64_t segments_loaded;
  volatile uint64_t segments_changed;
  volatile uint64_t segments_done;
  volatile uint64_t foreign_done;
  volatile int64_t foreign_status;
  volatile uint64_t hog_done;
  volatile int64_t hog_frame_status;   // why frame allocation stopped
  volatile int64_t hog_map_status;     // why mapping stopped
  volatile int64_t hog_env_status;     // why env creation stopped
  volatile int64_t hog_slice_status;   // why slice allocation stopped
  volatile uint64_t hog_frames, hog_mappings, hog_envs, hog_slices;
  volatile uint64_t hoard_ready;
  volatile uint64_t hoard_tables;
  volatile uint64_t spawn_done;
  volatile int64_t spawn_status;
  volatile uint64_t port_probe_go;     // set by the test: probe once more
  volatile uint64_t port_probe_done;   // the probe's answer to port_probe_go
  volatile uint64_t port_probe_faults;
  volatile uint64_t port_probe_value;
  volatile uint64_t net_claim_done;
  volatile int64_t net_claim_status;
  volatile uint64_t net_claim_id;
  volatile uint64_t net_churn_installs;
  volatile uint64_t net_churn_frames;  // frames its ring got, in all
  volatile uint64_t net_wait_ready;
  volatile uint64_t net_wait_upcalls;
  volatile uint64_t net_wait_returns;
  volatile int64_t net_wait_status;
  volatile uint64_t net_wait_value;
};

// The I/O port the port tests use: COM2's scratch register (the test
// machine has a second UART, tools/qemu_args.py), which reads back what was
// written and drives nothing.
constexpr uint16_t kScratchPort = 0x2FF;

// The PCT server's private word: at this address the server and its caller
// hold different values, which proves the server ran in its own space.
constexpr uint64_t kPctProbeVa = 0x00004A0000000000;
constexpr uint64_t kServerMagic = 0x5E2BE25E2BE2ull;

constexpr uint64_t kMailboxVa = 0x0000480000000000;

// Spawns tests/guest/child.elf with `mode`, granting it the mailbox frame
// (slot `mailbox_slot` in this env) and optionally an extra capability.
veneer::Status spawn_child(uint64_t mode, uint64_t mailbox_slot, exos::Child* out,
                           int64_t extra_slot = -1, uint64_t extra_rights = 0);

}  // namespace guest

#define GUEST_CONCAT_(a, b) a##b
#define GUEST_CONCAT(a, b) GUEST_CONCAT_(a, b)
#define TEST(name)                                                              \
  static void test_##name();                                                    \
  static guest::TestCase GUEST_CONCAT(tc_, name){#name, &test_##name, nullptr}; \
  static guest::Registrar GUEST_CONCAT(reg_, name){&GUEST_CONCAT(tc_, name)};   \
  static void test_##name()

#define CHECK(cond) \
  ((cond) ? (void)0 : guest::fail(__FILE__, __LINE__, #cond, 0, 0))
#define CHECK_EQ(a, b)                                                           \
  do {                                                                           \
    long _a = (long)(a), _b = (long)(b);                                         \
    if (_a != _b) guest::fail(__FILE__, __LINE__, #a " == " #b, _a, _b);         \
  } while (0)
// Checks a system call's status against an expected veneer::Status.
#define CHECK_STATUS(call, expected) CHECK_EQ((call).status, (expected))
