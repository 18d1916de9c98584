/* 32-bit entry from a multiboot (QEMU -kernel) or multiboot2 (GRUB) loader:
   checks for long mode, builds temporary page tables (identity map of the
   first 4 GiB, top-2GiB map of the first 1 GiB), enters long mode and calls
   kmain(magic, info) in the higher half. memory_init replaces these tables. */

#include "kernel/arch/asm_constants.h"

#define MB1_MAGIC 0x1BADB002
#define MB1_FLAGS ((1 << 0) | (1 << 1) | (1 << 16))
#define MB2_MAGIC 0xE85250D6

  .section .multiboot, "a"
  .align 4
mb1_header:
  .long MB1_MAGIC
  .long MB1_FLAGS
  .long -(MB1_MAGIC + MB1_FLAGS)
  .long mb1_header       /* header_addr */
  .long _phys_start      /* load_addr */
  .long _load_end_phys   /* load_end_addr */
  .long _bss_end_phys    /* bss_end_addr */
  .long _start           /* entry_addr */

  .align 8
mb2_header:
  .long MB2_MAGIC
  .long 0                /* i386 protected mode */
  .long mb2_header_end - mb2_header
  .long -(MB2_MAGIC + 0 + (mb2_header_end - mb2_header))
  /* address tag: same flat load as the multiboot1 header */
  .short 2, 0
  .long 24
  .long mb2_header
  .long _phys_start
  .long _load_end_phys
  .long _bss_end_phys
  /* entry address tag */
  .short 3, 0
  .long 12
  .long _start
  .long 0                /* pad to 8 */
  /* framebuffer tag, optional: a linear framebuffer for the screen console
     (kernel/dev/framebuffer.cc); text mode is fine too */
  .short 5, 1
  .long 20
  .long 1024, 768, 32
  .long 0                /* pad to 8 */
  /* end tag */
  .short 0, 0
  .long 8
mb2_header_end:

  .section .boot.text, "ax"
  .code32
  .global _start
_start:
  cli
  cld
  mov %eax, %edi           /* loader magic -> kmain arg 0 */
  mov %ebx, %esi           /* info pointer -> kmain arg 1 */
  mov $boot_stack_top, %esp

  /* A CPU without long mode cannot run this kernel: say so on the serial
     port and the text screen, then stop (never a silent reset). CPUID exists
     if EFLAGS.ID can be toggled. */
  pushfl
  pop %eax
  mov %eax, %ecx
  xor $(1 << 21), %eax
  push %eax
  popfl
  pushfl
  pop %eax
  cmp %eax, %ecx
  je no_long_mode
  mov $0x80000000, %eax
  cpuid
  cmp $0x80000001, %eax
  jb no_long_mode
  mov $0x80000001, %eax
  cpuid
  test $(1 << 29), %edx    /* LM */
  jz no_long_mode
  mov %edx, %ebp           /* bit 20: NX, checked again (with a message) in kmain */

  /* PDs: 4 x 512 x 2 MiB pages identity-mapping physical 0..4 GiB, so boot
     information and modules are reachable wherever the loader put them (a
     32-bit loader puts them below 4 GiB). The first GiB is also mapped at
     the kernel's link address. */
  mov $boot_pd, %ebx
  xor %ecx, %ecx
