/* Veneer kernel layout: a small identity-mapped boot section at 1 MiB (the
   multiboot headers and the 32-bit entry) followed by the kernel proper,
   linked in the top 2 GiB and loaded right after it. The multiboot headers
   describe the image as one flat load (the "a.out kludge"), so QEMU's
   -kernel and GRUB load the same bytes to the same addresses.
   Sections start on page boundaries so memory_init can map them W^X: text
   read-only and executable, rodata read-only, data and bss non-executable. */
OUTPUT_FORMAT(elf64-x86-64)
/* Preprocessed (kernel/CMakeLists.txt): KERNEL_VMA and the other numbers
   come from the generated kernel/arch/asm_constants.h. */
#include "kernel/arch/asm_constants.h"
ENTRY(_start)

SECTIONS
{
  . = 0x100000;
  _phys_start = .;
  .boot : {
    KEEP(*(.multiboot))
    *(.boot.text)
    *(.boot.data)
  }
  . = ALIGN(4096);
  . += KERNEL_VMA;

  .text ALIGN(4096) : AT(ADDR(.text) - KERNEL_VMA) {
    _text_start = .;
    *(.text .text.*)
    _text_end = .;
  }
  .rodata ALIGN(4096) : AT(ADDR(.rodata) - KERNEL_VMA) {
    _rodata_start = .;
    *(.rodata .rodata.*)
    . = ALIGN(8);
    _init_array_start = .;
    KEEP(*(.init_array .init_array.* .ctors .ctors.*))
    _init_array_end = .;
    _smap_sites_start = .;
    KEEP(*(.smap_sites))
    _smap_sites_end = .;
    . = ALIGN(8);
    _xframe_writes_start = .;
    KEEP(*(.xframe_writes))
    _xframe_writes_end = .;
    _rodata_end = .;
  }
  .data ALIGN(4096) : AT(ADDR(.data) - KERNEL_VMA) {
    _data_start = .;
    *(.data .data.*)
  }
  . = ALIGN(4096);
  _load_end_phys = . - KERNEL_VMA;
  .bss ALIGN(4096) : AT(ADDR(.bss) - KERNEL_VMA) {
    *(.bss .bss.* COMMON)
  }
  . = ALIGN(4096);
  _bss_end_phys = . - KERNEL_VMA;
  _kernel_end = .;

  /DISCARD/ : { *(.eh_frame*) *(.comment) *(.note*) }
}
