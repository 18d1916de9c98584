// ExOS's numbers that its assembly needs (LRPC entry points, fork), generated
// into exos/asm_exos.h at build time like the ABI's (cmake/asm_constants.cmake).
#include <stddef.h>

#include "abi/asm_constants.h"
#include "libos/include/exos/layout.h"
#include "libos/src/lrpc_layout.h"

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
}
