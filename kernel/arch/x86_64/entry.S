/* Kernel entry points: interrupt/exception stubs, the user-exception fast
   path, system call entry, and the return to user mode. */
#include "kernel/arch/asm_constants.h"
#include "veneer/asm_abi.h"
#include "veneer/syscalls.h"

/* stac/clac fault on CPUs without SMAP; boot code patches every site listed
   in .smap_sites to a 3-byte nop there. */
.macro SMAP_INSN insn
771:
  \insn
  .pushsection .smap_sites, "a"
  .quad 771b
  .popsection
.endm

/* Stores into an env's exception stack: a fault between XFRAME_WRITES_BEGIN
   and XFRAME_WRITES_END (the stack is unmapped or read-only) means the env,
   not the kernel, is at fault; trap() finds the range in .xframe_writes. */
.macro XFRAME_WRITES_BEGIN
  SMAP_INSN stac
772:
.endm
.macro XFRAME_WRITES_END
773:
  .pushsection .xframe_writes, "a"
  .quad 772b, 773b
  .popsection
  SMAP_INSN clac
.endm

/* Where the next ExceptionFrame goes for the env in \env, whose interrupted
   rsp is in \rsp: at the top of its exception stack, or nested below the
   frame of a handler that is running (below its red zone). Leaves the
   address in \rsp; jumps to \overflow when the stack is full. */
.macro XFRAME_SLOT env, rsp, overflow
  cmp ENV_XSTACK_TOP(\env), \rsp
  jae 774f
  cmp ENV_XSTACK_BOTTOM(\env), \rsp
  jb 774f
  sub $(NEST_GAP + XF_SLOT), \rsp
  and $-16, \rsp
  cmp ENV_XSTACK_BOTTOM(\env), \rsp
  jae 775f
  jmp \overflow
774:
  mov ENV_XSTACK_TOP(\env), \rsp
  sub $XF_SLOT, \rsp
775:
.endm

/* The general registers in TrapFrame order (kernel/arch/x86_64/trapframe.h). */
.macro PUSH_GPRS
  pushq %rax
  pushq %rbx
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %rbp
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
.endm
.macro POP_GPRS
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rbp
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rbx
  popq %rax
.endm

/* A TrapFrame for a system call, on the kernel stack, with the user rsp
   from CPU_USER_RSP; leaves rdi pointing at it. */
.macro SAVE_SYSCALL_FRAME
  pushq $USER_DS
  pushq %gs:CPU_USER_RSP
  pushq %r11                         /* rflags */
  pushq $USER_CS
  pushq %rcx                         /* rip */
  pushq $0
  pushq $SYSCALL_VECTOR
  PUSH_GPRS
  cld
  mov %rsp, %rdi
.endm

  .text

/* ---- Exception and interrupt stubs ------------------------------------------
   Every stub leaves [vector][error code][rip][cs][rflags][rsp][ss] on the
   stack. Exceptions go to exception_entry, interrupts to trap_full. */
.macro EXC_NOERR vec
  .align 16
isr\vec:
  pushq $0
  pushq $\vec
  jmp exception_entry
.endm
.macro EXC_ERR vec
  .align 16
isr\vec:
  pushq $\vec
  jmp exception_entry
.endm
.macro IRQ vec
  .align 16
isr\vec:
  pushq $0
  pushq $\vec
  jmp trap_full
.endm

EXC_NOERR 0
EXC_NOERR 1
EXC_NOERR 2
EXC_NOERR 3
EXC_NOERR 4
EXC_NOERR 5
EXC_NOERR 6
EXC_NOERR 7
EXC_ERR 8
EXC_NOERR 9
EXC_ERR 10
EXC_ERR 11
EXC_ERR 12
EXC_ERR 13
EXC_ERR 14
EXC_NOERR 15
EXC_NOERR 16
EXC_ERR 17
EXC_NOERR 18
EXC_NOERR 19
EXC_NOERR 20
EXC_ERR 21
EXC_NOERR 22
EXC_NOERR 23
EXC_NOERR 24
EXC_NOERR 25
EXC_NOERR 26
EXC_NOERR 27
EXC_NOERR 28
EXC_ERR 29
EXC_ERR 30
EXC_NOERR 31
.altmacro
.set vec, 32
.rept 224
  IRQ %vec
  .set vec, vec + 1
.endr
.noaltmacro

  .section .rodata
  .align 8
  .global isr_table
isr_table:
.altmacro
.macro ISR_ADDR n
  .quad isr\n
.endm
.set vec, 0
.rept 256
  ISR_ADDR %vec
  .set vec, vec + 1
