// Inside ExOS's network stack (exos/net.h): receive rings, frame building
// and the checks every received IPv4 datagram passes.
#pragma once

#include "exos/exos.h"
#include "exos/net.h"
#include "veneer/filter.h"

namespace exos::net::internal {

inline uint16_t get16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t get32(const uint8_t* p) { return uint32_t(get16(p)) << 16 | get16(p + 2); }
inline void put16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
inline void put32(uint8_t* p, uint32_t v) { put16(p, uint16_t(v >> 16)), put16(p + 2, uint16_t(v)); }
// One's-complement sum (RFC 1071), folded, not inverted; add more with `sum`.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0);
inline uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return uint16_t(~sum);
}

// A receive ring in the stack's area (slot i of layout::kNetSlotBytes) and
// the filter that feeds it.
struct Ring {
  uint64_t va = 0;
  uint64_t pages = 0;
  uint64_t filter = 0;
  bool installed = false;
  volatile veneer::NetRingHeader* header() const { return reinterpret_cast<volatile veneer::NetRingHeader*>(va); }
  const veneer::NetCell* peek() const;
  void pop() { header()->tail = header()->tail + 1; }
};
veneer::Status ring_open(Ring* r, int slot, uint64_t pages, const veneer::Filter& f);
veneer::Status ring_close(Ring* r);
constexpr int kSendSlot = 0, kArpSlot = 1, kIcmpSlot = 2, kFirstUdpSlot = 3;

// A received IPv4 datagram that passed every check: its payload and header fields.
struct Ipv4 {
  uint32_t src, dst;
  uint8_t proto;
  const uint8_t* header;
  const uint8_t* payload;
  size_t len;  // payload bytes (the IP total length says, not the frame)
};
// Checks a frame's IPv4 header (version, IHL, total length within the
// frame, checksum, no fragment, addressed to us) and counts what fails.
bool parse_ipv4(const uint8_t* frame, size_t len, Ipv4* out);
// The pages frames are built in (slot kSendSlot).
enum SendPage { kDataPage, kIcmpPage, kArpPage, kSendPages };
uint8_t* send_buffer(SendPage page);
// Builds Ethernet and IPv4 headers around `payload_len` bytes already at
// send_buffer(page) + 34 and sends the frame to `dst` (its next hop
// resolved by ARP, meanwhile answering only ARP).
veneer::Status send_ipv4(SendPage page, uint32_t dst, uint8_t proto, size_t payload_len);
Stats& mutable_stats();
uint64_t now_ns();
bool ready();
void close_sockets();  // udp.cc: shutdown()

}  // namespace exos::net::internal
