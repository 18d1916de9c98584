// The kernel's console: a log ring drained to the serial port (COM1) no
// faster than the UART sends, mirrored on the screen when there is one.
#include "kernel/console.h"

#include <stdarg.h>

#include "common/format.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/core/log_ring.h"
#include "kernel/dev/acpi.h"
#include "kernel/dev/framebuffer.h"
#include "kernel/ioports.h"

namespace veneer {
namespace {

constexpr size_t kUartFifo = 16;  // 16550: bytes it takes once it reports its FIFO empty

core::LogRing<16384> ring;
uint64_t dropped;  // kernel message bytes that found the ring full

bool uart_ready() { return arch::inb(kCom1 + 5) & 0x20; }
void uart_send(char c) { arch::outb(kCom1, static_cast<uint8_t>(c)); }

size_t put(const char* s, size_t n) { return ring.put(s, n, [](char c) { framebuffer_putc(c); }); }

size_t format_to(char* buf, size_t size, const char* f, ...) {
  va_list ap;
  va_start(ap, f);
  size_t n = fmt::vsnformat(buf, size, f, ap);
  va_end(ap);
  return n;
}

// Kernel messages: into the ring, or counted when it is full.
void sink(void*, char c) {
  if (dropped && ring.space() > 48) {
    char note[48];
    size_t len = format_to(note, sizeof note, "[log: %lu bytes dropped]\n", dropped);
    dropped = 0;
    put(note, len);
  }
  if (!put(&c, 1)) dropped++;
}

// Everything still in the ring, waiting for the UART: only for the very end
// (a panic, power-off), when nothing else runs.
void flush_blocking() {
  while (!ring.empty()) ring.drain([] {
      while (!uart_ready()) arch::pause();
      return true;
    }, uart_send, kUartFifo);
}

}  // namespace

void console_init() {
  reserve_kernel_ports(kCom1, 8);
  reserve_kernel_ports(kDebugExitPort, 4);  // QEMU's isa-debug-exit decodes four
  arch::outb(kCom1 + 1, 0x00);  // no interrupts
  arch::outb(kCom1 + 3, 0x80);  // DLAB
  arch::outb(kCom1 + 0, 0x01);  // 115200 baud
  arch::outb(kCom1 + 1, 0x00);
  arch::outb(kCom1 + 3, 0x03);  // 8N1
  arch::outb(kCom1 + 2, 0xC7);  // FIFO
  arch::outb(kCom1 + 4, 0x03);
}

size_t console_write(const char* s, size_t n) {
  size_t taken = put(s, n);
  console_drain();
  return taken;
}

void console_drain() { ring.drain(uart_ready, uart_send, kUartFifo); }

void kprintf(const char* f, ...) {
  va_list ap;
  va_start(ap, f);
  fmt::vformat(sink, nullptr, f, ap);
  va_end(ap);
  console_drain();
}

bool machine_exit_skips_qemu_port;

void machine_exit(uint64_t code) {
  arch::cli();
  flush_blocking();
  if (!machine_exit_skips_qemu_port) arch::outl(kDebugExitPort, static_cast<uint32_t>(code));
  acpi_power_off();
  machine_reset();
}

void machine_halt(uint64_t code) {
  arch::cli();
  flush_blocking();
  arch::outl(kDebugExitPort, static_cast<uint32_t>(code));
  for (;;) arch::hlt();
}

void panic(const char* f, ...) {
  arch::cli();
  flush_blocking();  // what came before, then the message
  kprintf("\nKERNEL PANIC: ");
  va_list ap;
  va_start(ap, f);
  fmt::vformat(sink, nullptr, f, ap);
  va_end(ap);
  kprintf("\n");
  machine_halt(kPanicExitCode);  // hardware keeps the message on screen
}

}  // namespace veneer
