// The stride scheduler. Pass values are charged by measured use, not by
// picks, so a client that gives its slice back early (it yields, blocks,
// or exits) pays only for what it ran.
#include "exos/sched.h"

namespace exos::sched {

StrideScheduler::Client* StrideScheduler::find(uint32_t env_id) {
  for (uint32_t i = 0; i < n_; i++)
    if (clients_[i].env == env_id) return &clients_[i];
  return nullptr;
}
const StrideScheduler::Client* StrideScheduler::find(uint32_t env_id) const {
  for (uint32_t i = 0; i < n_; i++)
    if (clients_[i].env == env_id) return &clients_[i];
  return nullptr;
}

Status StrideScheduler::add(uint64_t env_slot, uint32_t env_id, uint32_t tickets) {
  if (tickets == 0 || tickets > kMaxTickets) return veneer::ERR_INVALID_ARGS;
  if (find(env_id)) return veneer::ERR_BUSY;
  if (n_ == kMaxClients) return veneer::ERR_NO_RESOURCES;
  if (env_info(env_id).id != env_id) return veneer::ERR_STALE_CAP;
  uint64_t stride = kStride1 / tickets;
  clients_[n_++] = Client{env_slot, env_id, tickets, stride, global_pass_ + stride, 0, 0};
  return veneer::OK;
}

// A change of tickets keeps what the client is owed: the rest of its
// current stride is scaled to the new one (Waldspurger's rule), so the new
// share holds from the next pick on.
Status StrideScheduler::set_tickets(uint32_t env_id, uint32_t tickets) {
  if (tickets == 0 || tickets > kMaxTickets) return veneer::ERR_INVALID_ARGS;
  Client* c = find(env_id);
  if (!c) return veneer::ERR_NOT_FOUND;
  uint64_t stride = kStride1 / tickets;
  int64_t remain = static_cast<int64_t>(c->pass - global_pass_);
  remain = remain * static_cast<int64_t>(stride) / static_cast<int64_t>(c->stride);
  c->pass = global_pass_ + remain;
  c->stride = stride;
  c->tickets = tickets;
  return veneer::OK;
}

Status StrideScheduler::remove(uint32_t env_id) {
  Client* c = find(env_id);
  if (!c) return veneer::ERR_NOT_FOUND;
  *c = clients_[--n_];
  return veneer::OK;
}

uint64_t StrideScheduler::run(uint64_t slices) {
  if (!quantum_) quantum_ = slice_vector().tsc_hz * slice_vector().slice_ns / 1000000000ull;
  if (!quantum_) quantum_ = 1;
  uint64_t given = 0;
  while (given < slices) {
    // The runnable client with the smallest pass.
    Client* best = nullptr;
    for (uint32_t i = 0; i < n_; i++) {
      Client& c = clients_[i];
      const veneer::EnvInfo& e = env_info(c.env);
      if (e.id != c.env || e.state != veneer::ENV_RUNNABLE) continue;
      if (!best || static_cast<int64_t>(c.pass - best->pass) < 0) best = &c;
    }
    if (!best) return given;
    uint64_t before = env_info(best->env).cpu_tsc;
    // The rest of this slice is the client's; we run again at our next one.
    if (sys_yield_to(best->slot).status != veneer::OK) {
      best->pass += best->stride;  // it could not run: it does not hold up the others
      continue;
    }
    uint64_t used = env_info(best->env).id == best->env ? env_info(best->env).cpu_tsc - before : quantum_;
    best->cpu += used;
    best->picks++;
    // Charged by use: a whole slice costs one stride.
    best->pass += best->stride * used / quantum_;
    global_pass_ = best->pass;
    for (uint32_t i = 0; i < n_; i++)
      if (static_cast<int64_t>(clients_[i].pass - global_pass_) < 0) global_pass_ = clients_[i].pass;
    given++;
  }
  return given;
}

uint64_t StrideScheduler::cpu(uint32_t env_id) const {
  const Client* c = find(env_id);
  return c ? c->cpu : 0;
}
uint64_t StrideScheduler::picks(uint32_t env_id) const {
  const Client* c = find(env_id);
  return c ? c->picks : 0;
}

}  // namespace exos::sched