.endr
.noaltmacro
  .text

/* ---- User exception fast path ---------------------------------------------
   An exception in ring 3 goes straight to the env's handler: the kernel
   writes an ExceptionFrame on the env's exception stack and irets to the
   handler with rsp at the frame (trap, direction and alignment-check flags
   clear); every other register keeps its value. */
exception_entry:
  testb $3, 24(%rsp)
  jz trap_full                       /* kernel mode: full save, then trap() */
  swapgs
  mov %rax, %gs:CPU_SCRATCH0
  mov %gs:CPU_CURRENT, %rax
  cmpq $0, ENV_XHANDLER(%rax)
  je 9f                              /* no handler: the kernel decides */
  mov %rcx, %gs:CPU_SCRATCH1
  mov %rdx, %gs:CPU_SCRATCH2
  mov 40(%rsp), %rcx                 /* interrupted rsp */
  XFRAME_SLOT %rax, %rcx, 8f
  XFRAME_WRITES_BEGIN
  mov (%rsp), %rdx
  mov %rdx, XF_VECTOR(%rcx)
  mov 8(%rsp), %rdx
  mov %rdx, XF_ERROR_CODE(%rcx)
  xor %edx, %edx
  cmpq $14, (%rsp)
  jne 3f
  mov %cr2, %rdx
3:
  mov %rdx, XF_FAULT_ADDR(%rcx)
  mov 16(%rsp), %rdx
  mov %rdx, XF_RIP(%rcx)
  mov 32(%rsp), %rdx
  mov %rdx, XF_RFLAGS(%rcx)
  mov 40(%rsp), %rdx
  mov %rdx, XF_RSP(%rcx)
  mov %gs:CPU_SCRATCH0, %rdx
  mov %rdx, XF_RAX(%rcx)
  mov %gs:CPU_SCRATCH1, %rdx
  mov %rdx, XF_RCX(%rcx)
  mov %gs:CPU_SCRATCH2, %rdx
  mov %rdx, XF_RDX(%rcx)
  XFRAME_WRITES_END
  mov %rcx, 40(%rsp)                 /* enter the handler on its frame */
  mov ENV_XHANDLER(%rax), %rdx
  mov %rdx, 16(%rsp)
  andq $~HANDLER_CLEARED_FLAGS, 32(%rsp)
  mov %gs:CPU_SCRATCH0, %rax         /* leave no kernel value behind */
  mov %gs:CPU_SCRATCH1, %rcx
  mov %gs:CPU_SCRATCH2, %rdx
  add $16, %rsp
  swapgs
  iretq
8:
  /* Exception stack overflow: the kernel decides (trap() destroys it). */
  mov %gs:CPU_SCRATCH1, %rcx
  mov %gs:CPU_SCRATCH2, %rdx
9:
  mov %gs:CPU_SCRATCH0, %rax
  swapgs
  /* fall through */

/* ---- Full save -------------------------------------------------------------
   Builds a TrapFrame (kernel/arch/x86_64/trapframe.h) and calls trap(). trap()
   returns only when the trap came from kernel mode (the idle loop). */
  .global trap_full
trap_full:
  testb $3, 24(%rsp)
  jz 1f
  swapgs
1:
  PUSH_GPRS
  cld
  mov %rsp, %rdi
  call trap
  POP_GPRS
  add $16, %rsp
  iretq

/* ---- Return to user mode with a full TrapFrame: env_pop_tf(TrapFrame*) -- */
  .global env_pop_tf
env_pop_tf:
  mov %rdi, %rsp
  POP_GPRS
  add $16, %rsp
  swapgs
  iretq

/* ---- System calls ----------------------------------------------------------
   rax = number; rdi, rsi, rdx, r10, r8, r9 = arguments; returns rax = status,
   rdx = value. Veneer's calls are VENEER_SYSCALL_BASE + index: fast ones run
   on the kernel stack with only the return state saved; slow ones (index >=
   VENEER_SLOW_BASE) may switch envs, so they save a full TrapFrame first.
   rdi, rsi, r8-r10 come back zeroed so no kernel value leaks; rcx and r11
   are the user's rip and rflags, as sysret needs. Any other number is a
   foreign system call, delivered to the env's exception handler. */
  .global syscall_entry
