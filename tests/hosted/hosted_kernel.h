// The real kernel's system-call layer, address spaces, environments and
// scheduler, built as an ordinary host program (VENEER_HOSTED): physical
// memory is a host buffer, privileged instructions are recorded, and
// "returning to user mode" returns to the caller of hosted_call(). Host
// fuzzers and tests use it to drive the kernel with any sequence of calls
// and check its tables after each one.
#pragma once

#include <stdint.h>

#include "kernel/env.h"
#include "veneer/abi.h"

namespace hosted {

// Boots a fresh kernel with `nframes` frames of physical memory (the first
// kReservedFrames stay the kernel's) and an init env holding the MACHINE
// capability, runnable, with slice 0. Returns init.
constexpr uint64_t kReservedFrames = 8;
veneer::Env* boot(uint64_t nframes);

// Makes system call `num` with `args` as env `caller` (which must be
// runnable). Returns the caller's result; `*switched` tells whether the
// kernel left the caller for another env (or idled) instead of returning to
// it, in which case the result is what the caller will see when it resumes.
veneer::SysResult call(veneer::Env* caller, uint64_t num, const uint64_t args[6], bool* switched = nullptr);

// The env the kernel would run now (nullptr when it idles).
veneer::Env* current();

// Kernel messages (kprintf) are kept quiet unless this is set.
extern bool verbose;

}  // namespace hosted
