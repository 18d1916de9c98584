// ExOS's numbers that its assembly needs (LRPC entry points, fork), generated
// into exos/asm_exos.h at build time like the ABI's (cmake/asm_constants.cmake).
#include <stddef.h>

#include "abi/asm_constants.h"
#include "libos/include/exos/layout.h"
#include "libos/src/lrpc_layout.h"
#include "libos/src/linux/context.h"

using namespace exos;

void exos_asm_constants() {
  ASM_CONST(LRPC_TABLE_VA, layout::kLrpcBase);
  ASM_CONST(LRPC_FIRST_PAGE_VA, layout::kLrpcBase + layout::kPageSize);
  ASM_CONST(LRPC_MAX_BINDINGS, internal::kLrpcMaxBindings);
  ASM_CONST(LRPC_ERR_REFUSED, veneer::ERR_ACCESS_DENIED);
  ASM_CONST(CTX_RBX, offsetof(internal::ForkContext, rbx));
  ASM_CONST(CTX_RBP, offsetof(internal::ForkContext, rbp));
  ASM_CONST(CTX_R12, offsetof(internal::ForkContext, r12));
  ASM_CONST(CTX_R13, offsetof(internal::ForkContext, r13));
  ASM_CONST(CTX_R14, offsetof(internal::ForkContext, r14));
  ASM_CONST(CTX_R15, offsetof(internal::ForkContext, r15));
  ASM_CONST(CTX_RSP, offsetof(internal::ForkContext, rsp));
  ASM_CONST(CTX_RIP, offsetof(internal::ForkContext, rip));
  ASM_CONST(LCTX_RBX, offsetof(linux::LinuxContext, rbx));
  ASM_CONST(LCTX_RBP, offsetof(linux::LinuxContext, rbp));
  ASM_CONST(LCTX_RSI, offsetof(linux::LinuxContext, rsi));
  ASM_CONST(LCTX_RDI, offsetof(linux::LinuxContext, rdi));
  ASM_CONST(LCTX_R8, offsetof(linux::LinuxContext, r8));
  ASM_CONST(LCTX_R9, offsetof(linux::LinuxContext, r9));
  ASM_CONST(LCTX_R10, offsetof(linux::LinuxContext, r10));
  ASM_CONST(LCTX_R12, offsetof(linux::LinuxContext, r12));
  ASM_CONST(LCTX_R13, offsetof(linux::LinuxContext, r13));
  ASM_CONST(LCTX_R14, offsetof(linux::LinuxContext, r14));
  ASM_CONST(LCTX_R15, offsetof(linux::LinuxContext, r15));
  ASM_CONST(LCTX_RDX, offsetof(linux::LinuxContext, rdx));
  ASM_CONST(LCTX_RIP, offsetof(linux::LinuxContext, rip));
  ASM_CONST(LCTX_RSP, offsetof(linux::LinuxContext, rsp));
  ASM_CONST(LCTX_RFLAGS, offsetof(linux::LinuxContext, rflags));
  ASM_CONST(LCTX_FX, offsetof(linux::LinuxContext, fx));
}
