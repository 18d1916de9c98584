/* Fork's two returns. exos_fork_save(ctx) saves what the C ABI says a call
   preserves (rbx, rbp, r12-r15), the stack pointer after the call and the
   return address, and returns 0. The child env starts at
   exos_fork_child_entry(ctx, env id) on a stack just below the parent's,
   fixes its identity (exos_fork_child_init), and resumes from ctx as if
   exos_fork_save had returned 1. */

#include "exos/asm_exos.h"

  .text
  .global exos_fork_save
exos_fork_save:
  mov %rbx, CTX_RBX(%rdi)
  mov %rbp, CTX_RBP(%rdi)
  mov %r12, CTX_R12(%rdi)
  mov %r13, CTX_R13(%rdi)
  mov %r14, CTX_R14(%rdi)
  mov %r15, CTX_R15(%rdi)
  lea 8(%rsp), %rax
  mov %rax, CTX_RSP(%rdi)
  mov (%rsp), %rax
  mov %rax, CTX_RIP(%rdi)
  xor %eax, %eax
  ret

  .global exos_fork_child_entry
exos_fork_child_entry:
  mov %rdi, %rbx
  and $-16, %rsp
  xchg %rsi, %rdi                /* (env id, ctx) */
  call exos_fork_child_init
  mov %rbx, %rdi
  mov CTX_RBX(%rdi), %rbx
  mov CTX_RBP(%rdi), %rbp
  mov CTX_R12(%rdi), %r12
  mov CTX_R13(%rdi), %r13
  mov CTX_R14(%rdi), %r14
  mov CTX_R15(%rdi), %r15
  mov CTX_RSP(%rdi), %rsp
  mov $1, %eax
  jmp *CTX_RIP(%rdi)

/* The manager's entry: init starts it from its own image with this entry
   point instead of the image's. */
  .global exos_manager_entry
exos_manager_entry:
  xor %ebp, %ebp
  and $-16, %rsp
  call exos_manager_start
  ud2

  .section .note.GNU-stack, "", @progbits
