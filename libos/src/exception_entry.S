/* ExOS side of user-level exceptions. The kernel enters exos_exception_entry
   with rsp at a veneer::ExceptionFrame on the exception stack; rax, rcx, rdx
   of the interrupted code are in the frame, every other register is live. */
#define F_RIP 24
#define F_RFLAGS 32
#define F_RSP 40
#define F_RAX 48
#define F_RCX 56
#define F_RDX 64

  .text
  .global exos_exception_entry
exos_exception_entry:
  pushq %rsi
  pushq %rdi
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  lea 48(%rsp), %rdi          /* the frame; rsp stays 16-byte aligned */
  call exos_dispatch_exception
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rdi
  popq %rsi
  /* fall through */

/* Resume the interrupted code from the frame at rsp, without the kernel:
   park rflags and rip just below the interrupted stack's red zone, restore
   rax/rcx/rdx, switch stacks, popfq, and `ret $128` skips back over the red
   zone to the original rsp. */
  .global exos_exception_resume
exos_exception_resume:
  mov F_RSP(%rsp), %rax
  sub $144, %rax
  mov F_RFLAGS(%rsp), %rcx
  mov %rcx, (%rax)
  mov F_RIP(%rsp), %rcx
  mov %rcx, 8(%rax)
  mov %rax, F_RSP(%rsp)
  mov F_RCX(%rsp), %rcx
  mov F_RDX(%rsp), %rdx
  mov F_RAX(%rsp), %rax
  mov F_RSP(%rsp), %rsp
  popfq
  ret $128

  .section .note.GNU-stack, "", @progbits
