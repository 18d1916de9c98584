/* Checks the UDP checksum of an IPv4 datagram in a loop over the segment (no
 * helper): the loop's bound is the frame length, which the verifier follows
 * to its end. Returns the ones' complement sum folded to 16 bits (0xFFFF for
 * a correct checksum), or 0x10000 for frames it does not handle. */
#include "exos/ash.h"

#define ETH 14
#define IP 20

ASH_HANDLER uint64_t udp_checksum(const uint8_t* frame, uint64_t len, uint8_t* buf) {
  if (len < ETH + IP + 8) return 0x10000;
  if (frame[12] != 0x08 || frame[13] != 0x00 || frame[ETH] != 0x45 || frame[ETH + 9] != 17) return 0x10000;
  uint64_t udp_len = (uint64_t)frame[ETH + IP + 4] << 8 | frame[ETH + IP + 5];
  if (udp_len < 8 || ETH + IP + udp_len > len) return 0x10000;
  /* Pseudo-header: addresses, protocol, UDP length. */
  uint64_t sum = 17 + udp_len;
  for (int i = 0; i < 8; i += 2) sum += (uint64_t)frame[ETH + 12 + i] << 8 | frame[ETH + 12 + i + 1];
  uint64_t end = ETH + IP + udp_len;
  uint64_t i = ETH + IP;
  for (; i + 1 < end && i + 1 < len; i += 2) sum += (uint64_t)frame[i] << 8 | frame[i + 1];
  if (i < end && i < len) sum += (uint64_t)frame[i] << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return sum;
}
