// Local APIC timer: the clock behind time slices.
#pragma once

#include <stdint.h>

namespace veneer {

constexpr uint8_t kTimerVector = 32;
constexpr uint8_t kSpuriousVector = 0xFF;

// Masks the legacy PICs, enables the LAPIC, calibrates its timer against the
// PIT and starts it periodic with the given period.
void lapic_init(uint64_t period_ns);
void lapic_eoi();
uint64_t lapic_timer_hz();

}  // namespace veneer
