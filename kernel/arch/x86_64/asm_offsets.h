// Structure offsets used by entry.S. C++ code static_asserts each one
// (kernel/env.h, kernel/arch/x86_64/percpu.h), so a layout change that
// forgets the assembly fails to compile.
#pragma once

#define CPU_KERNEL_RSP 8
#define CPU_USER_RSP 16
#define CPU_CURRENT 24
#define CPU_SCRATCH0 32
#define CPU_SCRATCH1 40
#define CPU_SCRATCH2 48

#define ENV_XHANDLER 0
#define ENV_XSTACK_TOP 8
#define ENV_XSTACK_BOTTOM 16
#define ENV_CR3 24
#define ENV_INFO 32
#define ENV_ID 40
#define ENV_RECV 44
#define ENV_WAITING_ON 48 /* must follow ENV_RECV: cleared together */
#define ENV_REPLY_TO 52
#define ENV_TF 56
#define ENV_TF_RIP (ENV_TF + 17 * 8)
#define ENV_TF_RFLAGS (ENV_TF + 19 * 8)
#define ENV_TF_RSP (ENV_TF + 20 * 8)
#define ENV_CAPS 848
#define INFO_STATE 4
#define STATE_RUNNABLE 2
#define STATE_BLOCKED 4
#define RECV_RETURN_VALUE 1
#define CAPTYPE_ENV 2
#define CAP_SLOTS 4096

#define XFRAME_SIZE 80 /* ExceptionFrame (72) padded to keep rsp 16-aligned */
/* A nested frame goes this far below the faulting handler's rsp: its red
   zone (128) plus the 16 bytes the ExOS resume path writes there. */
#define NEST_GAP 144

#define SYSCALL_VECTOR 256
