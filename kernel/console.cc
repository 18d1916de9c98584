#include "kernel/console.h"

#include <stdarg.h>

#include "common/format.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/dev/acpi.h"
#include "kernel/dev/framebuffer.h"

namespace veneer {
namespace {

constexpr uint16_t kCom1 = 0x3F8;
constexpr uint16_t kDebugExitPort = 0xF4;

void serial_put(char c) {
  while (!(arch::inb(kCom1 + 5) & 0x20)) arch::pause();
  arch::outb(kCom1, static_cast<uint8_t>(c));
}

void sink(void*, char c) {
  if (c == '\n') serial_put('\r');
  serial_put(c);
  framebuffer_putc(c);
}

}  // namespace

void console_init() {
  arch::outb(kCom1 + 1, 0x00);  // no interrupts
  arch::outb(kCom1 + 3, 0x80);  // DLAB
  arch::outb(kCom1 + 0, 0x01);  // 115200 baud
  arch::outb(kCom1 + 1, 0x00);
  arch::outb(kCom1 + 3, 0x03);  // 8N1
  arch::outb(kCom1 + 2, 0xC7);  // FIFO
  arch::outb(kCom1 + 4, 0x03);
}

void console_write(const char* s, size_t n) {
  for (size_t i = 0; i < n; i++) sink(nullptr, s[i]);
}

void kprintf(const char* f, ...) {
  va_list ap;
  va_start(ap, f);
  fmt::vformat(sink, nullptr, f, ap);
  va_end(ap);
}

bool machine_exit_skips_qemu_port;

void machine_exit(uint64_t code) {
  arch::cli();
  if (!machine_exit_skips_qemu_port) arch::outl(kDebugExitPort, static_cast<uint32_t>(code));
  acpi_power_off();
  machine_reset();
}

void machine_halt(uint64_t code) {
  arch::cli();
  arch::outl(kDebugExitPort, static_cast<uint32_t>(code));
  for (;;) arch::hlt();
}

void panic(const char* f, ...) {
  arch::cli();
  kprintf("\nKERNEL PANIC: ");
  va_list ap;
  va_start(ap, f);
  fmt::vformat(sink, nullptr, f, ap);
  va_end(ap);
  kprintf("\n");
  machine_halt(0x7F);  // QEMU exits 255; hardware keeps the message on screen
}

}  // namespace veneer
