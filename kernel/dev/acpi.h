// ACPI, the little the kernel needs of it: the tables that name the timers
// (HPET, the PM timer) and how to power off (FADT PM1 control with the S5
// sleep type from the DSDT) or reset (FADT reset register).
#pragma once

#include <stdint.h>

#include "kernel/boot_info.h"

namespace veneer {

struct AcpiInfo {
  bool found;               // an RSDP with valid checksums
  uint16_t pm_timer_port;   // 0: none
  bool pm_timer_32bit;      // else 24 bits
  uint64_t hpet_pa;         // 0: none
  uint16_t pm1a_cnt, pm1b_cnt;
  uint16_t slp_typ_a, slp_typ_b;
  bool s5_found;
  uint32_t smi_cmd;
  uint8_t acpi_enable;
  // FADT reset register (I/O or memory), where the FADT says it is supported.
  uint8_t reset_space;      // 0: memory, 1: I/O; 0xFF: none
  uint64_t reset_addr;
  uint8_t reset_value;
};

// Finds the RSDP (the copy the loader passed, else the BIOS areas) and reads
// the FADT, DSDT and HPET tables through the direct map.
void acpi_init(const BootInfo& boot);
const AcpiInfo& acpi();

// S5 through the FADT's PM1 control registers. Returns only if the machine
// is still running afterwards (no ACPI, no _S5_, or the write did nothing).
void acpi_power_off();
// Resets the machine: the FADT reset register, then port 0xCF9, then the
// keyboard controller, then a triple fault.
[[noreturn]] void machine_reset();

}  // namespace veneer
