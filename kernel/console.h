// Kernel log on the serial port (COM1), and panic.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace veneer {

constexpr uint16_t kCom1 = 0x3F8;           // the serial console's UART
constexpr uint16_t kDebugExitPort = 0xF4;   // QEMU's isa-debug-exit
constexpr uint64_t kPanicExitCode = 0x7F;   // QEMU exits 255

void console_init();
// Queues what fits of s[0..n) for the serial port (and the screen) and sends
// what the UART takes now; returns how many bytes it took. Never waits for
// the line: a full queue takes nothing.
size_t console_write(const char* s, size_t n);
// Sends what the UART takes now (system calls and timer ticks call it).
void console_drain();
[[gnu::format(printf, 1, 2)]] void kprintf(const char* fmt, ...);
// Prints the message and ends the machine with a failure exit code (QEMU's
// isa-debug-exit), falling back to halting on hardware without that device.
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* fmt, ...);
// Ends the machine: isa-debug-exit under QEMU, then ACPI power-off
// (kernel/dev/acpi.cc), then a reset where that is impossible.
[[noreturn]] void machine_exit(uint64_t code);
// Test hook (kernel option exit=acpi): machine_exit goes straight to ACPI.
extern bool machine_exit_skips_qemu_port;
// Stops the machine (a panic): isa-debug-exit under QEMU; on hardware it
// halts, so the message stays on the screen.
[[noreturn]] void machine_halt(uint64_t code);

}  // namespace veneer

#define KASSERT(cond) \
  ((cond) ? (void)0 : ::veneer::panic("assertion failed: %s at %s:%d", #cond, __FILE__, __LINE__))
