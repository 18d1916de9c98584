/* 32-bit entry from a multiboot (QEMU -kernel) or multiboot2 (GRUB) loader:
   builds temporary page tables (identity map and top-2GiB map of the first
   1 GiB), enters long mode and calls kmain(magic, info) in the higher half. */

#define KERNEL_VMA 0xFFFFFFFF80000000

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

  /* PD: 512 x 2 MiB pages covering physical 0..1 GiB */
  mov $boot_pd, %ebx
  xor %ecx, %ecx
1:
  mov %ecx, %eax
  shl $21, %eax
  or $0x83, %eax           /* present | writable | 2 MiB page */
  mov %eax, (%ebx, %ecx, 8)
  movl $0, 4(%ebx, %ecx, 8)
  inc %ecx
  cmp $512, %ecx
  jne 1b

  movl $boot_pd + 3, boot_pdpt_low
  movl $boot_pd + 3, boot_pdpt_high + 510 * 8
  movl $boot_pdpt_low + 3, boot_pml4
  movl $boot_pdpt_high + 3, boot_pml4 + 511 * 8

  mov $boot_pml4, %eax
  mov %eax, %cr3
  mov %cr4, %eax
  or $(1 << 5), %eax       /* PAE */
  mov %eax, %cr4
  mov $0xC0000080, %ecx    /* EFER: long mode enable, no-execute enable */
  rdmsr
  or $((1 << 8) | (1 << 11)), %eax
  wrmsr
  mov %cr0, %eax
  or $((1 << 31) | (1 << 16) | 1), %eax  /* paging, write protect, protected mode */
  mov %eax, %cr0

  lgdt boot_gdt_ptr
  ljmp $0x08, $long_mode

  .code64
long_mode:
  mov $0x10, %ax
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
  .align 16
boot_gdt:
  .quad 0
  .quad 0x00AF9A000000FFFF   /* 64-bit code */
  .quad 0x00CF92000000FFFF   /* data */
boot_gdt_ptr:
  .short boot_gdt_ptr - boot_gdt - 1
  .long boot_gdt

  .align 4096
boot_pml4:      .fill 512, 8, 0
boot_pdpt_low:  .fill 512, 8, 0
boot_pdpt_high: .fill 512, 8, 0
boot_pd:        .fill 512, 8, 0
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
