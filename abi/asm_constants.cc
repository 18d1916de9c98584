// The ABI's numbers that assembly needs (ExOS's entry code, the kernel's
// entry paths, benchmarks), generated into veneer/asm_abi.h at build time
// (cmake/asm_constants.cmake).
#include <stddef.h>

#include "asm_constants.h"
#include "veneer/abi.h"

using namespace veneer;

void veneer_abi_asm_constants() {
#define SYSCALL_CONST(index, name, path, args) ASM_CONST(SYS_##name, SYS_##name);
  VENEER_SYSCALLS(SYSCALL_CONST)
#undef SYSCALL_CONST
  ASM_CONST(XF_VECTOR, offsetof(ExceptionFrame, vector));
  ASM_CONST(XF_ERROR_CODE, offsetof(ExceptionFrame, error_code));
  ASM_CONST(XF_FAULT_ADDR, offsetof(ExceptionFrame, fault_addr));
  ASM_CONST(XF_RIP, offsetof(ExceptionFrame, rip));
  ASM_CONST(XF_RFLAGS, offsetof(ExceptionFrame, rflags));
  ASM_CONST(XF_RSP, offsetof(ExceptionFrame, rsp));
  ASM_CONST(XF_RAX, offsetof(ExceptionFrame, rax));
  ASM_CONST(XF_RCX, offsetof(ExceptionFrame, rcx));
  ASM_CONST(XF_RDX, offsetof(ExceptionFrame, rdx));
  ASM_CONST(XF_SLOT, kExceptionFrameSlot);
  ASM_CONST(XF_SIZE, sizeof(ExceptionFrame));
  ASM_CONST(NEST_GAP, kNestGap);
  ASM_CONST(RED_ZONE, kRedZone);
  ASM_CONST(HANDLER_CLEARED_FLAGS, kHandlerClearedFlags);
  ASM_CONST(VEC_FOREIGN_SYSCALL, kVecForeignSyscall);
  ASM_CONST(PCT_ASYNC, kPctAsync);
  ASM_CONST(PCT_SYNC, kPctSync);
  ASM_CONST(PCT_REPLY, kPctReply);
  ASM_CONST(ERR_BAD_SYSCALL, ERR_BAD_SYSCALL);
  ASM_CONST(SYSCALL_FAST_FIRST, static_cast<long long>(VENEER_FAST_FIRST));
  ASM_CONST(SYSCALL_SLOW_FIRST, static_cast<long long>(VENEER_SLOW_FIRST));
}
