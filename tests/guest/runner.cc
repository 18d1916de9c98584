// The test init: runs in-guest test cases and reports over serial.
#include "guest_test.h"

namespace guest {
namespace {

TestCase* head = nullptr;
int failures_in_case = 0;

}  // namespace

void register_test(TestCase* t) {
  // Keep registration order (append at the tail).
  TestCase** p = &head;
  while (*p) p = &(*p)->next;
  t->next = nullptr;
  *p = t;
}

void fail(const char* file, int line, const char* expr, long a, long b) {
  failures_in_case++;
  exos::printf("  CHECK FAILED %s:%d: %s (got %ld, expected %ld; %s vs %s)\n", file, line, expr, a, b,
               veneer::status_name(a), veneer::status_name(b));
}

veneer::Status spawn_child(uint64_t mode, uint64_t mailbox_slot, exos::Child* out, int64_t extra_slot,
                           uint64_t extra_rights) {
  const veneer::BootModule* m = exos::find_module("child.elf");
  if (!m) return veneer::ERR_NOT_FOUND;
  // The child waits for its mailbox capability before it starts work, so
  // granting right after spawn is not a race.
  veneer::Status s = exos::spawn(reinterpret_cast<const void*>(m->va), m->size, mode, out);
  if (s != veneer::OK) return s;
  if (extra_slot >= 0) {
    s = static_cast<veneer::Status>(
        exos::sys_cap_grant(extra_slot, out->slot, kExtraSlotInChild, extra_rights).status);
    if (s != veneer::OK) return s;
  }
  return static_cast<veneer::Status>(
      exos::sys_cap_grant(mailbox_slot, out->slot, kMailboxSlotInChild, veneer::kRightsAll).status);
}

}  // namespace guest

int main() {
  // init_ends=exit|crash: the machine must say init is gone and power off
  // (tests/CMakeLists.txt), not hang.
  char end[16];
  if (exos::cmdline_get("init_ends", end, sizeof end)) {
    exos::printf("init: ending by %s\n", end);
    if (exos::strcmp(end, "crash") == 0) {
      exos::sys_env_set_handler(veneer::kSelfSlot, 0, 0, 0);
      *reinterpret_cast<volatile uint64_t*>(8) = 1;
    }
    exos::exit();
  }
  char only[64];
  bool filtered = exos::cmdline_get("test", only, sizeof(only));
  int passed = 0, failed = 0;
  for (guest::TestCase* t = guest::head; t; t = t->next) {
    if (filtered && exos::strcmp(only, t->name) != 0) continue;
    guest::failures_in_case = 0;
    exos::printf("TEST %s ...\n", t->name);
    t->fn();
    // After every case, the kernel checks its own tables.
    veneer::SysResult scan = exos::sys_invariant_scan(veneer::kMachineSlot);
    if (scan.status != veneer::OK || scan.value != 0) {
      exos::printf("  the kernel's invariant scan found %lu violations (status %s)\n", scan.value,
                   veneer::status_name(scan.status));
      guest::failures_in_case++;
    }
    if (guest::failures_in_case) {
      failed++;
      exos::printf("TEST %s FAILED\n", t->name);
    } else {
      passed++;
      exos::printf("TEST %s ok\n", t->name);
    }
  }
  exos::printf("GUEST-TESTS: %d passed, %d failed\n", passed, failed);
  exos::sys_poweroff(veneer::kMachineSlot,
                     failed == 0 && passed > 0 ? veneer::kPoweroffSuccess : veneer::kPoweroffFailure);
  return 0;
}
