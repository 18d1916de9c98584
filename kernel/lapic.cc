#include "kernel/lapic.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/console.h"
#include "kernel/dev/acpi.h"
#include "kernel/dev/ports.h"
#include "kernel/ioports.h"
#include "kernel/irq.h"
#include "kernel/memory.h"

namespace veneer {

using namespace arch;

namespace {

volatile uint32_t* lapic;
bool x2apic;  // firmware left the LAPIC in x2APIC mode: registers are MSRs
uint64_t timer_hz;
uint64_t tsc_per_sec;

constexpr uint32_t kRegEoi = 0xB0, kRegSvr = 0xF0, kRegLvtTimer = 0x320, kRegLvtLint0 = 0x350;
constexpr uint32_t kLvtExtInt = 0x700;  // delivery mode ExtINT, unmasked
constexpr uint32_t kRegInitCount = 0x380, kRegCurCount = 0x390, kRegDivide = 0x3E0;
constexpr uint64_t kApicBaseX2 = 1 << 10, kApicBaseEnable = 1 << 11;

uint32_t rd(uint32_t reg) { return x2apic ? static_cast<uint32_t>(rdmsr(0x800 + reg / 16)) : lapic[reg / 4]; }
void wr(uint32_t reg, uint32_t v) {
  if (x2apic) wrmsr(0x800 + reg / 16, v);
  else lapic[reg / 4] = v;
}


// ---- Reference clocks ----------------------------------------------------------
// Each clock is read between two TSC reads, so every reading comes with the
// TSC interval it happened in; the TSC is then measured against the clock
// over ~10 ms, and the LAPIC timer against the TSC. A vCPU (or an SMI) that
// stalls at the wrong moment widens an interval instead of skewing the
// result unseen: such a measurement is taken again.
enum Clock { kCpuidTsc, kHpet, kPmTimer, kPit, kClockCount };
const char* const kClockNames[kClockCount] = {"CPUID 0x15 TSC frequency", "HPET", "ACPI PM timer", "PIT"};
constexpr uint64_t kWindowNs = 10000000;          // 10 ms
constexpr uint64_t kGiveUpCycles = 1ull << 31;    // a clock that does not move for this long is absent

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

struct Reading {
  uint64_t value;
  uint64_t tsc;  // middle of the interval the value was read in
  uint64_t err;  // half that interval
};

// The tightest of a few readings.
template <typename F>
Reading read_between_tsc(F&& read) {
  Reading best{0, 0, ~0ull};
  for (int i = 0; i < 4; i++) {
    uint64_t a = rdtsc();
    uint64_t v = read();
    uint64_t b = rdtsc();
    if ((b - a) / 2 < best.err) best = Reading{v, a + (b - a) / 2, (b - a) / 2};
  }
  return best;
}

uint64_t read_hpet() { return hpet[0xF0 / 8]; }
uint64_t read_pm_timer() { return dev::inl(acpi().pm_timer_port); }
uint64_t read_lapic_count() { return rd(kRegCurCount); }
constexpr uint64_t kPitHz = 1193182;
uint16_t pit_count() {
  outb(0x43, 0x80);  // latch channel 2
  uint16_t count = inb(0x42);
  return count | uint16_t(inb(0x42) << 8);
}
// Ticks since the count was loaded (it counts down), modulo 65536.
uint64_t read_pit() { return uint16_t(0 - pit_count()); }

// One measurement: TSC cycles and LAPIC ticks (divide by 1) per second of
// clock c, each with its relative error in parts per million.
struct Rates {
  uint64_t lapic_hz, tsc_hz, err_ppm;
};

// What one try at a measurement found: a result, no clock there, or a
// clock thrown off by a stall (worth another try).
enum Outcome { kMeasured, kAbsent, kDisturbed };

// The start and end of the window on the TSC, with their uncertainty, and
// the window's length in the clock's own nanoseconds.
Outcome window(Clock c, Reading* start, Reading* end, uint64_t* ns) {
  *ns = kWindowNs;
  if (c == kCpuidTsc) {
    uint64_t t0 = rdtsc(), cycles = cpuid_tsc_hz * kWindowNs / 1000000000ull;
    *start = Reading{0, t0, 0};
    while (rdtsc() - t0 < cycles) pause();
    *end = Reading{0, t0 + cycles, 0};
    *ns = cycles * 1000000000ull / cpuid_tsc_hz;
    return kMeasured;
  }
  if (c == kPit) {
    // Channel 2 as a free-running 16-bit counter (mode 2, reload 65536),
    // read through the latch like the other clocks: both ends of the window
    // are readings bracketed by the TSC. (Waiting for a one-shot's output
    // instead read windows 1.3-3x long under an overloaded emulator.)
    outb(0x61, (inb(0x61) & ~0x02) | 0x01);  // gate on, speaker off
    outb(0x43, 0xB4);                         // channel 2, lo/hi, mode 2
    outb(0x42, 0);
    outb(0x42, 0);
    // Without a PIT (machine pit=off) the latch reads all ones and never
    // moves; a real one has left 0xFFFF a tick (838 ns) after loading.
    uint64_t t0 = rdtsc();
    while (rdtsc() - t0 < 100000) pause();
    if (pit_count() == 0xFFFF && pit_count() == 0xFFFF) return kAbsent;
  }
  uint64_t (*read)() = c == kHpet ? read_hpet : c == kPit ? read_pit : read_pm_timer;
  uint64_t mask = c == kHpet ? ~0ull : c == kPit ? 0xFFFFull : acpi().pm_timer_32bit ? 0xFFFFFFFFull : 0xFFFFFFull;
  uint64_t hz = c == kHpet ? 1000000000000000ull / hpet_period_fs : c == kPit ? kPitHz : 3579545;
  uint64_t ticks = hz * kWindowNs / 1000000000ull;
  *start = read_between_tsc(read);
  Reading prev = *start;
  uint64_t prev_elapsed = 0;
  for (uint64_t last = start->value, moved = rdtsc();;) {
    Reading r = read_between_tsc(read);
    uint64_t elapsed = (r.value - start->value) & mask;
    // A stall between two readings long enough for the counter to wrap
    // (the PIT's wraps every 55 ms) would hide whole turns: measure again.
    if (prev_elapsed >= 256 &&
        static_cast<unsigned __int128>(r.tsc - prev.tsc) * prev_elapsed >
            static_cast<unsigned __int128>(prev.tsc - start->tsc) * (mask / 2))
      return kDisturbed;
    prev = r;
    prev_elapsed = elapsed;
    if (elapsed >= ticks) {
      *end = r;
      *ns = c == kHpet ? elapsed * hpet_period_fs / 1000000 : elapsed * 1000000000ull / hz;
      return kMeasured;
    }
    if (r.value != last) {
      last = r.value;
      moved = r.tsc;
    } else if (r.tsc - moved > kGiveUpCycles) {
      return kAbsent;
    }
  }
}

Outcome measure_once(Clock c, Rates* out) {
  wr(kRegDivide, 0xB);
  wr(kRegInitCount, 0xFFFFFFFF);
  Reading l0 = read_between_tsc(read_lapic_count);
  Reading start, end;
  uint64_t ns;
  Outcome got = window(c, &start, &end, &ns);
  Reading l1 = read_between_tsc(read_lapic_count);
  wr(kRegInitCount, 0);
  if (got != kMeasured) return got;
  if (end.tsc <= start.tsc || l1.tsc <= l0.tsc) return kDisturbed;
  uint64_t cycles = end.tsc - start.tsc, lapic_cycles = l1.tsc - l0.tsc;
  out->tsc_hz = static_cast<uint64_t>(static_cast<unsigned __int128>(cycles) * 1000000000ull / ns);
  out->lapic_hz = static_cast<uint64_t>(static_cast<unsigned __int128>(l0.value - l1.value) * out->tsc_hz / lapic_cycles);
  out->err_ppm = (start.err + end.err) * 1000000 / cycles + (l0.err + l1.err) * 1000000 / lapic_cycles;
  // Nothing that runs this kernel has a timer below 1 MHz or a TSC below
  // 100 MHz: a result like that means the clock lied.
  return out->lapic_hz >= 1000000 && out->tsc_hz >= 100000000 ? kMeasured : kAbsent;
}

// The most precise of up to eight measurements (stops at 0.1%).
bool measure(Clock c, Rates* out) {
  bool any = false;
  for (int i = 0; i < 8; i++) {
    Rates r;
    if (Outcome o = measure_once(c, &r); o != kMeasured) {
      if (o == kAbsent && i == 0) return false;  // absent, not unlucky
      continue;
    }
    if (!any || r.err_ppm < out->err_ppm) *out = r;
    any = true;
    if (out->err_ppm < 1000) break;
  }
  return any;
}

bool agree(const Rates& a, const Rates& b) {
  uint64_t tolerance_ppm = 20000 + a.err_ppm + b.err_ppm;  // 2% plus what each measurement may be off
  auto close = [&](uint64_t x, uint64_t y) {
    return (x > y ? x - y : y - x) * 1000000 <= tolerance_ppm * (x > y ? x : y);
  };
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
  // A measurement can be thrown off by the machine itself (an emulator whose
  // thread is descheduled mid-window reads a PIT window 2-3x long), so
  // clocks that disagree are measured again, a few rounds, before the boot
  // gives up.
  constexpr int kRounds = 4;
  Rates got[kClockCount];
  bool measured[kClockCount] = {};
  for (int round = 0; round < kRounds; round++) {
    for (int c = 0; c < kClockCount; c++) {
      if (!has_clock(Clock(c))) continue;
      if (round > 0 && !measured[c]) continue;  // absent clocks stay absent
      measured[c] = false;
      if (!measure(Clock(c), &got[c])) {
        if (round == 0) kprintf("lapic: %s does not count; skipped\n", kClockNames[c]);
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
    int n = 0;
    for (int c = 0; c < kClockCount; c++) n += measured[c];
    if (n < 2) break;  // nothing to check against: no point measuring again
    if (round + 1 < kRounds) {
      for (int c = 0; c < kClockCount; c++)
        if (measured[c])
          kprintf("lapic: %s says timer %lu Hz, TSC %lu Hz\n", kClockNames[c], got[c].lapic_hz, got[c].tsc_hz);
      kprintf("lapic: the clocks disagree; measuring again (round %d of %d)\n", round + 2, kRounds);
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
  reserve_kernel_ports(0x20, 2);  // the PICs
  reserve_kernel_ports(0xA0, 2);
  irq_init();  // remapped, masked until an env binds a line
  uint64_t base = rdmsr(MSR_APIC_BASE);
  x2apic = (base & (kApicBaseEnable | kApicBaseX2)) == (kApicBaseEnable | kApicBaseX2);
  if (!x2apic) {
    wrmsr(MSR_APIC_BASE, base | kApicBaseEnable);
    lapic = phys_to_virt<volatile uint32_t>(base & 0xFFFFF000);
  }
  wr(kRegSvr, 0x100 | kSpuriousVector);
  wr(kRegLvtLint0, kLvtExtInt);  // the PICs' interrupts reach the CPU (virtual wire)
  reserve_kernel_ports(0x40, 4);  // the PIT, a reference clock
  reserve_kernel_ports(0x61, 1);  // its channel 2 gate
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

uint32_t lapic_id() { return x2apic ? rd(0x20) : rd(0x20) >> 24; }

void lapic_eoi() { wr(kRegEoi, 0); }
uint64_t lapic_timer_hz() { return timer_hz; }

}  // namespace veneer
