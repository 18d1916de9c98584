#include "kernel/lapic.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/console.h"
#include "kernel/memory.h"

namespace veneer {

using namespace arch;

namespace {

volatile uint32_t* lapic;
uint64_t timer_hz;
uint64_t tsc_per_sec;

constexpr uint32_t kRegEoi = 0xB0, kRegSvr = 0xF0, kRegLvtTimer = 0x320;
constexpr uint32_t kRegInitCount = 0x380, kRegCurCount = 0x390, kRegDivide = 0x3E0;

uint32_t rd(uint32_t reg) { return lapic[reg / 4]; }
void wr(uint32_t reg, uint32_t v) { lapic[reg / 4] = v; }

void mask_legacy_pics() {
  // Remap to 0x20..0x2F (out of the exception range) and mask everything.
  outb(0x20, 0x11); outb(0xA0, 0x11);
  outb(0x21, 0x20); outb(0xA1, 0x28);
  outb(0x21, 0x04); outb(0xA1, 0x02);
  outb(0x21, 0x01); outb(0xA1, 0x01);
  outb(0x21, 0xFF); outb(0xA1, 0xFF);
}

// Counts LAPIC ticks (divide by 1) during 10 ms of PIT channel 2.
uint64_t calibrate() {
  constexpr uint32_t kPitHz = 1193182, kPitCount = kPitHz / 100;
  outb(0x61, (inb(0x61) & ~0x02) | 0x01);  // gate on, speaker off
  outb(0x43, 0xB0);                         // channel 2, lo/hi, mode 0
  outb(0x42, kPitCount & 0xFF);
  outb(0x42, kPitCount >> 8);
  uint8_t g = inb(0x61);
  outb(0x61, g & ~1);  // restart the count with a gate edge
  outb(0x61, g | 1);
  wr(kRegDivide, 0xB);
  wr(kRegInitCount, 0xFFFFFFFF);
  uint64_t t0 = rdtsc();
  while (!(inb(0x61) & 0x20)) pause();
  uint32_t elapsed = 0xFFFFFFFF - rd(kRegCurCount);
  tsc_per_sec = (rdtsc() - t0) * 100;
  wr(kRegInitCount, 0);
  return uint64_t(elapsed) * 100;
}

}  // namespace

void lapic_init() {
  mask_legacy_pics();
  uint64_t base = rdmsr(MSR_APIC_BASE);
  wrmsr(MSR_APIC_BASE, base | (1 << 11));  // global enable
  lapic = phys_to_virt<volatile uint32_t>(base & 0xFFFFF000);
  wr(kRegSvr, 0x100 | kSpuriousVector);
  timer_hz = calibrate();
  if (timer_hz == 0) panic("LAPIC timer calibration failed");
  wr(kRegDivide, 0xB);
  wr(kRegLvtTimer, kTimerVector);  // one-shot
  kprintf("lapic: timer %lu Hz, TSC %lu Hz\n", timer_hz, tsc_per_sec);
}

void lapic_arm(uint64_t ns) {
  uint64_t count = timer_hz * ns / 1000000000ull;
  if (count == 0) count = 1;
  if (count > 0xFFFFFFFFu) count = 0xFFFFFFFFu;
  wr(kRegInitCount, static_cast<uint32_t>(count));
}

uint64_t tsc_hz() { return tsc_per_sec; }

void lapic_eoi() { wr(kRegEoi, 0); }
uint64_t lapic_timer_hz() { return timer_hz; }

}  // namespace veneer
