#include "veneer/asm_abi.h"

/* The smallest possible user exception handler: resume at once. This is the
   kernel primitive the exception_roundtrip row measures (ExOS's C++ dispatch
   adds to it; see exception_roundtrip_exos). */
  .text
  .global bench_resume_handler
bench_resume_handler:
  jmp exos_exception_resume

  .section .note.GNU-stack, "", @progbits

/* Protected-entry servers for the PCT benchmarks. The message registers
   (rsi, rdx, r10, r8, r9) pass through untouched, so echoing is free. */
  .text
  .global bench_pct_echo_entry
bench_pct_echo_entry:
1:
  mov $SYS_pct_sync, %rax
  mov $PCT_REPLY, %rdi   /* back to the caller; returns its next call */
  syscall
  jmp 1b

  .global bench_pct_wait_entry
bench_pct_wait_entry:
  mov $SYS_pct_wait, %rax  /* the next message enters here again */
  syscall
  ud2

/* Epilogue upcall handler for the slice-end benchmark: timestamp, count,
   yield, resume. */
  .global bench_epilogue_entry
bench_epilogue_entry:
  rdtsc
  shl $32, %rdx
  or %rdx, %rax
  mov %rax, bench_epilogue_tsc(%rip)
  incq bench_epilogue_count(%rip)
  pushq %rsi
  pushq %rdi
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  mov $SYS_yield, %rax
  syscall
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rdi
  popq %rsi
  jmp exos_exception_resume
