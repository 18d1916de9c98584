// The kernel's structure offsets and constants that entry.S needs,
// generated into kernel/arch/asm_constants.h at build time
// (cmake/asm_constants.cmake): a layout change reaches the assembly by
// itself.
#include <stddef.h>

#include "abi/asm_constants.h"
#include "kernel/arch/x86_64/cpu.h"
#include "kernel/arch/x86_64/percpu.h"
#include "kernel/arch/x86_64/trapframe.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/memory.h"

using namespace veneer;

void veneer_kernel_asm_constants() {
  ASM_CONST(CPU_KERNEL_RSP, offsetof(arch::PerCpu, kernel_rsp));
  ASM_CONST(CPU_USER_RSP, offsetof(arch::PerCpu, user_rsp));
  ASM_CONST(CPU_CURRENT, offsetof(arch::PerCpu, current));
  ASM_CONST(CPU_SCRATCH0, offsetof(arch::PerCpu, scratch) + 0);
  ASM_CONST(CPU_SCRATCH1, offsetof(arch::PerCpu, scratch) + 8);
  ASM_CONST(CPU_SCRATCH2, offsetof(arch::PerCpu, scratch) + 16);

  ASM_CONST(ENV_XHANDLER, offsetof(Env, xhandler));
  ASM_CONST(ENV_XSTACK_TOP, offsetof(Env, xstack_top));
  ASM_CONST(ENV_XSTACK_BOTTOM, offsetof(Env, xstack_bottom));
  ASM_CONST(ENV_CR3, offsetof(Env, cr3));
  ASM_CONST(ENV_INFO, offsetof(Env, info));
  ASM_CONST(ENV_ID, offsetof(Env, id));
  ASM_CONST(ENV_RECV, offsetof(Env, recv));
  ASM_CONST(ENV_WAITING_ON, offsetof(Env, waiting_on));
  ASM_CONST(ENV_REPLY_TO, offsetof(Env, reply_to));
  ASM_CONST(ENV_TF_RIP, offsetof(Env, tf) + offsetof(arch::TrapFrame, rip));
  ASM_CONST(ENV_TF_ERROR_CODE, offsetof(Env, tf) + offsetof(arch::TrapFrame, error_code));
  ASM_CONST(ENV_TF_END, offsetof(Env, tf) + sizeof(arch::TrapFrame));
  ASM_CONST(TF_CS, offsetof(arch::TrapFrame, cs));
  ASM_CONST(ENV_XFRAME_END, offsetof(Env, xframe_end));
  ASM_CONST(TSS_RSP0, arch::kTssRsp0Offset);
  ASM_CONST(ENV_TF_RFLAGS, offsetof(Env, tf) + offsetof(arch::TrapFrame, rflags));
  ASM_CONST(ENV_TF_RSP, offsetof(Env, tf) + offsetof(arch::TrapFrame, rsp));
  ASM_CONST(ENV_PCT_SLOW, offsetof(Env, pct_slow));
  ASM_CONST(ENV_CAPS, offsetof(Env, caps));
  ASM_CONST(INFO_STATE, offsetof(EnvInfo, state));
  ASM_CONST(STATE_RUNNABLE, ENV_RUNNABLE);
  ASM_CONST(STATE_BLOCKED, ENV_BLOCKED);
  ASM_CONST(RECV_RETURN_VALUE, RECV_RETURN);
  static_assert(sizeof(core::Capability) == 1 << 4);
  ASM_CONST(CAP_SIZE_SHIFT, 4);
  ASM_CONST(CAP_TYPE, offsetof(core::Capability, type));
  ASM_CONST(CAP_OBJECT, offsetof(core::Capability, object));
  ASM_CONST(CAPTYPE_ENV, CAP_ENV);
  ASM_CONST(CAP_SLOTS, kCapSlots);
  ASM_CONST(ENV_INDEX_MASK, kMaxEnvs - 1);
  static_assert(offsetof(Env, waiting_on) == offsetof(Env, recv) + 4, "entry.S clears both with one store");

  ASM_CONST(KERNEL_VMA, kKernelVma);
  ASM_CONST(KERNEL_CS, arch::KERNEL_CS);
  ASM_CONST(GDT_KERNEL_CODE64, arch::kGdtKernelCode64);
  ASM_CONST(GDT_KERNEL_DATA, arch::kGdtKernelData);
  ASM_CONST(KERNEL_DS, arch::KERNEL_DS);
  ASM_CONST(MSR_EFER, arch::MSR_EFER);
  ASM_CONST(EFER_LME, arch::EFER_LME);
  ASM_CONST(EFER_NXE, arch::EFER_NXE);
  ASM_CONST(COM1, kCom1);
  ASM_CONST(DEBUG_EXIT_PORT, kDebugExitPort);
  ASM_CONST(PANIC_EXIT_CODE, kPanicExitCode);
  ASM_CONST(USER_CS, arch::USER_CS);
  ASM_CONST(USER_DS, arch::USER_DS);
  ASM_CONST(SYSCALL_VECTOR, arch::kSyscallVector);
}
