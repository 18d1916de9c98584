// The screen console: kernel output drawn on the framebuffer the boot loader
// set up (multiboot2 framebuffer tag), with GRUB's built-in 8x16 ASCII font.
// The serial port stays the primary console; this one is for machines
// without a serial cable. Direct RGB framebuffers (16/24/32 bpp) and EGA
// text mode are drawn; anything else is left alone.
#pragma once

#include "kernel/boot_info.h"

namespace veneer {

// After memory_init (the framebuffer is reached through the direct map).
// Draws what was printed before, then everything after.
void framebuffer_init(const Framebuffer& fb);
// One character of console output (console.cc calls it for every one).
void framebuffer_putc(char c);

}  // namespace veneer
