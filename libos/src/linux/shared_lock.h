// A lock in memory every process of the instance shares (the RAM file
// system, the terminal): it holds the env id of its holder, nests, and
// passes to the next that asks when its holder has died holding it.
#pragma once

#include <stdint.h>

#include "exos/exos.h"

namespace exos::linux {

struct SharedLock {
  volatile uint32_t holder;  // env id, 0 if free
  uint32_t depth;            // the holder's nested acquisitions
};

// Whether the env that holds a lock (by id) has died holding it.
inline bool holder_dead(uint32_t id) {
  const veneer::EnvInfo& holder = env_info(id);
  return holder.id != id || holder.state == veneer::ENV_FREE || holder.state == veneer::ENV_DYING;
}

class Locked {
 public:
  explicit Locked(SharedLock& l) : l_(l) {
    uint32_t me = self_id();
    if (l_.holder == me) {
      l_.depth++;
      return;
    }
    for (;;) {
      uint32_t expected = 0;
      if (__atomic_compare_exchange_n(&l_.holder, &expected, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) break;
      if (holder_dead(expected))
        __atomic_compare_exchange_n(&l_.holder, &expected, 0, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
      else
        yield();
    }
    l_.depth = 1;
  }
  ~Locked() {
    if (--l_.depth == 0) __atomic_store_n(&l_.holder, 0, __ATOMIC_RELEASE);
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  SharedLock& l_;
};

// One attempt (a dead holder's lock is taken over): for a process that must
// not wait on the others, whose memory this is too (they could hold it
// forever). held() says whether it got the lock.
class TryLocked {
 public:
  explicit TryLocked(SharedLock& l) : l_(l) {
    uint32_t me = self_id(), expected = 0;
    if (l_.holder == me) {
      held_ = true;
      l_.depth++;
      return;
    }
    if (!__atomic_compare_exchange_n(&l_.holder, &expected, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
      if (!holder_dead(expected) || !__atomic_compare_exchange_n(&l_.holder, &expected, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    }
    held_ = true;
    l_.depth = 1;
  }
  ~TryLocked() {
    if (held_ && --l_.depth == 0) __atomic_store_n(&l_.holder, 0, __ATOMIC_RELEASE);
  }
  bool held() const { return held_; }
  TryLocked(const TryLocked&) = delete;
  TryLocked& operator=(const TryLocked&) = delete;

 private:
  SharedLock& l_;
  bool held_ = false;
};

}  // namespace exos::linux
