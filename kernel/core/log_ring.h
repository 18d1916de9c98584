// The kernel log's ring: bytes from kprintf and cons_write wait here for the
// UART, which takes them only as fast as it sends them, so no caller waits
// for the line (a 4 KiB write would hold the CPU, interrupts off, for 355 ms
// at 115200 baud). Newlines become CR LF on the way in. Portable
// (tests/host/log_ring_test.cc).
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace veneer::core {

template <size_t N>
class LogRing {
  static_assert((N & (N - 1)) == 0, "a power of two");

 public:
  // Takes as much of s[0..n) as fits (a newline needs two bytes); returns
  // how many of the n it took. `echo` sees every byte taken.
  template <typename Echo>
  size_t put(const char* s, size_t n, Echo&& echo) {
    size_t i = 0;
    for (; i < n; i++) {
      bool nl = s[i] == '\n';
      if (space() < (nl ? 2u : 1u)) break;
      if (nl) buf_[head_++ % N] = '\r';
      buf_[head_++ % N] = s[i];
      echo(s[i]);
    }
    return i;
  }

  // Sends bytes while the device is ready(), at most `burst` per readiness
  // (a UART's FIFO depth once it reports it empty); returns how many.
  template <typename Ready, typename Send>
  size_t drain(Ready&& ready, Send&& send, size_t burst) {
    size_t sent = 0;
    while (tail_ != head_ && ready())
      for (size_t k = 0; k < burst && tail_ != head_; k++, sent++) send(buf_[tail_++ % N]);
    return sent;
  }

  size_t space() const { return N - static_cast<size_t>(head_ - tail_); }
  bool empty() const { return head_ == tail_; }

 private:
  char buf_[N];
  uint64_t head_ = 0, tail_ = 0;
};

}  // namespace veneer::core
