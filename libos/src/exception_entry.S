/* ExOS side of user-level exceptions. The kernel enters exos_exception_entry
   with rsp at a veneer::ExceptionFrame on the exception stack; rax, rcx, rdx
   of the interrupted code are in the frame, every other register is live. */
#include "veneer/asm_abi.h"

#define FXSAVE_AREA 512
#define EXOS_HANDLER_VECTORS 64  /* exception.cc: exos_exception_handlers */

  .text
  .global exos_exception_entry
exos_exception_entry:
  pushq %rsi
  pushq %rdi
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  /* Handlers are C++ (printf and memcpy use SSE registers): the interrupted
     code's SSE and x87 state is kept here around them. rsp is 16-byte
     aligned: the frame is, and six pushes keep it so. */
  sub $FXSAVE_AREA, %rsp
  fxsave64 (%rsp)
  lea FXSAVE_AREA + 48(%rsp), %rdi   /* the frame */
  /* A handler the program installed for the vector is called straight from
     the table; everything else (defaults, page-fault policies) in C++. */
  mov XF_VECTOR(%rdi), %rax
  cmp $EXOS_HANDLER_VECTORS, %rax
  jae 1f
#ifdef EXOS_POSITION_INDEPENDENT
  lea exos_exception_handlers(%rip), %rcx
  mov (%rcx, %rax, 8), %rax
#else
  mov exos_exception_handlers(, %rax, 8), %rax
#endif
  test %rax, %rax
  jz 1f
  call *%rax
  jmp 2f
1:
  call exos_dispatch_exception
2:
  fxrstor64 (%rsp)
  add $FXSAVE_AREA, %rsp
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rdi
  popq %rsi
  /* fall through */

/* Resume the interrupted code from the frame at rsp, without the kernel:
   park rflags and rip just below the interrupted stack's red zone (the
   kernel leaves that room, NEST_GAP, when frames nest), restore rax/rcx/rdx,
   switch stacks, popfq, and `ret $RED_ZONE` skips back over the red zone to
   the original rsp. */
  .global exos_exception_resume
exos_exception_resume:
  mov XF_RSP(%rsp), %rax
  sub $NEST_GAP, %rax
  mov XF_RFLAGS(%rsp), %rcx
  mov %rcx, (%rax)
  mov XF_RIP(%rsp), %rcx
  mov %rcx, 8(%rax)
  mov %rax, XF_RSP(%rsp)
  mov XF_RCX(%rsp), %rcx
  mov XF_RDX(%rsp), %rdx
  mov XF_RAX(%rsp), %rax
  mov XF_RSP(%rsp), %rsp
  popfq
  ret $RED_ZONE

  .section .note.GNU-stack, "", @progbits
