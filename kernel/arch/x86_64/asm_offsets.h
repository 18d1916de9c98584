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

#define XFRAME_SIZE 80 /* ExceptionFrame (72) padded to keep rsp 16-aligned */
/* A nested frame goes this far below the faulting handler's rsp: its red
   zone (128) plus the 16 bytes the ExOS resume path writes there. */
#define NEST_GAP 144

#define SYSCALL_VECTOR 256
