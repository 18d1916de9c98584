/* Kernel entry points: interrupt/exception stubs, the user-exception fast
   path, system call entry, and the return to user mode. */
#include "kernel/arch/asm_constants.h"
#include "veneer/asm_abi.h"
#include "veneer/syscalls.h"

/* Per-CPU data. There is one CPU and the kernel never uses GS (so no
   swapgs on any crossing): it is a global, addressed rip-relative. */
#define PERCPU(field) veneer_cpu0 + field(%rip)

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

/* A TrapFrame for a system call, pushed where rsp is, with the user rsp
   from CPU_USER_RSP; leaves rdi pointing at it. */
.macro SAVE_SYSCALL_FRAME
  pushq $USER_DS
  pushq PERCPU(CPU_USER_RSP)
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

/* ---- Exceptions and interrupts ---------------------------------------------
   Taken from ring 3, the hardware frame lands in the current env's TrapFrame
   (TSS.rsp0 points just past it), so a full save is made in place and the
   kernel never copies one; #PF alone has an IST stack of its own (pf_stack):
   it is the one exception that building a frame on an env's exception stack
   can raise in ring 0 (below), and it must not land on that user rsp.

   User-level exceptions: the fast path writes a veneer::ExceptionFrame on the
   env's exception stack with pushes (rsp pointing into the user's exception
   stack, SMAP open only around them), then irets to the handler with rsp at
   the frame, trap, direction and alignment-check flags clear, rcx = the
   handler's address, and every other register as the faulting code left it
   (rax, rcx, rdx are in the frame). The frame nests below the interrupted
   rsp (and its red zone) when the handler itself faults. A push can only
   target [xstack_bottom, xstack_top), a validated user range, so the only
   fault it can raise is a #PF (an unmapped or read-only exception stack):
   trap() finds its rip in .xframe_writes and destroys the env. Kernel-mode
   exceptions, envs without a handler and overflowing exception stacks take
   the full save (trap_full) and trap(). */

/* Where the new frame ends (the first push), for the env in \env whose
   interrupted rsp is in rsp: at the top of its exception stack, or nested
   below a running handler's frame. Jumps to \overflow when the stack is full. */
.macro XFRAME_END env, overflow
  cmp ENV_XSTACK_TOP(\env), %rsp
  jae 774f
  cmp ENV_XSTACK_BOTTOM(\env), %rsp
  jb 774f
  sub $(NEST_GAP + XF_SLOT), %rsp
  and $-16, %rsp
  cmp ENV_XSTACK_BOTTOM(\env), %rsp
  jb \overflow
  add $XF_SIZE, %rsp
  jmp 775f
774:
  mov ENV_XFRAME_END(\env), %rsp
775:
.endm

/* An exception whose hardware frame is in the env's TrapFrame; \err says
   whether the CPU pushed an error code. */
.macro EXC_USER vec, err
  .align 16
isr\vec:
  testb $3, 8 + 8 * \err(%rsp)          /* the saved cs */
  jz 1f                                 /* from the kernel */
  mov %rax, PERCPU(CPU_SCRATCH0)
  mov PERCPU(CPU_CURRENT), %rax
  cmpq $0, ENV_XHANDLER(%rax)
  je 2f                                 /* no handler: the kernel decides */
  mov ENV_TF_RSP(%rax), %rsp            /* the interrupted rsp */
  XFRAME_END %rax, 3f
  XFRAME_WRITES_BEGIN
  pushq %rdx
  pushq %rcx
  pushq PERCPU(CPU_SCRATCH0)            /* rax */
  pushq ENV_TF_RSP(%rax)
  pushq ENV_TF_RFLAGS(%rax)
  pushq ENV_TF_RIP(%rax)
  pushq $0                              /* fault address: #PF's only */
  .if \err
  pushq ENV_TF_ERROR_CODE(%rax)
  .else
  pushq $0
  .endif
  pushq $\vec
  XFRAME_WRITES_END
  mov %rsp, ENV_TF_RSP(%rax)            /* the handler starts on its frame */
  mov ENV_XHANDLER(%rax), %rcx
  mov %rcx, ENV_TF_RIP(%rax)
  andq $~HANDLER_CLEARED_FLAGS, ENV_TF_RFLAGS(%rax)
  lea ENV_TF_RIP(%rax), %rsp            /* the iret frame */
  mov PERCPU(CPU_SCRATCH0), %rax        /* leave no kernel value behind */
  iretq
3:
  lea ENV_TF_RIP - 8 * \err(%rax), %rsp /* the exception stack is full */
2:
  mov PERCPU(CPU_SCRATCH0), %rax
1:
  .if \err == 0
  pushq $0
  .endif
  pushq $\vec
  jmp trap_full
.endm

/* The kernel's alone (NMI, #DF, #MC), and interrupts: a full save. */
.macro EXC_KERNEL vec, err
  .align 16
isr\vec:
  .if \err == 0
  pushq $0
  .endif
  pushq $\vec
  jmp trap_full
