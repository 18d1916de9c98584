// Layouts ExOS's assembly shares with its C++ (turned into constants for
// the .S files by libos/src/asm_constants.cc): freestanding, no other
// ExOS headers needed.
#pragma once

#include <stdint.h>

namespace exos::internal {

// A saved fork context: what the C ABI says a call preserves, the stack
// pointer after the call and the return address (proc/fork_entry.S).
struct ForkContext {
  uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
  // What the child's private state starts with (it cannot read ours).
  uint32_t manager;
  uint32_t reserved;
  uint64_t fs_base, start_arg;
};

// An LRPC server's bindings: a table of client env ids (one uint32_t per
// binding) in the page at kLrpcBase, read-only in the server and written by
// the manager; binding b's argument page follows at kLrpcBase + (1 + b) pages.
constexpr uint64_t kLrpcMaxBindings = 63;

}  // namespace exos::internal
