// I/O ports as a resource: the ports the kernel drives itself, which no
// IOPORT capability may name, and the per-env ranges the TSS I/O permission
// bitmap opens while that env runs (abi.h: ioport_create, ioport_bind).
#pragma once

#include <stdint.h>

#include "veneer/abi.h"

namespace veneer {

struct Env;

// Drivers call this at boot for each port range they use (the serial log,
// the PIT, the PICs, ACPI's registers, the reset and exit ports).
void reserve_kernel_ports(uint16_t first, uint16_t count);
// Whether [first, first + count) touches a reserved port.
bool kernel_uses_ports(uint64_t first, uint64_t count);
// Whether a range is one an IOPORT capability may name at all: 1 to
// kMaxIoPortCount ports, all below 0x10000 (kernel ports aside).
inline bool io_range_valid(uint64_t first, uint64_t count) {
  return count >= 1 && count <= kMaxIoPortCount && first <= 0xFFFF && first + count <= 0x10000;
}

// The env whose ranges the TSS bitmap opens now (nullptr: none). Only the
// running env's, and only while it runs: every switch (idle included)
// goes through io_ports_switch when this or the next env has ports.
extern const Env* io_ports_open;
void io_ports_switch(const Env* next);

// Adds (bind) or removes a range from e's set; opens or closes it at once
// when e is running. ERR_BUSY: already bound (bind); ERR_NO_RESOURCES:
// kMaxIoPortRanges bound; ERR_NOT_FOUND: not bound (unbind).
Status io_ports_bind(Env* e, uint16_t first, uint16_t count);
Status io_ports_unbind(Env* e, uint16_t first, uint16_t count);

}  // namespace veneer
