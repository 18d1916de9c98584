// What a safe handler runs with: the frame, the env's granted buffer, its
// stack, and the helpers (abi/veneer/handler.h) it may call. The embedding
// code (the NIC path) supplies HandlerHost: how to send a reply frame and how
// to wake the env (in the kernel, an asynchronous protected control
// transfer). Helpers check every range they are given at run time, against
// the real frame length and buffer size.
#pragma once

#include <stdint.h>

#include "veneer/filter.h"
#include "veneer/handler.h"

namespace veneer::net {

// Handlers see at most this many bytes of a frame (r2 never exceeds it); the
// verifier's ranges for the length rely on it.
constexpr uint32_t kHandlerMaxFrame = kFilterMaxFrame;

struct HandlerHost {
  void* context;
  // Queues frame[0, len) for transmission: 0 if queued, -1 if refused.
  int64_t (*send)(void* context, const uint8_t* frame, uint32_t len);
  // Wakes the env the handler belongs to, passing `value`.
  void (*wake)(void* context, uint64_t value);
};

// One run of a handler. The JIT'd code reads `stack_top` and passes the run to
// helpers; the layout is part of the contract with generated code.
struct HandlerRun {
  const uint8_t* frame;
  uint64_t frame_len;      // <= kHandlerMaxFrame
  uint8_t* buffer;
  uint64_t buffer_size;
  uint8_t* stack_top;      // r10: kHandlerStackSize bytes below it belong to the handler
  const HandlerHost* host;
  // What the helpers may still do in this run (handler.h's limits).
  uint64_t helper_bytes_left;
  uint64_t replies_left;
};

// A helper, called with the handler's r1..r5 and the run (System V: rdi, rsi,
// rdx, rcx, r8, r9). Returns r0.
using HelperFn = uint64_t (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, HandlerRun*);

struct HelperInfo {
  HelperFn fn;
  uint8_t nargs;       // r1..r<nargs> must hold numbers
  uint64_t result_max; // r0 lies in [0, result_max] afterwards
};

// The helper with this number, or nullptr.
const HelperInfo* helper(int32_t id);

// The 16-bit ones' complement sum of data[0, len) (big-endian words, an odd
// last byte padded with zero) added to `seed`, folded, not complemented.
uint32_t ones_complement_sum(const uint8_t* data, uint64_t len, uint32_t seed);

}  // namespace veneer::net