.endm
.macro IRQ vec
  EXC_KERNEL \vec, 0
.endm

EXC_USER 0, 0
EXC_USER 1, 0
EXC_KERNEL 2, 0
EXC_USER 3, 0
EXC_USER 4, 0
EXC_USER 5, 0
EXC_USER 6, 0
EXC_USER 7, 0
EXC_KERNEL 8, 1
EXC_USER 9, 0
EXC_USER 10, 1
EXC_USER 11, 1
EXC_USER 12, 1
EXC_USER 13, 1

/* #PF: its hardware frame is at the top of pf_stack (IST). A push of the
   fast path below that faults lands there too, overwriting this frame:
   harmless, as that env is destroyed (trap() sees the push's rip). */
#define PF_FRAME(field) pf_stack_top - 48 + field(%rip)
#define PF_ERR 0
#define PF_RIP 8
#define PF_RFLAGS 24
#define PF_RSP 32
  .align 16
isr14:
  testb $3, 16(%rsp)
  jz 1f
  mov %rax, PERCPU(CPU_SCRATCH0)
  mov PERCPU(CPU_CURRENT), %rax
  cmpq $0, ENV_XHANDLER(%rax)
  je 2f
  mov PF_FRAME(PF_RSP), %rsp
  XFRAME_END %rax, 3f
  XFRAME_WRITES_BEGIN
  pushq %rdx
  pushq %rcx
  pushq PERCPU(CPU_SCRATCH0)
  pushq PF_FRAME(PF_RSP)
  pushq PF_FRAME(PF_RFLAGS)
  pushq PF_FRAME(PF_RIP)
  mov %cr2, %rcx                        /* (saved just above) */
  pushq %rcx
  pushq PF_FRAME(PF_ERR)
  pushq $14
  XFRAME_WRITES_END
  mov %rsp, PF_FRAME(PF_RSP)
  mov ENV_XHANDLER(%rax), %rcx
  mov %rcx, PF_FRAME(PF_RIP)
  andq $~HANDLER_CLEARED_FLAGS, PF_FRAME(PF_RFLAGS)
  lea PF_FRAME(PF_RIP), %rsp
  mov PERCPU(CPU_SCRATCH0), %rax
  iretq
3:
  lea PF_FRAME(PF_ERR), %rsp
2:
  mov PERCPU(CPU_SCRATCH0), %rax
1:
  pushq $14
  jmp trap_full

EXC_USER 15, 0
EXC_USER 16, 0
EXC_USER 17, 1
EXC_KERNEL 18, 0
EXC_USER 19, 0
EXC_USER 20, 0
EXC_USER 21, 1
EXC_USER 22, 0
EXC_USER 23, 0
EXC_USER 24, 0
EXC_USER 25, 0
EXC_USER 26, 0
EXC_USER 27, 0
EXC_USER 28, 0
EXC_USER 29, 1
EXC_USER 30, 1
EXC_USER 31, 0
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

/* ---- Full save -------------------------------------------------------------
   Builds a TrapFrame (kernel/arch/x86_64/trapframe.h) and calls trap(). trap()
   returns only when the trap came from kernel mode (the idle loop). */
  .global trap_full
trap_full:
  PUSH_GPRS
  cld
  mov %rsp, %rdi                        /* the TrapFrame */
  testb $3, TF_CS(%rsp)
  jz 1f
  mov PERCPU(CPU_KERNEL_RSP), %rsp      /* from ring 3: it is in the env (or an IST stack) */
  call trap                             /* never returns */
  ud2
1:
  call trap                             /* from the kernel (the idle loop): returns */
  POP_GPRS
  add $16, %rsp
  iretq

/* ---- Return to user mode with a full TrapFrame: env_pop_tf(TrapFrame*) -- */
  .global env_pop_tf
env_pop_tf:
  mov %rdi, %rsp
  POP_GPRS
  add $16, %rsp
  iretq

/* ---- System calls ----------------------------------------------------------
   rax = number; rdi, rsi, rdx, r10, r8, r9 = arguments; returns rax = status,
   rdx = value. Veneer's calls are the numbers -64..-1 (syscalls.h): fast ones run
   on the kernel stack with only the return state saved; slow ones (index >=
   VENEER_SLOW_BASE) may switch envs, so they save a full TrapFrame first.
   rdi, rsi, r8-r10 come back zeroed so no kernel value leaks; rcx and r11
   are the user's rip and rflags, as sysret needs. Any other number is a
   foreign system call, delivered to the env's exception handler. */
  .global syscall_entry
syscall_entry:
  cmp $SYSCALL_FAST_FIRST, %rax      /* fast calls are numbers -32..-1 */
  jb syscall_not_fast                /* (still on the user stack: see below) */
  mov %rsp, PERCPU(CPU_USER_RSP)
  mov PERCPU(CPU_KERNEL_RSP), %rsp
  pushq %rcx
  pushq %r11
  mov %r10, %rcx
  call *syscall_table + 32 * 8(, %rax, 8)  /* the number, -32 + index, indexes the table */
  popq %r11
  popq %rcx
  xor %esi, %esi
  xor %edi, %edi
  xor %r8d, %r8d
  xor %r9d, %r9d
  xor %r10d, %r10d
  mov PERCPU(CPU_USER_RSP), %rsp
  sysretq

