// Frames and filters the network tests build (test_net.cc, child.cc): ARP
// and ICMP echo on QEMU's user network (the guest 10.0.2.15, its gateway
// 10.0.2.2).
#pragma once

#include "exos/exos.h"
#include "exos/filter.h"
#include "veneer/filter.h"

namespace guest::net {

constexpr uint8_t kGuestIp[4] = {10, 0, 2, 15};
constexpr uint8_t kGatewayIp[4] = {10, 0, 2, 2};
constexpr uint16_t kEtherArp = 0x0806, kEtherIpv4 = 0x0800;

inline const uint8_t* my_mac() { return exos::kernel_info().net.mac; }

inline void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
inline uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// Frames to this interface with `ethertype` (for IPv4 with IP protocol
// `proto` as well, 0: any), built with ExOS's filter builder.
inline veneer::Filter frames_to_me(uint16_t ethertype, uint8_t proto = 0) {
  const uint8_t* m = my_mac();
  exos::FilterBuilder b;
  b.bytes(0, 4, uint32_t(m[0]) << 24 | uint32_t(m[1]) << 16 | uint32_t(m[2]) << 8 | m[3]);
  b.bytes(4, 2, uint32_t(m[4]) << 8 | m[5]);
  if (proto) b.ipv4_protocol(proto);
  else b.ethertype(ethertype);
  return b.filter();
}

// "Who has 10.0.2.2? Tell 10.0.2.15", broadcast. 42 bytes.
inline uint64_t arp_request(uint8_t* f) {
  const uint8_t* m = my_mac();
  for (int i = 0; i < 6; i++) f[i] = 0xFF, f[6 + i] = m[i], f[22 + i] = m[i], f[32 + i] = 0;
  put16(f + 12, kEtherArp);
  put16(f + 14, 1);       // Ethernet
  put16(f + 16, 0x0800);  // IPv4
  f[18] = 6, f[19] = 4;
  put16(f + 20, 1);  // request
  for (int i = 0; i < 4; i++) f[28 + i] = kGuestIp[i], f[38 + i] = kGatewayIp[i];
  return 42;
}

// The Internet checksum (RFC 1071) of n bytes.
inline uint16_t checksum(const uint8_t* p, uint64_t n) {
  uint32_t sum = 0;
  for (uint64_t i = 0; i + 1 < n; i += 2) sum += get16(p + i);
  if (n & 1) sum += uint32_t(p[n - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return uint16_t(~sum);
}

// An ICMP echo request to the gateway (at `gateway_mac`) with `payload`
// bytes of pattern. Returns the frame's length.
inline uint64_t icmp_echo(uint8_t* f, const uint8_t* gateway_mac, uint16_t id, uint16_t seq, uint64_t payload) {
  const uint8_t* m = my_mac();
  for (int i = 0; i < 6; i++) f[i] = gateway_mac[i], f[6 + i] = m[i];
  put16(f + 12, kEtherIpv4);
  uint8_t* ip = f + 14;
  const uint64_t ip_len = 20 + 8 + payload;
  ip[0] = 0x45, ip[1] = 0;
  put16(ip + 2, uint16_t(ip_len));
  put16(ip + 4, seq), put16(ip + 6, 0);
  ip[8] = 64, ip[9] = 1;  // TTL, ICMP
  put16(ip + 10, 0);
  for (int i = 0; i < 4; i++) ip[12 + i] = kGuestIp[i], ip[16 + i] = kGatewayIp[i];
  put16(ip + 10, checksum(ip, 20));
  uint8_t* icmp = ip + 20;
  icmp[0] = 8, icmp[1] = 0;  // echo request
  put16(icmp + 2, 0);
  put16(icmp + 4, id), put16(icmp + 6, seq);
  for (uint64_t i = 0; i < payload; i++) icmp[8 + i] = uint8_t(i * 7 + seq);
  put16(icmp + 2, checksum(icmp, 8 + payload));
  return 14 + ip_len;
}

}  // namespace guest::net
