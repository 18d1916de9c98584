// Building packet filters (veneer/filter.h) in ExOS: atoms by offset, or by
// protocol field. Header fields after IPv4 go through the IHL shift, so a
// filter on a UDP or TCP port holds for packets with IP options too.
//
//   exos::FilterBuilder b;
//   b.udp_dst_port(53);
//   if (b.ok()) install(b.filter());
//
// Pure computation, no system calls: usable anywhere (host tests too).
#pragma once

#include <stdint.h>

#include "veneer/filter.h"

namespace exos {

class FilterBuilder {
 public:
  FilterBuilder();

  // frame[offset, +width) big-endian, masked, equals value. The mask is
  // clipped to the width; value bits outside it are dropped.
  FilterBuilder& bytes(uint16_t offset, uint8_t width, uint32_t value, uint32_t mask = 0xFFFFFFFFu);
  // Header start = base + ((frame[offset] & mask) << shift), for after().
  FilterBuilder& header_length(uint16_t offset, uint8_t mask, uint8_t shift, uint16_t base);
  // Like bytes(), counted from the header start set by header_length().
  FilterBuilder& after(uint16_t offset, uint8_t width, uint32_t value, uint32_t mask = 0xFFFFFFFFu);

  // Ethernet II, then IPv4 (addresses and ports in host order).
  FilterBuilder& ethertype(uint16_t type);
  FilterBuilder& ipv4_protocol(uint8_t protocol);  // + ethertype, unfragmented, IHL shift
  FilterBuilder& ipv4_src(uint32_t addr);
  FilterBuilder& ipv4_dst(uint32_t addr);
  FilterBuilder& udp_src_port(uint16_t port);
  FilterBuilder& udp_dst_port(uint16_t port);
  FilterBuilder& tcp_src_port(uint16_t port);
  FilterBuilder& tcp_dst_port(uint16_t port);

  // False once more atoms were asked for than a filter holds.
  bool ok() const { return ok_; }
  const veneer::Filter& filter() const { return filter_; }

 private:
  FilterBuilder& add(uint16_t offset, uint8_t width, uint32_t value, uint32_t mask, uint8_t flags);

  veneer::Filter filter_;
  bool ok_ = true;
};

}  // namespace exos
