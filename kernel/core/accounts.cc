#include "kernel/core/accounts.h"

namespace veneer::core {

void Accounts::open_root(uint32_t id, const uint32_t limits[kResources]) {
  EnvInfo& r = row(id);
  r.account = id;
  for (uint32_t i = 0; i < kResources; i++) r.limit[i] = limits[i], r.used[i] = 0;
  r.used[RES_ENVS] = 1;
  funder_[env_index(id)] = 0;
}

void Accounts::join(uint32_t id, uint32_t creator) {
  EnvInfo& r = row(id);
  r.account = account_of(creator);
  for (uint32_t i = 0; i < kResources; i++) r.limit[i] = r.used[i] = 0;
  funder_[env_index(id)] = 0;
  charge(id, RES_ENVS, 1);
}

void Accounts::leave(uint32_t id) {
  uncharge(id, RES_ENVS, 1);
  EnvInfo& r = row(id);
  uint32_t funder = funder_[env_index(id)];
  if (r.account == id && funder)
    for (uint32_t i = 0; i < kResources; i++) row(funder).used[i] -= r.limit[i];
  r.account = 0;
  for (uint32_t i = 0; i < kResources; i++) r.limit[i] = r.used[i] = 0;
  funder_[env_index(id)] = 0;
}

Status Accounts::set_limits(uint32_t id, uint32_t payer, const uint32_t limits[kResources],
                            const uint32_t held[kResources], bool has_children) {
  EnvInfo& r = row(id);
  bool own = r.account == id;
  uint32_t paying = own ? funder_[env_index(id)] : r.account;
  if (!paying || account_of(payer) != paying) return ERR_ACCESS_DENIED;
  if (!own && has_children) return ERR_BAD_STATE;
  const uint32_t* in_use = own ? r.used : held;
  for (uint32_t i = 0; i < kResources; i++)
    if (limits[i] < in_use[i]) return ERR_INVALID_ARGS;
  // What the paying account holds afterwards: its reservation for `id`
  // becomes `limits` (replacing the old limits, or what `id` held).
  EnvInfo& pay = row(paying);
  uint64_t after[kResources];
  for (uint32_t i = 0; i < kResources; i++) {
    uint64_t before_share = own ? r.limit[i] : held[i];
    after[i] = uint64_t(pay.used[i]) - before_share + limits[i];
    if (after[i] > pay.limit[i]) return ERR_QUOTA;
  }
  for (uint32_t i = 0; i < kResources; i++) {
    pay.used[i] = static_cast<uint32_t>(after[i]);
    if (!own) r.used[i] = held[i];
    r.limit[i] = limits[i];
  }
  r.account = id;
  funder_[env_index(id)] = paying;
  return OK;
}

}  // namespace veneer::core
