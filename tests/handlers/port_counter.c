/* Counts IPv4/UDP datagrams per destination port in the env's buffer (256
 * 32-bit counters by port modulo 256, then a total), without waking the env
 * except every 1024th datagram. Handles IP options (the IHL), so the offset
 * of the port is computed, and bounded, at run time. */
#include "exos/ash.h"

#define ETH 14
#define BUCKETS 256

ASH_HANDLER uint64_t port_counter(const uint8_t* frame, uint64_t len, uint8_t* buf) {
  if (len < ETH + 20 + 8) return ASH_DELIVER;
  if (frame[12] != 0x08 || frame[13] != 0x00 || frame[ETH + 9] != 17) return ASH_DELIVER;
  uint64_t ihl = (uint64_t)(frame[ETH] & 0x0F) * 4;
  if (ihl < 20) return ASH_DELIVER;
  uint64_t udp = ETH + ihl;           /* 34 .. 74 */
  if (len < ETH + 60 + 8 && udp + 4 > len) return ASH_DELIVER;
  if (len < ETH + 60 + 8) { /* short frame: only the no-options case is provably in bounds */
    if (ihl != 20) return ASH_DELIVER;
    udp = ETH + 20;
  }
  uint64_t port = (uint64_t)frame[udp + 2] << 8 | frame[udp + 3];
  uint32_t* counters = (uint32_t*)buf;
  counters[port % BUCKETS] += 1;
  uint32_t total = counters[BUCKETS] + 1;
  counters[BUCKETS] = total;
  if ((total & 1023) == 0) ash_wake_env(total);
  return ASH_CONSUMED;
}
