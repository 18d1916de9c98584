// Scheduling at application level: a stride scheduler (Waldspurger & Weihl)
// in ExOS. The scheduling process owns slice positions of the kernel's slice
// vector; its clients own none. Every time one of its slices comes up it
// gives it, by directed yield, to the client with the smallest pass, and
// charges that client the CPU time the kernel says it used (EnvInfo.cpu_tsc)
// times its stride. Tickets can change at any time; the change applies at
// the next slice.
#pragma once

#include "exos/exos.h"

namespace exos::sched {

class StrideScheduler {
 public:
  static constexpr uint32_t kMaxClients = 16;
  static constexpr uint64_t kStride1 = 1ull << 24;  // stride = kStride1 / tickets
  static constexpr uint32_t kMaxTickets = 1u << 16;

  // A client: an env we hold a capability to (any rights: a directed yield
  // needs no more), runnable, with no slice positions of its own.
  Status add(uint64_t env_slot, uint32_t env_id, uint32_t tickets);
  Status set_tickets(uint32_t env_id, uint32_t tickets);
  Status remove(uint32_t env_id);
  // Gives `slices` of our slices away, each to one client; returns how many
  // it gave (fewer when no client could run).
  uint64_t run(uint64_t slices);
  // CPU time (TSC ticks, instructions under -icount) the kernel charged a
  // client while this scheduler ran it; picks: how many slices it got.
  uint64_t cpu(uint32_t env_id) const;
  uint64_t picks(uint32_t env_id) const;

 private:
  struct Client {
    uint64_t slot;
    uint32_t env;
    uint32_t tickets;
    uint64_t stride, pass;
    uint64_t cpu, picks;
  };
  Client* find(uint32_t env_id);
  const Client* find(uint32_t env_id) const;
  Client clients_[kMaxClients] = {};
  uint32_t n_ = 0;
  uint64_t global_pass_ = 0;  // the pass a client joining now starts at
  uint64_t quantum_ = 0;      // TSC ticks per slice
};

}  // namespace exos::sched
