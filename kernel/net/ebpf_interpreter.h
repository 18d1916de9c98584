// An interpreter for verified handler bytecode: the reference the JIT is
// checked against, and a fallback where no code memory is left. It trusts
// the verifier; the checked variant (fuzzing) also asks a checker about every
// memory access and counts the instructions it executes.
#pragma once

#include "ebpf.h"
#include "handler_runtime.h"

namespace veneer::net {

// Runs `prog` (verified) on `run`; returns r0.
uint64_t interpret_handler(const BpfInsn* prog, uint32_t n, HandlerRun* run);

struct AccessChecker {
  void* context;
  // Called before each load and store the program makes; false stops the run.
  bool (*check)(void* context, uint64_t address, uint32_t size, bool write);
};

// The same, asking `checker` about each access and stopping after
// `max_steps` instructions. *steps receives the instructions executed;
// *stopped is set if the checker refused or the limit was reached.
uint64_t interpret_handler_checked(const BpfInsn* prog, uint32_t n, HandlerRun* run, const AccessChecker& checker,
                                   uint64_t max_steps, uint64_t* steps, bool* stopped);

}  // namespace veneer::net
