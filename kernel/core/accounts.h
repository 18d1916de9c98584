// Accounts: what each env tree may hold of the kernel's resources (frames of
// every kind, envs, slice positions), so that no tree can starve the rest.
//
// Every env draws on an account: its own, or the one its creator draws on
// (the default: a child shares its creator's). An account has a limit and a
// count of what is held per resource; charging is O(1). A creator gives a
// child an account of its own with set_limits(), which reserves the child's
// limits out of the creator's account (the creator pays for its
// descendants); when the child dies the reservation comes back. The state
// lives in the read-only env table (EnvInfo.account/limit/used), so library
// OSes see it. Portable (tests/host/accounts_test.cc).
#pragma once

#include "veneer/abi.h"

namespace veneer::core {

class Accounts {
 public:
  // `envs`: the env table (kMaxEnvs rows).
  void init(EnvInfo* envs) { envs_ = envs; }

  // The first env (init): an account of its own with these limits.
  void open_root(uint32_t id, const uint32_t limits[kResources]);
  // A new env joins the account its creator draws on, charged one env
  // (check can_charge first).
  void join(uint32_t id, uint32_t creator);
  // The env is gone, everything it held already uncharged: its env charge
  // goes, and its own account's reservation returns to the funding account.
  void leave(uint32_t id);

  // The account holder that pays for env `id`'s own account (0: none).
  uint32_t funder(uint32_t id) const { return funder_[env_index(id)]; }
  // The env holding the account env `id` draws on.
  uint32_t account_of(uint32_t id) const { return row(id).account; }
  bool can_charge(uint32_t id, Resource r, uint64_t n) const {
    const EnvInfo& a = row(account_of(id));
    return a.used[r] + n <= a.limit[r];
  }
  void charge(uint32_t id, Resource r, uint32_t n) { row(account_of(id)).used[r] += n; }
  void uncharge(uint32_t id, Resource r, uint32_t n) { row(account_of(id)).used[r] -= n; }

  // Gives env `id` an account of its own with `limits`, or resizes the one it
  // has. The account it drew on (for a resize: the one that funded it) pays,
  // and env `payer` must draw on that account: an env cannot fund itself out
  // of its creator's account. The first time, `id` takes what it holds
  // (`held`) along and must have no children drawing on the shared account.
  // Validates everything before changing anything: ERR_ACCESS_DENIED (payer
  // does not draw on the paying account, or id is the root), ERR_BAD_STATE
  // (children share the old account), ERR_INVALID_ARGS (a limit below what
  // is held), ERR_QUOTA (the paying account cannot afford it).
  Status set_limits(uint32_t id, uint32_t payer, const uint32_t limits[kResources],
                    const uint32_t held[kResources], bool has_children);

 private:
  EnvInfo& row(uint32_t id) { return envs_[env_index(id)]; }
  const EnvInfo& row(uint32_t id) const { return envs_[env_index(id)]; }

  EnvInfo* envs_ = nullptr;
  uint32_t funder_[kMaxEnvs] = {};  // who pays for an own account's reservation
};

}  // namespace veneer::core
