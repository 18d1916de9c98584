// Capabilities to other processes, for directed yields: the manager grants
// one (without rights) on request; we keep one per env slot of the kernel's
// table, checked against the env id (ids are never reused).
#include "../internal.h"
#include "exos/ipc.h"

namespace exos {
namespace {
using Peer = internal::PrivateState::Peer;
inline Peer* peers() { return internal::priv().peers; }
}  // namespace

namespace internal {

void peers_reset() {
  for (uint32_t i = 0; i < veneer::kMaxEnvs; i++) peers()[i] = Peer{};
}

void peers_add(uint32_t env, uint64_t slot) {
  Peer& p = peers()[veneer::env_index(env)];
  if (p.env && p.slot != slot && p.slot != veneer::kNoSlot) {
    sys_cap_delete(p.slot);
    slot_free(p.slot);
  }
  p = Peer{env, slot};
}

}  // namespace internal

namespace ipc {

int64_t peer_slot(uint32_t env) {
  Peer& p = peers()[veneer::env_index(env)];
  if (p.env == env) return p.slot == veneer::kNoSlot ? -1 : static_cast<int64_t>(p.slot);
  if (!internal::proc_self().managed || env == self_id()) return -1;
  if (p.env && p.slot != veneer::kNoSlot) {  // a capability to an env that is gone
    sys_cap_delete(p.slot);
    slot_free(p.slot);
    p = Peer{};
  }
  int64_t slot = slot_alloc();
  if (slot < 0) return -1;
  internal::Reply r = internal::manager_call(internal::OP_PEER, env, static_cast<uint64_t>(slot));
  if (r.status != veneer::OK) {
    slot_free(static_cast<uint64_t>(slot));
    p = Peer{env, veneer::kNoSlot};
    return -1;
  }
  p = Peer{env, static_cast<uint64_t>(slot)};
  return slot;
}

void yield_to(uint32_t env) {
  int64_t slot = env ? internal::cached_peer(env) : -1;
  if (slot < 0 && env) slot = peer_slot(env);
  if (slot < 0 || sys_yield_to(static_cast<uint64_t>(slot)).status != veneer::OK) sys_yield();
}

}  // namespace ipc
}  // namespace exos
