/* UDP echo: answers an IPv4/UDP datagram without waking the env. Builds the
 * reply in the granted buffer (addresses and ports swapped, TTL reset, IP
 * checksum recomputed, UDP checksum left out as IPv4 allows), copies the
 * payload with a helper and sends it. Frames it does not handle (not IPv4
 * UDP, IP options, truncated) go to the env. */
#include "exos/ash.h"

#define ETH 14
#define IP 20
#define UDP 8
#define BUF_SIZE 2048

ASH_HANDLER uint64_t udp_echo(const uint8_t* frame, uint64_t len, uint8_t* buf) {
  if (len < ETH + IP + UDP) return ASH_DELIVER;
  if (frame[12] != 0x08 || frame[13] != 0x00 || frame[ETH] != 0x45 || frame[ETH + 9] != 17) return ASH_DELIVER;
  uint64_t ip_len = (uint64_t)frame[ETH + 2] << 8 | frame[ETH + 3];
  if (ip_len < IP + UDP || ETH + ip_len > len) return ASH_DELIVER;

  for (int i = 0; i < 6; i++) {  /* Ethernet: back to the sender */
    buf[i] = frame[6 + i];
    buf[6 + i] = frame[i];
  }
  buf[12] = 0x08, buf[13] = 0x00;
  for (int i = 0; i < IP; i++) buf[ETH + i] = frame[ETH + i];
  for (int i = 0; i < 4; i++) { /* IP: swap addresses */
    buf[ETH + 12 + i] = frame[ETH + 16 + i];
    buf[ETH + 16 + i] = frame[ETH + 12 + i];
  }
  buf[ETH + 8] = 64;                 /* TTL */
  buf[ETH + 10] = buf[ETH + 11] = 0; /* checksum, recomputed below */
  buf[ETH + IP + 0] = frame[ETH + IP + 2], buf[ETH + IP + 1] = frame[ETH + IP + 3]; /* ports swapped */
  buf[ETH + IP + 2] = frame[ETH + IP + 0], buf[ETH + IP + 3] = frame[ETH + IP + 1];
  buf[ETH + IP + 4] = frame[ETH + IP + 4], buf[ETH + IP + 5] = frame[ETH + IP + 5]; /* UDP length */
  buf[ETH + IP + 6] = buf[ETH + IP + 7] = 0;   /* no UDP checksum */

  uint64_t payload = ip_len - IP - UDP;
  if (ETH + IP + UDP + payload > BUF_SIZE) return ASH_DELIVER;
  if (ash_copy_frame(ETH + IP + UDP, ETH + IP + UDP, payload) != 0) return ASH_DELIVER;
  uint64_t sum = ash_checksum(VENEER_REGION_BUFFER, ETH, IP, 0);
  buf[ETH + 10] = (uint8_t)(~sum >> 8);
  buf[ETH + 11] = (uint8_t)~sum;
  return ash_send_reply(0, ETH + ip_len) == 0 ? ASH_CONSUMED : ASH_DELIVER;
}
