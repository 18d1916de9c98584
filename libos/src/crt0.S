/* Program entry: the kernel starts an env with rdi = creator's argument,
   rsi = own env id, rsp = top of a stack the creator mapped. */
  .text
  .global _start
_start:
  xor %ebp, %ebp
  and $-16, %rsp
  call exos_start
  ud2

  .section .note.GNU-stack, "", @progbits
