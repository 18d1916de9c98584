/* The Linux personality's register-level entries (personality.cc). */
#include "exos/asm_exos.h"

  .text
/* linux_enter(entry, rsp): start a Linux image as the kernel would: rsp at
   argc, rdx = 0 (no termination function), every other register zero. */
  .global linux_enter
linux_enter:
  mov %rsi, %rsp
  mov %rdi, %rax
  xor %ebx, %ebx
  xor %ecx, %ecx
  xor %edx, %edx
  xor %esi, %esi
  xor %edi, %edi
  xor %ebp, %ebp
  xor %r8d, %r8d
  xor %r9d, %r9d
  xor %r10d, %r10d
  xor %r11d, %r11d
  xor %r12d, %r12d
  xor %r13d, %r13d
  xor %r14d, %r14d
  xor %r15d, %r15d
  jmp *%rax

/* A fork the handler turned into a call: entered (on the personality's
   own stack, never the program's) with the program's registers live but
   for rax, rcx, rdx, rsp and rip, which linux_ctx holds. Saves the rest
   there, forks in C++, and returns into the program in both processes, as
   `syscall` returns: rax = the result, rcx = rip, r11 = rflags. */
  .global linux_fork_trampoline
linux_fork_trampoline:
  lea linux_ctx(%rip), %rax
  mov %rbx, LCTX_RBX(%rax)
  mov %rbp, LCTX_RBP(%rax)
  mov %rsi, LCTX_RSI(%rax)
  mov %rdi, LCTX_RDI(%rax)
  mov %r8, LCTX_R8(%rax)
  mov %r9, LCTX_R9(%rax)
  mov %r10, LCTX_R10(%rax)
  mov %r12, LCTX_R12(%rax)
  mov %r13, LCTX_R13(%rax)
  mov %r14, LCTX_R14(%rax)
  mov %r15, LCTX_R15(%rax)
  fxsave64 LCTX_FX(%rax)
  cld
  call linux_fork_body
  lea linux_ctx(%rip), %rcx
  fxrstor64 LCTX_FX(%rcx)
  mov LCTX_RBX(%rcx), %rbx
  mov LCTX_RBP(%rcx), %rbp
  mov LCTX_RSI(%rcx), %rsi
  mov LCTX_RDI(%rcx), %rdi
  mov LCTX_R8(%rcx), %r8
  mov LCTX_R9(%rcx), %r9
  mov LCTX_R10(%rcx), %r10
  mov LCTX_R12(%rcx), %r12
  mov LCTX_R13(%rcx), %r13
  mov LCTX_R14(%rcx), %r14
  mov LCTX_R15(%rcx), %r15
  mov LCTX_RDX(%rcx), %rdx
  mov LCTX_RFLAGS(%rcx), %r11
  mov LCTX_RSP(%rcx), %rsp
  mov LCTX_RIP(%rcx), %rcx
  jmp *%rcx

  .section .note.GNU-stack, "", @progbits