1:
  mov %ecx, %eax
  shl $21, %eax
  or $0x83, %eax           /* present | writable | 2 MiB page */
  mov %eax, (%ebx, %ecx, 8)
  mov %ecx, %eax
  shr $11, %eax            /* bits 32.. of (ecx << 21) */
  mov %eax, 4(%ebx, %ecx, 8)
  inc %ecx
  cmp $2048, %ecx
  jne 1b

  movl $boot_pd + 3, boot_pdpt_low
  movl $boot_pd + 0x1000 + 3, boot_pdpt_low + 8
  movl $boot_pd + 0x2000 + 3, boot_pdpt_low + 16
  movl $boot_pd + 0x3000 + 3, boot_pdpt_low + 24
  movl $boot_pd + 3, boot_pdpt_high + 510 * 8
  movl $boot_pdpt_low + 3, boot_pml4
  movl $boot_pdpt_high + 3, boot_pml4 + 511 * 8

  mov $boot_pml4, %eax
  mov %eax, %cr3
  mov %cr4, %eax
  or $(1 << 5), %eax       /* PAE */
  mov %eax, %cr4
  mov $MSR_EFER, %ecx      /* long mode enable; no-execute enable where the CPU has NX */
  rdmsr
  or $EFER_LME, %eax
  test $(1 << 20), %ebp
  jz 2f
  or $EFER_NXE, %eax
2:
  wrmsr
  mov %cr0, %eax
  or $((1 << 31) | (1 << 16) | 1), %eax  /* paging, write protect, protected mode */
  mov %eax, %cr0

  lgdt boot_gdt_ptr
  ljmp $KERNEL_CS, $long_mode  /* boot_gdt below has the same layout as the kernel's */

no_long_mode:
  /* COM1 at 115200 8N1, as console.cc sets it up. */
  mov $COM1 + 1, %dx
  xor %al, %al
  out %al, %dx             /* no interrupts */
  mov $COM1 + 3, %dx
  mov $0x80, %al
  out %al, %dx             /* DLAB */
  mov $COM1, %dx
  mov $1, %al
  out %al, %dx             /* divisor 1: 115200 baud */
  mov $COM1 + 1, %dx
  xor %al, %al
  out %al, %dx
  mov $COM1 + 3, %dx
  mov $3, %al
  out %al, %dx             /* 8N1 */
  mov $no_long_mode_msg, %esi
  mov $0xB8000, %edi       /* VGA text screen, white on red */
3:
  movb (%esi), %bl
  test %bl, %bl
  jz 5f
  mov $COM1 + 5, %dx
4:
  in %dx, %al
  test $0x20, %al
  jz 4b
  mov $COM1, %dx
  mov %bl, %al
  out %al, %dx
  cmp $0x0A, %bl
  je 6f
  mov %bl, (%edi)
  movb $0x4F, 1(%edi)
  add $2, %edi
6:
  inc %esi
  jmp 3b
5:
  mov $DEBUG_EXIT_PORT, %dx  /* QEMU's isa-debug-exit: exit as a panic does */
  mov $PANIC_EXIT_CODE, %eax
  out %eax, %dx
7:
  hlt
  jmp 7b

  .code64
long_mode:
  mov $KERNEL_DS, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  xor %eax, %eax
  mov %ax, %fs
  mov %ax, %gs
  movabs $kernel_stack_top, %rsp
  xor %ebp, %ebp
  movabs $kmain, %rax
  call *%rax
2:
  hlt
  jmp 2b

  .section .boot.data, "aw"
no_long_mode_msg:
  .asciz "\r\nVeneer: this CPU has no 64-bit long mode (x86-64); Veneer needs an x86-64 CPU. Halted.\r\n"
  .align 16
boot_gdt:
  .quad 0
  .quad GDT_KERNEL_CODE64
  .quad GDT_KERNEL_DATA
boot_gdt_ptr:
  .short boot_gdt_ptr - boot_gdt - 1
  .long boot_gdt

  .align 4096
boot_pml4:      .fill 512, 8, 0
boot_pdpt_low:  .fill 512, 8, 0
boot_pdpt_high: .fill 512, 8, 0
boot_pd:        .fill 4 * 512, 8, 0
boot_stack:     .fill 1024, 1, 0
boot_stack_top:

  /* The kernel stack: every trap from user mode starts at its top (TSS rsp0);
     the kernel is not preemptible, so one stack serves the single CPU. */
  .section .bss
  .align 4096
  .global kernel_stack_top
kernel_stack:
  .skip 16384
kernel_stack_top:

  .section .note.GNU-stack, "", @progbits
