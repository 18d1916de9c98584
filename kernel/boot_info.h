// What the boot loader told us, normalised from multiboot or multiboot2.
#pragma once

#include <stdint.h>

namespace veneer {

struct MemRange {
  uint64_t base, length;
};

struct BootModuleRange {
  uint64_t start, end;  // physical
  char name[40];
};

struct BootInfo {
  static constexpr int kMaxRanges = 32;
  static constexpr int kMaxModules = 16;
  MemRange ram[kMaxRanges];  // usable RAM only
  int nram;
  BootModuleRange modules[kMaxModules];
  int nmodules;
  char cmdline[256];
  const char* loader;
};

// Parses the loader's information (physical pointer `info`, reachable
// through the boot identity map). Panics on an unknown magic.
void parse_boot_info(uint32_t magic, uint64_t info, BootInfo* out);

}  // namespace veneer