syscall_entry:
  swapgs
  sub $VENEER_SYSCALL_BASE, %rax
  cmp $VENEER_SLOW_BASE, %rax
  jae syscall_not_fast               /* (still on the user stack: see below) */
  mov %rsp, %gs:CPU_USER_RSP
  mov %gs:CPU_KERNEL_RSP, %rsp
  pushq %rcx
  pushq %r11
  mov %r10, %rcx
  call *syscall_table(, %rax, 8)
  popq %r11
  popq %rcx
  xor %esi, %esi
  xor %edi, %edi
  xor %r8d, %r8d
  xor %r9d, %r9d
  xor %r10d, %r10d
  mov %gs:CPU_USER_RSP, %rsp
  swapgs
  sysretq

/* Interrupts are off and NMI/#MC run on their own IST stacks, so running
   these few instructions on the user's rsp is safe: nothing is pushed and
   nothing here can fault. */
syscall_not_fast:
  cmp $VENEER_SYSCALL_COUNT, %rax
  jae syscall_foreign
  add $VENEER_SYSCALL_BASE, %rax     /* the caller's number again */
  cmp $SYS_pct_sync, %rax
  je pct_sync_fast
syscall_slow_save:
  mov %rsp, %gs:CPU_USER_RSP
  mov %gs:CPU_KERNEL_RSP, %rsp
  SAVE_SYSCALL_FRAME
  call syscall_slow_dispatch         /* never returns */
  ud2

/* ---- Foreign system calls --------------------------------------------------
   A number outside Veneer's range goes to the env's exception handler as
   vector VEC_FOREIGN_SYSCALL (abi.h: the frame, and what stays live), much
   as an exception does, and returns to it with sysret: a library OS emulates
   another kernel's calls with no further kernel entry. */
syscall_foreign:
  add $VENEER_SYSCALL_BASE, %rax     /* the caller's number */
  mov %rsp, %gs:CPU_USER_RSP
  mov %gs:CPU_KERNEL_RSP, %rsp       /* a fault writing the frame lands here */
  mov %rax, %gs:CPU_SCRATCH0
  mov %gs:CPU_CURRENT, %rax
  cmpq $0, ENV_XHANDLER(%rax)
  je 8f
  mov %rdx, %gs:CPU_SCRATCH2
  mov %gs:CPU_USER_RSP, %rdx
  XFRAME_SLOT %rax, %rdx, 7f
  mov ENV_XHANDLER(%rax), %rax
  mov %rax, %gs:CPU_SCRATCH1         /* sysret goes there */
  XFRAME_WRITES_BEGIN
  movq $VEC_FOREIGN_SYSCALL, XF_VECTOR(%rdx)
  movq $0, XF_FAULT_ADDR(%rdx)
  mov %gs:CPU_SCRATCH0, %rax
  mov %rax, XF_ERROR_CODE(%rdx)
  mov %rax, XF_RAX(%rdx)
  mov %rcx, XF_RIP(%rdx)
  mov %rcx, XF_RCX(%rdx)
  mov %r11, XF_RFLAGS(%rdx)
  mov %gs:CPU_USER_RSP, %rax
  mov %rax, XF_RSP(%rdx)
  mov %gs:CPU_SCRATCH2, %rax
  mov %rax, XF_RDX(%rdx)
  XFRAME_WRITES_END
  mov %gs:CPU_SCRATCH1, %rcx
  and $~HANDLER_CLEARED_FLAGS, %r11
  mov %rdx, %rsp                     /* the handler starts on its frame */
  mov %gs:CPU_SCRATCH0, %rax
  mov %gs:CPU_SCRATCH2, %rdx
  swapgs
  sysretq
7:
  /* Exception stack overflow: like an exception's, the env is destroyed. */
  mov %gs:CPU_SCRATCH0, %rax
  mov %gs:CPU_SCRATCH2, %rdx
  SAVE_SYSCALL_FRAME
  call syscall_foreign_overflow      /* never returns */
  ud2
8:
  /* No handler: the call fails, as an unassigned Veneer number does. */
  mov %gs:CPU_USER_RSP, %rsp
  mov $ERR_BAD_SYSCALL, %rax
  swapgs
  sysretq

/* ---- System calls from compatibility mode --------------------------------
   There is no 32-bit user code segment, so no env can be in compatibility
   mode to get here; MSR_CSTAR points here anyway and the env that did is
   destroyed. */
  .global syscall_compat_entry
syscall_compat_entry:
  swapgs
  mov %rsp, %gs:CPU_USER_RSP
  mov %gs:CPU_KERNEL_RSP, %rsp
  SAVE_SYSCALL_FRAME
  call syscall_from_compat_mode      /* never returns */
  ud2

