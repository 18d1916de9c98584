// Local APIC timer: the clock behind time slices.
#pragma once

#include <stdint.h>

namespace veneer {

constexpr uint8_t kTimerVector = 32;
constexpr uint8_t kSpuriousVector = 0xFF;

// Masks the legacy PICs, enables the LAPIC (xAPIC, or x2APIC where firmware
// left it on) and calibrates its timer and the TSC against the best clock
// the machine has (CPUID leaf 0x15, HPET, ACPI PM timer, PIT), checked
// against a second one. After acpi_init. The timer is one-shot: lapic_arm starts each period.
void lapic_init();
void lapic_arm(uint64_t ns);
void lapic_eoi();
// This CPU's APIC id (where an MSI-X message is addressed).
uint32_t lapic_id();
uint64_t lapic_timer_hz();
uint64_t tsc_hz();

}  // namespace veneer
