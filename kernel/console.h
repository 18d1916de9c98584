// Kernel log on the serial port (COM1), and panic.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace veneer {

void console_init();
void console_write(const char* s, size_t n);
[[gnu::format(printf, 1, 2)]] void kprintf(const char* fmt, ...);
// Prints the message and ends the machine with a failure exit code (QEMU's
// isa-debug-exit), falling back to halting on hardware without that device.
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* fmt, ...);
// Ends the machine: isa-debug-exit under QEMU, then ACPI-less halt.
[[noreturn]] void machine_exit(uint64_t code);

}  // namespace veneer

#define KASSERT(cond) \
  ((cond) ? (void)0 : ::veneer::panic("assertion failed: %s at %s:%d", #cond, __FILE__, __LINE__))
