/* Protected entry point: rax = sender id, rdi = kind, message in
   rsi, rdx, r10, r8, r9; rsp = the PCT stack. Spill the message and call
   exos_pct_dispatch(sender, kind, words). */
#include "veneer/asm_abi.h"

  .text
  .global exos_pct_entry
exos_pct_entry:
  and $-16, %rsp
  sub $48, %rsp
  mov %rsi, 0(%rsp)
  mov %rdx, 8(%rsp)
  mov %r10, 16(%rsp)
  mov %r8, 24(%rsp)
  mov %r9, 32(%rsp)
  mov %rdi, %rsi
  mov %rax, %rdi
  mov %rsp, %rdx
  call exos_pct_dispatch
  ud2

  .section .note.GNU-stack, "", @progbits

/* int64_t exos_pct_sync(uint64_t env_slot, const uint64_t in[5], uint64_t out[7])
   A synchronous transfer hands our rbx, rbp, r12-r15 to the receiver and we
   come back with whatever the env that transfers back had in them, so save
   them here as the C ABI requires. Returns rax: the sender's id, or a
   negative status. out = {rax, rdi (kind), rsi, rdx, r10, r8, r9}. */
  .text
  .global exos_pct_sync
exos_pct_sync:
  pushq %rbx
  pushq %rbp
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  pushq %rdx
  mov %rsi, %rax
  mov 0(%rax), %rsi
  mov 8(%rax), %rdx
  mov 16(%rax), %r10
  mov 24(%rax), %r8
  mov 32(%rax), %r9
  mov $SYS_pct_sync, %rax
  syscall
  popq %rcx
  mov %rax, 0(%rcx)
  mov %rdi, 8(%rcx)
  mov %rsi, 16(%rcx)
  mov %rdx, 24(%rcx)
  mov %r10, 32(%rcx)
  mov %r8, 40(%rcx)
  mov %r9, 48(%rcx)
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbp
  popq %rbx
  ret
