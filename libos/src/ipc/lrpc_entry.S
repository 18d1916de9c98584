/* LRPC: the server's protected entry points and the client's checked call.
   A call arrives with rax = the caller's env id (from the kernel), rdi =
   kPctSync, rsi = procedure | binding << 32, rdx = a0, r10 = a1, r8 = the
   argument page's length. The server answers with pct_sync(kPctReply):
   rsi = the result, rdx = a status; that call also waits for the next one,
   which resumes right after it. rbx, rbp and r12-r15 travel untouched both
   ways (the procedures preserve them, as the C ABI says). */
#include "veneer/asm_abi.h"
#include "exos/asm_exos.h"

  .text
/* Checked: the caller must be the binding's client (the table the manager
   keeps, read-only here), the procedure must exist, page arguments are
   copied by the C++ dispatcher, and nothing but the result and status goes
   back in the message registers. */
  .global exos_lrpc_checked_entry
exos_lrpc_checked_entry:
  and $-16, %rsp
1:
  cmp $PCT_SYNC, %rdi
  jne 9f                         /* an asynchronous message: nothing to answer */
  mov %rsi, %rcx
  shr $32, %rcx                  /* binding */
  cmp $LRPC_MAX_BINDINGS, %rcx
  jae 8f
  movabs $LRPC_TABLE_VA, %r11
  cmp %eax, (%r11,%rcx,4)
  jne 8f                         /* not this binding's client */
  test %r8, %r8
  jnz 5f                         /* page arguments */
  mov %esi, %ecx                 /* procedure */
  cmp exos_lrpc_nprocs(%rip), %ecx
  jae 8f
  mov exos_lrpc_procs(%rip), %r11
  mov (%r11,%rcx,8), %r11
  mov %rdx, %rdi                 /* a0 */
  mov %r10, %rsi                 /* a1 */
  xor %edx, %edx                 /* no page */
  xor %ecx, %ecx
  call *%r11
  mov %rax, %rsi
  xor %edx, %edx                 /* OK */
2:
  xor %r8d, %r8d
  xor %r9d, %r9d
  xor %r10d, %r10d
  mov $SYS_pct_sync, %rax
  mov $PCT_REPLY, %rdi
  syscall                        /* answer; the next call resumes here */
  test %rax, %rax
  jns 1b
9:
  mov $SYS_pct_wait, %rax        /* the caller is gone: the next call enters anew */
  syscall                        /* returns only after an interrupt upcall: wait again */
  jmp 9b
8:
  xor %esi, %esi
  mov $LRPC_ERR_REFUSED, %rdx
  jmp 2b
5:
  mov %r10, %rcx                 /* (sender, w0, a0, a1, len) */
  mov %rax, %rdi
  call exos_lrpc_dispatch_page   /* rax = result, rdx = status */
  mov %rax, %rsi
  jmp 2b

/* Trusted: no checks, no copies; the page is the shared one. */
  .global exos_lrpc_trusted_entry
exos_lrpc_trusted_entry:
  and $-16, %rsp
1:
  mov %esi, %ecx
  mov exos_lrpc_procs(%rip), %r11
  mov (%r11,%rcx,8), %r11
  shr $32, %rsi
  shl $12, %rsi
  movabs $LRPC_FIRST_PAGE_VA, %rax
  add %rsi, %rax
  mov %rdx, %rdi                 /* a0 */
  mov %r10, %rsi                 /* a1 */
  mov %rax, %rdx                 /* the binding's page */
  mov %r8, %rcx                  /* its length */
  call *%r11
  mov %rax, %rsi
  xor %edx, %edx
  mov $SYS_pct_sync, %rax
  mov $PCT_REPLY, %rdi
  syscall
  test %rax, %rax
  jns 1b
6:
  mov $SYS_pct_wait, %rax
  syscall                        /* returns only after an interrupt upcall: wait again */
  jmp 6b

/* int64_t exos_lrpc_call(slot, w0, a0, a1, len, uint64_t out[2]): a checked
   call. The server hands back rbx, rbp and r12-r15 as it likes, so ours are
   saved here. Returns rax (the env that transferred back, or a negative
   status); out = {rsi: result, rdx: status}. */
  .global exos_lrpc_call
exos_lrpc_call:
  pushq %rbx
  pushq %rbp
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  pushq %r9
  mov %rcx, %r10
  mov $SYS_pct_sync, %rax
  syscall
  popq %r9
  mov %rsi, 0(%r9)
  mov %rdx, 8(%r9)
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbp
  popq %rbx
  ret

  .section .note.GNU-stack, "", @progbits
