#include "kernel/ioports.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/console.h"
#include "kernel/env.h"

namespace veneer {
namespace {

struct PortRange {
  uint16_t first, count;
};
// Boot registers a handful (kMaxReserved is generous); a full table panics
// rather than leave a kernel port grantable.
constexpr uint64_t kMaxReserved = 32;
PortRange reserved[kMaxReserved];
uint64_t reserved_count;

bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; }

void set_ranges(const Env* e, bool open) {
  for (uint64_t r = 0; r < kMaxIoPortRanges; r++)
    if (e->io_count[r]) arch::set_io_ports(e->io_first[r], e->io_count[r], open);
}

}  // namespace

const Env* io_ports_open;

void io_ports_switch(const Env* next) {
  if (io_ports_open == next) return;
  if (io_ports_open) set_ranges(io_ports_open, false);
  io_ports_open = nullptr;
  if (next && (next->pct_slow & PCT_SLOW_PORTS)) {
    set_ranges(next, true);
    io_ports_open = next;
  }
}

void reserve_kernel_ports(uint16_t first, uint16_t count) {
  if (!count) return;
  // Every caller runs at boot: too many is a build defect, never input.
  if (reserved_count == kMaxReserved) panic("ioports: more than %lu kernel port ranges", kMaxReserved);
  reserved[reserved_count++] = PortRange{first, count};
}

bool kernel_uses_ports(uint64_t first, uint64_t count) {
  for (uint64_t i = 0; i < reserved_count; i++)
    if (overlaps(first, count, reserved[i].first, reserved[i].count)) return true;
  return false;
}

Status io_ports_bind(Env* e, uint16_t first, uint16_t count) {
  uint64_t free = kMaxIoPortRanges;
  for (uint64_t r = 0; r < kMaxIoPortRanges; r++) {
    if (!e->io_count[r]) {
      if (free == kMaxIoPortRanges) free = r;
    } else if (overlaps(first, count, e->io_first[r], e->io_count[r])) {
      return ERR_BUSY;
    }
  }
  if (free == kMaxIoPortRanges) return ERR_NO_RESOURCES;
  e->io_first[free] = first;
  e->io_count[free] = count;
  e->pct_slow |= PCT_SLOW_PORTS;
  if (arch::cpu0.current == e) {
    io_ports_switch(nullptr);  // whatever is open (only e's can be) closes ...
    io_ports_switch(e);        // ... and e's ranges, the new one with them, open
  }
  return OK;
}

Status io_ports_unbind(Env* e, uint16_t first, uint16_t count) {
  bool any = false, found = false;
  for (uint64_t r = 0; r < kMaxIoPortRanges; r++) {
    if (e->io_count[r] && e->io_first[r] == first && e->io_count[r] == count) {
      if (io_ports_open == e) arch::set_io_ports(first, count, false);
      e->io_count[r] = 0;
      found = true;
    }
    any |= e->io_count[r] != 0;
  }
  if (!any) {
    e->pct_slow &= ~PCT_SLOW_PORTS;
    if (io_ports_open == e) io_ports_open = nullptr;  // nothing of it is open any more
  }
  return found ? OK : ERR_NOT_FOUND;
}

}  // namespace veneer