/* ---- Protected control transfer, synchronous: the fast path ----------------
   Handles the common case completely: rdi names (by ENV capability, or
   kPctReply) an env blocked at its return point (in its own pct_sync), and
   neither env needs the general path (Env::pct_slow: a thread-local-storage
   base to switch, a grace period to end). The caller's rip,
   rflags and rsp are saved; it blocks waiting for the transfer back; the
   callee resumes with rax = caller id, rdi = kPctSync and every other
   register (the data segment selectors included) as the caller left it (the
   message: rsi, rdx, r10, r8, r9). No stack is touched. Anything else
   (entry-point receivers, errors, a stale capability, pct_slow) goes to the
   general path in C++ (syscall_slow_dispatch), which implements the same
   semantics. */
pct_sync_fast:
  mov %gs:CPU_CURRENT, %rax          /* A, the caller */
  mov %rcx, ENV_TF_RIP(%rax)         /* (harmless if we fall back) */
  mov %r11, ENV_TF_RFLAGS(%rax)
  cmp $PCT_REPLY, %rdi
  je 3f
  cmp $CAP_SLOTS, %rdi
  jae 8f
  mov %rdi, %rcx
  shl $CAP_SIZE_SHIFT, %rcx
  cmpb $CAPTYPE_ENV, ENV_CAPS + CAP_TYPE(%rax, %rcx)
  jne 8f
  mov ENV_CAPS + CAP_OBJECT(%rax, %rcx), %ecx /* callee id */
  mov %ecx, %r11d
  and $ENV_INDEX_MASK, %r11d
  mov env_ptr(, %r11, 8), %r11       /* B, the callee */
  cmp ENV_ID(%r11), %ecx
  jne 8f                             /* stale capability */
  cmpl $RECV_RETURN_VALUE, ENV_RECV(%r11)
  jne 8f                             /* not at its return point */
  cmpl $0, ENV_PCT_SLOW(%rax)
  jne 8f                             /* a TLS base to switch, a grace period: the general path */
  cmpl $0, ENV_PCT_SLOW(%r11)
  jne 8f
  /* Commit: A blocks waiting for B; B may reply to A. */
  movl %ecx, ENV_WAITING_ON(%rax)
  mov ENV_ID(%rax), %ecx
  movl %ecx, ENV_REPLY_TO(%r11)
  jmp 5f
3:
  /* kPctReply: back to the env blocked in a sync call to A. (reply_to 0
     selects envs[0], never used, whose recv is 0: no special case.) */
  movl ENV_REPLY_TO(%rax), %ecx
  mov %ecx, %r11d
  and $ENV_INDEX_MASK, %r11d
  mov env_ptr(, %r11, 8), %r11       /* B */
  cmp ENV_ID(%r11), %ecx
  jne 8f
  cmpl $RECV_RETURN_VALUE, ENV_RECV(%r11)
  jne 8f
  mov ENV_ID(%rax), %ecx
  cmp ENV_WAITING_ON(%r11), %ecx
  jne 8f
  cmpl $0, ENV_PCT_SLOW(%rax)
  jne 8f
  cmpl $0, ENV_PCT_SLOW(%r11)
  jne 8f
  movl $0, ENV_REPLY_TO(%rax)        /* one reply per call; a reply donates nothing */
5:
  /* A: blocked at its return point. */
  movl $RECV_RETURN_VALUE, ENV_RECV(%rax)
  mov ENV_INFO(%rax), %rdi
  movl $STATE_BLOCKED, INFO_STATE(%rdi)
  mov %rsp, ENV_TF_RSP(%rax)         /* the user rsp: no stack switch here */
  /* B: runnable, entered where it blocked. */
  movq $0, ENV_RECV(%r11)            /* recv and waiting_on, adjacent */
  mov ENV_INFO(%r11), %rdi
  movl $STATE_RUNNABLE, INFO_STATE(%rdi)
  mov %r11, %gs:CPU_CURRENT
  mov ENV_CR3(%r11), %rdi
  mov %rdi, %cr3
  mov ENV_ID(%rax), %eax             /* rax = sender id, from the kernel */
  mov ENV_TF_RIP(%r11), %rcx
  mov ENV_TF_RSP(%r11), %rsp
  mov ENV_TF_RFLAGS(%r11), %r11
  mov $PCT_SYNC, %edi
  swapgs
  sysretq
8:
  /* General path: restore what the fast path used and save everything. */
  mov ENV_TF_RIP(%rax), %rcx
  mov ENV_TF_RFLAGS(%rax), %r11
  mov $SYS_pct_sync, %eax
  jmp syscall_slow_save

  .section .note.GNU-stack, "", @progbits
