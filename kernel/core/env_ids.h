// Environment ids: the table index in the low kEnvIndexBits and a generation
// above it, so a stale id never names a new env. Generations of a slot are
// never reused: when they run out the slot is retired for good. No id may
// be 0 (nobody) or collide with kOwnerKernel in the frame table. Portable
// (tests/host/env_ids_test.cc).
#pragma once

#include "veneer/abi.h"

namespace veneer::core {

constexpr uint32_t kMaxGeneration = (1u << (32 - kEnvIndexBits)) - 1;

constexpr uint32_t make_env_id(uint32_t generation, uint32_t index) { return generation << kEnvIndexBits | index; }

// Whether slot `index` may still take an id of this generation.
constexpr bool generation_usable(uint32_t generation, uint32_t index) {
  if (generation == 0 || generation > kMaxGeneration) return false;
  uint32_t id = make_env_id(generation, index);
  return id != kOwnerFree && id != kOwnerKernel;
}

}  // namespace veneer::core