/* Interrupts are off and NMI/#MC run on their own IST stacks, so running
   these few instructions on the user's rsp is safe: nothing is pushed and
   nothing here can fault. */
syscall_not_fast:
  cmp $SYS_pct_sync, %rax
  je pct_sync_fast
  cmp $SYSCALL_SLOW_FIRST, %rax      /* slow calls are numbers -64..-33 */
  jb syscall_foreign
syscall_slow_save:
  mov %rsp, PERCPU(CPU_USER_RSP)
  mov PERCPU(CPU_CURRENT), %rsp
  add $ENV_TF_END, %rsp              /* the frame is built in the env's TrapFrame */
  SAVE_SYSCALL_FRAME
  mov PERCPU(CPU_KERNEL_RSP), %rsp
  call syscall_slow_dispatch         /* never returns */
  ud2

/* ---- Foreign system calls --------------------------------------------------
   A number outside Veneer's range goes to the env's exception handler as
   vector VEC_FOREIGN_SYSCALL (abi.h: the frame, and what stays live), much
   as an exception does (the same pushes, from the caller's rsp: interrupts
   are off, and a push that faults raises #PF on its IST stack), and returns
   to it with sysret: a library OS emulates another kernel's calls with no
   further kernel entry. */
syscall_foreign:
  mov %rsp, PERCPU(CPU_USER_RSP)
  mov %rax, PERCPU(CPU_SCRATCH0)     /* the number */
  mov PERCPU(CPU_CURRENT), %rax
  cmpq $0, ENV_XHANDLER(%rax)
  je 8f
  XFRAME_END %rax, 7f                /* rsp: the caller's, then the new frame's end */
  XFRAME_WRITES_BEGIN
  pushq %rdx
  pushq %rcx                         /* rcx: the rip, as syscall left it */
  pushq PERCPU(CPU_SCRATCH0)         /* rax: the number */
  pushq PERCPU(CPU_USER_RSP)
  pushq %r11                         /* rflags */
  pushq %rcx                         /* rip */
  pushq $0                           /* fault address */
  pushq PERCPU(CPU_SCRATCH0)         /* error code: the number */
  pushq $VEC_FOREIGN_SYSCALL
  XFRAME_WRITES_END
  mov ENV_XHANDLER(%rax), %rcx       /* sysret to the handler, on its frame */
  and $~HANDLER_CLEARED_FLAGS, %r11
  mov PERCPU(CPU_SCRATCH0), %rax
  sysretq
7:
  /* Exception stack overflow: like an exception's, the env is destroyed. */
  mov PERCPU(CPU_SCRATCH0), %rax
  mov PERCPU(CPU_KERNEL_RSP), %rsp
  SAVE_SYSCALL_FRAME
  call syscall_foreign_overflow      /* never returns */
  ud2
8:
  /* No handler: the call fails, as an unassigned Veneer number does. */
  mov $ERR_BAD_SYSCALL, %rax
  sysretq

/* ---- System calls from compatibility mode --------------------------------
   There is no 32-bit user code segment, so no env can be in compatibility
   mode to get here; MSR_CSTAR points here anyway and the env that did is
   destroyed. */
  .global syscall_compat_entry
syscall_compat_entry:
  mov %rsp, PERCPU(CPU_USER_RSP)
  mov PERCPU(CPU_KERNEL_RSP), %rsp
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
  mov PERCPU(CPU_CURRENT), %rax          /* A, the caller */
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
  mov %r11, PERCPU(CPU_CURRENT)
  mov ENV_CR3(%r11), %rdi
  mov %rdi, %cr3
  lea ENV_TF_END(%r11), %rdi         /* B's traps are saved in its TrapFrame */
  mov %rdi, veneer_tss + TSS_RSP0(%rip)
  mov ENV_ID(%rax), %eax             /* rax = sender id, from the kernel */
  mov ENV_TF_RIP(%r11), %rcx
  mov ENV_TF_RSP(%r11), %rsp
  mov ENV_TF_RFLAGS(%r11), %r11
  mov $PCT_SYNC, %edi
  sysretq
8:
  /* General path: restore what the fast path used and save everything. */
  mov ENV_TF_RIP(%rax), %rcx
  mov ENV_TF_RFLAGS(%rax), %r11
  mov $SYS_pct_sync, %rax
  jmp syscall_slow_save

/* #PF's IST stack: 16 KiB, as a kernel-mode #PF (a bad exception stack)
   runs env_destroy on it. */
  .section .bss
  .align 16
pf_stack:
  .skip 16384
  .global pf_stack_top
pf_stack_top:

  .section .note.GNU-stack, "", @progbits
