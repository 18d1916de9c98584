// Per-environment capability table: slot-indexed, kernel-held. A slot number
// is all user space ever sees, so capabilities cannot be forged; a frame
// capability also carries the frame's guard, so it goes stale when the frame
// is freed or revoked. Portable (host unit tests: tests/host/cap_table_test.cc).
#pragma once

#include "veneer/abi.h"

namespace veneer::core {

struct Capability {
  uint8_t type;     // CapType
  uint8_t rights;   // Rights
  uint16_t reserved;
  uint32_t object;  // frame number, env id, or 0 (entry.S reads env ids here)
  uint64_t guard;   // frame guard at the time the capability was made
};
static_assert(sizeof(Capability) == 16);

class CapTable {
 public:
  void clear_all() {
    for (auto& c : slots_) c = Capability{};
  }

  // Looks up `slot`, which must hold a capability of `type` with every right
  // in `rights`. Out-of-range slot: ERR_OUT_OF_RANGE; empty or wrong type:
  // ERR_BAD_CAP; missing right: ERR_ACCESS_DENIED.
  Status lookup(uint64_t slot, uint8_t type, uint8_t rights, Capability** out) {
    if (slot >= kCapSlots) return ERR_OUT_OF_RANGE;
    Capability& c = slots_[slot];
    if (c.type == CAP_NONE || c.type != type) return ERR_BAD_CAP;
    if ((c.rights & rights) != rights) return ERR_ACCESS_DENIED;
    *out = &c;
    return OK;
  }

  // Checks that `slot` can receive a new capability.
  Status check_free(uint64_t slot) const {
    if (slot >= kCapSlots) return ERR_OUT_OF_RANGE;
    if (slots_[slot].type != CAP_NONE) return ERR_BUSY;
    return OK;
  }

  // Stores into a slot that check_free() accepted.
  void put(uint64_t slot, const Capability& c) { slots_[slot] = c; }

  Status remove(uint64_t slot) {
    if (slot >= kCapSlots) return ERR_OUT_OF_RANGE;
    if (slots_[slot].type == CAP_NONE) return ERR_BAD_CAP;
    slots_[slot] = Capability{};
    return OK;
  }

  const Capability& at(uint64_t slot) const { return slots_[slot]; }

 private:
  Capability slots_[kCapSlots];
};

}  // namespace veneer::core
