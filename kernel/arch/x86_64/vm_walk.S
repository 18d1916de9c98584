/* vm_pte_walk_preserving: calls veneer_vm_pte_walk(rdi = env, rsi = va)
   and returns its result in rax with every other register as it was, so
   the inline fast paths of kernel/vm.h that may miss their cached leaf
   need no stack frame of their own (see vm_pte there). */
  .text
  .global vm_pte_walk_preserving
vm_pte_walk_preserving:
  push %rcx
  push %rdx
  push %rsi
  push %rdi
  push %r8
  push %r9
  push %r10
  push %r11
  push %rbp
  mov %rsp, %rbp
  and $-16, %rsp                      /* the ABI's alignment at a call */
  call veneer_vm_pte_walk
  mov %rbp, %rsp
  pop %rbp
  pop %r11
  pop %r10
  pop %r9
  pop %r8
  pop %rdi
  pop %rsi
  pop %rdx
  pop %rcx
  ret

  .section .note.GNU-stack, "", @progbits
