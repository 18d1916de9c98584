/* Protected entry point: rax = sender id, rdi = kind, message in
   rsi, rdx, r10, r8, r9; rsp = the PCT stack. Spill the message and call
   exos_pct_dispatch(sender, kind, words). */
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
