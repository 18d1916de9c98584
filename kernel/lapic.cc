#include "kernel/lapic.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/console.h"
#include "kernel/dev/acpi.h"
#include "kernel/dev/ports.h"
#include "kernel/memory.h"

namespace veneer {

using namespace arch;

namespace {

volatile uint32_t* lapic;
bool x2apic;  // firmware left the LAPIC in x2APIC mode: registers are MSRs
uint64_t timer_hz;
uint64_t tsc_per_sec;

constexpr uint32_t kRegEoi = 0xB0, kRegSvr = 0xF0, kRegLvtTimer = 0x320;
constexpr uint32_t kRegInitCount = 0x380, kRegCurCount = 0x390, kRegDivide = 0x3E0;
constexpr uint64_t kApicBaseX2 = 1 << 10, kApicBaseEnable = 1 << 11;

uint32_t rd(uint32_t reg) { return x2apic ? static_cast<uint32_t>(rdmsr(0x800 + reg / 16)) : lapic[reg / 4]; }
void wr(uint32_t reg, uint32_t v) {
  if (x2apic) wrmsr(0x800 + reg / 16, v);
  else lapic[reg / 4] = v;
}

void mask_legacy_pics() {
  // Remap to 0x20..0x2F (out of the exception range) and mask everything.
  outb(0x20, 0x11); outb(0xA0, 0x11);
  outb(0x21, 0x20); outb(0xA1, 0x28);
  outb(0x21, 0x04); outb(0xA1, 0x02);
  outb(0x21, 0x01); outb(0xA1, 0x01);
  outb(0x21, 0xFF); outb(0xA1, 0xFF);
}

// ---- Reference clocks ----------------------------------------------------------
// Each waits `ns` of its own time, busy, and says whether it could: a clock
// that does not advance (absent hardware) gives up after ~2^31 TSC cycles.
enum Clock { kCpuidTsc, kHpet, kPmTimer, kPit, kClockCount };
const char* const kClockNames[kClockCount] = {"CPUID 0x15 TSC frequency", "HPET", "ACPI PM timer", "PIT"};
constexpr uint64_t kGiveUpCycles = 1ull << 31;

uint64_t cpuid_tsc_hz;  // from leaf 0x15 (crystal ratio), 0 if not given
volatile uint64_t* hpet;
uint64_t hpet_period_fs;

bool has_clock(Clock c) {
  switch (c) {
    case kCpuidTsc: return cpuid_tsc_hz != 0;
    case kHpet: return hpet != nullptr;
    case kPmTimer: return acpi().pm_timer_port != 0;
    case kPit: return true;  // probed by waiting on it
    default: return false;
  }
}

bool wait_counter(uint64_t (*read)(), uint64_t mask, uint64_t ticks) {
  uint64_t start = read(), t0 = rdtsc(), last = start;
  for (;;) {
    uint64_t now = read();
    if (((now - start) & mask) >= ticks) return true;
    if (now != last) {
      last = now;
      t0 = rdtsc();
    } else if (rdtsc() - t0 > kGiveUpCycles) {
      return false;
    }
    pause();
  }
}

uint64_t read_hpet() { return hpet[0xF0 / 8]; }
uint64_t read_pm_timer() { return dev::inl(acpi().pm_timer_port); }

// PIT channel 2 in one-shot mode, its output read through port 0x61.
bool wait_pit(uint64_t ns) {
  constexpr uint64_t kPitHz = 1193182;
  uint64_t count = kPitHz * ns / 1000000000ull;
  outb(0x61, (inb(0x61) & ~0x02) | 0x01);  // gate on, speaker off
  outb(0x43, 0xB0);                         // channel 2, lo/hi, mode 0
  outb(0x42, count & 0xFF);
  outb(0x42, (count >> 8) & 0xFF);
  uint8_t g = inb(0x61);
  outb(0x61, g & ~1);  // restart the count with a gate edge
  outb(0x61, g | 1);
  // Without a PIT (machine pit=off) the output bit may read as already set:
  // a count that reads back unchanged means there is nothing there.
  outb(0x43, 0x80);  // latch channel 2
  uint16_t first = inb(0x42);
  first |= uint16_t(inb(0x42)) << 8;
  if (first == 0xFFFF || (inb(0x61) & 0x20)) return false;
  for (uint64_t t0 = rdtsc(); !(inb(0x61) & 0x20);) {
    if (rdtsc() - t0 > kGiveUpCycles) return false;
    pause();
  }
  return true;
}

bool wait_ns(Clock c, uint64_t ns) {
  switch (c) {
    case kCpuidTsc: {
      uint64_t t0 = rdtsc(), cycles = cpuid_tsc_hz * ns / 1000000000ull;
      while (rdtsc() - t0 < cycles) pause();
      return true;
    }
    case kHpet: return wait_counter(read_hpet, ~0ull, ns * 1000000ull / hpet_period_fs);
    case kPmTimer:
      return wait_counter(read_pm_timer, acpi().pm_timer_32bit ? 0xFFFFFFFFull : 0xFFFFFFull,
                          3579545ull * ns / 1000000000ull);
    case kPit: return wait_pit(ns);
    default: return false;
  }
}

struct Rates {
  uint64_t lapic_hz, tsc_hz;
};

// LAPIC ticks (divide by 1) and TSC cycles during 10 ms of clock c.
bool measure(Clock c, Rates* out) {
  constexpr uint64_t kNs = 10000000;
  wr(kRegDivide, 0xB);
  wr(kRegInitCount, 0xFFFFFFFF);
  uint64_t t0 = rdtsc();
  bool ok = wait_ns(c, kNs);
  uint32_t elapsed = 0xFFFFFFFF - rd(kRegCurCount);
  uint64_t t1 = rdtsc();
  wr(kRegInitCount, 0);
  if (!ok) return false;
  out->lapic_hz = uint64_t(elapsed) * (1000000000ull / kNs);
  out->tsc_hz = (t1 - t0) * (1000000000ull / kNs);
  // Nothing that runs this kernel has a timer below 1 MHz or a TSC below
  // 100 MHz: a result like that means the clock lied.
  return out->lapic_hz >= 1000000 && out->tsc_hz >= 100000000;
}

bool agree(const Rates& a, const Rates& b) {
  auto close = [](uint64_t x, uint64_t y) { return (x > y ? x - y : y - x) * 50 <= (x > y ? x : y); };  // 2%
  return close(a.lapic_hz, b.lapic_hz) && close(a.tsc_hz, b.tsc_hz);
}

// Calibrates against the best clock, checked against a second one: the first
// two that agree win. A clock that cannot be measured is skipped; a machine
// with one clock only is believed, with a warning.
void calibrate() {
  CpuidResult l0 = cpuid(0);
  if (l0.eax >= 0x15) {
    CpuidResult l15 = cpuid(0x15);
    uint64_t crystal = l15.ecx;
    if (!crystal && l0.eax >= 0x16 && l15.eax) crystal = uint64_t(cpuid(0x16).eax) * 1000000ull * l15.eax / l15.ebx;
    if (l15.eax && l15.ebx && crystal) cpuid_tsc_hz = crystal * l15.ebx / l15.eax;
  }
  if (uint64_t pa = acpi().hpet_pa) {
    hpet = phys_to_virt<volatile uint64_t>(pa);
    hpet_period_fs = hpet[0] >> 32;
    if (hpet_period_fs == 0 || hpet_period_fs > 100000000) hpet = nullptr;  // spec: at most 100 ns
    else hpet[0x10 / 8] = hpet[0x10 / 8] | 1;  // counter on
  }
  Rates got[kClockCount];
  bool measured[kClockCount] = {};
  for (int c = 0; c < kClockCount; c++) {
    if (!has_clock(Clock(c))) continue;
    if (!measure(Clock(c), &got[c])) {
      kprintf("lapic: %s does not count; skipped\n", kClockNames[c]);
      continue;
    }
    measured[c] = true;
    for (int p = 0; p < c; p++) {
      if (!measured[p] || !agree(got[p], got[c])) continue;
      timer_hz = got[p].lapic_hz;
      tsc_per_sec = got[p].tsc_hz;
      kprintf("lapic: timer %lu Hz, TSC %lu Hz (%s, checked against %s)\n", timer_hz, tsc_per_sec,
              kClockNames[p], kClockNames[c]);
      return;
    }
  }
  int n = 0, only = 0;
  for (int c = 0; c < kClockCount; c++)
    if (measured[c]) {
      n++;
      only = c;
      kprintf("lapic: %s says timer %lu Hz, TSC %lu Hz\n", kClockNames[c], got[c].lapic_hz, got[c].tsc_hz);
    }
  if (n == 1) {
    timer_hz = got[only].lapic_hz;
    tsc_per_sec = got[only].tsc_hz;
    kprintf("lapic: %s is the only clock: timer and TSC unchecked\n", kClockNames[only]);
    return;
  }
  panic(n ? "LAPIC timer calibration failed: the clocks (CPUID, HPET, ACPI PM timer, PIT) disagree"
          : "LAPIC timer calibration failed: no clock counts (CPUID, HPET, ACPI PM timer, PIT)");
}

}  // namespace

void lapic_init() {
  mask_legacy_pics();
  uint64_t base = rdmsr(MSR_APIC_BASE);
  x2apic = (base & (kApicBaseEnable | kApicBaseX2)) == (kApicBaseEnable | kApicBaseX2);
  if (!x2apic) {
    wrmsr(MSR_APIC_BASE, base | kApicBaseEnable);
    lapic = phys_to_virt<volatile uint32_t>(base & 0xFFFFF000);
  }
  wr(kRegSvr, 0x100 | kSpuriousVector);
  calibrate();
  wr(kRegDivide, 0xB);
  wr(kRegLvtTimer, kTimerVector);  // one-shot
  if (x2apic) kprintf("lapic: in x2APIC mode (left on by firmware)\n");
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
