// A loaded safe handler: bytecode that passed the verifier, compiled to
// sealed native code, runnable on a frame. The interpreter runs the same
// bytecode (for differential tests, and where no code memory is left).
#pragma once

#include "ebpf_interpreter.h"
#include "ebpf_jit.h"
#include "verifier.h"

namespace veneer::net {

class Handler {
 public:
  Handler() = default;
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;
  ~Handler() { unload(); }

  // Verifies `prog` for a granted buffer of `buffer_size` bytes and compiles
  // it. The handler refers to `prog` (the caller keeps it, unchanged, while
  // the handler is loaded) and uses `memory` until unload(). Statuses: the
  // verifier's (ERR_HANDLER_*), ERR_NO_MEMORY if no code memory is left.
  // `result`, if given, receives the verifier's findings.
  Status load(const BpfInsn* prog, uint32_t n, uint32_t buffer_size, Verifier& verifier, HandlerJit& jit,
              const CodeMemory* memory, VerifyResult* result = nullptr);
  void unload();

  // Runs the handler on frame[0, len) (len clamped to kHandlerMaxFrame) with
  // the env's buffer (buffer_size bytes, as loaded) and a stack of
  // kHandlerStackSize bytes; returns the handler's r0.
  uint64_t run(const uint8_t* frame, uint32_t len, uint8_t* buffer, uint8_t* stack, const HandlerHost* host) const {
    HandlerRun r = make_run(frame, len, buffer, stack, host);
    return entry_(r.frame, r.frame_len, r.buffer, &r);
  }
  uint64_t interpret(const uint8_t* frame, uint32_t len, uint8_t* buffer, uint8_t* stack,
                     const HandlerHost* host) const {
    HandlerRun r = make_run(frame, len, buffer, stack, host);
    return interpret_handler(prog_, n_, &r);
  }

  bool loaded() const { return entry_ != nullptr; }
  uint32_t max_path() const { return max_path_; }
  size_t code_size() const { return code_.size; }
  HandlerFn entry() const { return entry_; }
  const BpfInsn* program() const { return prog_; }
  uint32_t length() const { return n_; }
  uint32_t buffer_size() const { return buffer_size_; }

  HandlerRun make_run(const uint8_t* frame, uint32_t len, uint8_t* buffer, uint8_t* stack,
                      const HandlerHost* host) const {
    return HandlerRun{frame, len > kHandlerMaxFrame ? kHandlerMaxFrame : len, buffer, buffer_size_,
                      stack + kHandlerStackSize, host, kHandlerHelperBytes, kHandlerMaxReplies};
  }

 private:
  const BpfInsn* prog_ = nullptr;
  uint32_t n_ = 0;
  uint32_t buffer_size_ = 0;
  uint32_t max_path_ = 0;
  const CodeMemory* memory_ = nullptr;
  SealedCode code_;
  HandlerFn entry_ = nullptr;
};

}  // namespace veneer::net
