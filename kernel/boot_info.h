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

// A linear framebuffer the loader set up (multiboot2 framebuffer tag).
struct Framebuffer {
  uint64_t addr;  // physical; 0: none
  uint32_t pitch, width, height;
  uint8_t bpp;
  uint8_t type;  // 1: direct RGB (the only kind drawn on)
  uint8_t red_shift, green_shift, blue_shift;
  uint64_t end() const { return addr + uint64_t(pitch) * height; }
};

struct BootInfo {
  static constexpr int kMaxRanges = 128;  // UEFI maps are long; adjacent ranges merge
  static constexpr int kMaxModules = 16;
  MemRange ram[kMaxRanges];  // usable RAM only
  int nram;
  int dropped_ram;  // usable ranges beyond kMaxRanges, left unused
  BootModuleRange modules[kMaxModules];
  int nmodules;
  char cmdline[256];
  const char* loader;
  Framebuffer framebuffer;
  uint8_t rsdp[36];  // a copy of the ACPI RSDP the loader passed (multiboot2)
  bool has_rsdp;
};

// Parses the loader's information (physical pointer `info`, reachable
// through the boot identity map). Panics on an unknown magic.
void parse_boot_info(uint32_t magic, uint64_t info, BootInfo* out);

// Whether the kernel command line holds `word` as a whole word (options such
// as "poweroff=acpi" are matched with their value).
bool boot_option(const BootInfo& boot, const char* word);

}  // namespace veneer
