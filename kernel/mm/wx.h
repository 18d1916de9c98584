// W^X for the kernel's own address space, checked at boot.
#pragma once

namespace veneer {

// Reads the kernel's page tables (image, direct map, the read-only kernel
// tables window every env sees) and panics, naming both mappings, if a
// physical page is reachable through a writable mapping and an executable
// one, if an image section has other rights than its own (text read-only and
// executable, rodata read-only, data and bss writable, non-executable), or if
// the window is writable or executable. Prints one line when all is well.
void wx_check_kernel_tables(const char* when);

// Test hook (kernel option wx_selftest=violate): maps a kernel text page
// writable at a spare address, so the next check must panic.
void wx_make_violation_for_test();

}  // namespace veneer
