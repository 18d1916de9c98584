#include "exos/filter.h"

namespace exos {

namespace {
constexpr uint16_t kEthernetHeader = 14;
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kIpv4Offset = kEthernetHeader;
}  // namespace

FilterBuilder::FilterBuilder() : filter_{} {}

FilterBuilder& FilterBuilder::add(uint16_t offset, uint8_t width, uint32_t value, uint32_t mask, uint8_t flags) {
  if (width == 1) mask &= 0xFFu;
  else if (width == 2) mask &= 0xFFFFu;
  value &= mask;
  for (uint32_t i = 0; i < filter_.natoms; i++) {  // the same atom twice is one atom
    const veneer::FilterAtom& a = filter_.atoms[i];
    if (a.offset == offset && a.width == width && a.mask == mask && a.value == value && a.flags == flags)
      return *this;
  }
  if (filter_.natoms == veneer::kFilterMaxAtoms) {
    ok_ = false;
    return *this;
  }
  filter_.atoms[filter_.natoms++] = veneer::FilterAtom{offset, width, flags, mask, value};
  return *this;
}

FilterBuilder& FilterBuilder::bytes(uint16_t offset, uint8_t width, uint32_t value, uint32_t mask) {
  return add(offset, width, value, mask, 0);
}

FilterBuilder& FilterBuilder::header_length(uint16_t offset, uint8_t mask, uint8_t shift, uint16_t base) {
  if ((filter_.flags & veneer::FILTER_HAS_SHIFT) &&
      (filter_.shift.offset != offset || filter_.shift.mask != mask || filter_.shift.shift != shift ||
       filter_.shift.base != base))
    ok_ = false;  // one header-length shift per filter
  filter_.flags |= veneer::FILTER_HAS_SHIFT;
  filter_.shift = veneer::FilterShift{offset, mask, shift, base, 0};
  return *this;
}

FilterBuilder& FilterBuilder::after(uint16_t offset, uint8_t width, uint32_t value, uint32_t mask) {
  return add(offset, width, value, mask, veneer::FILTER_ATOM_AFTER_SHIFT);
}

FilterBuilder& FilterBuilder::ethertype(uint16_t type) { return bytes(12, 2, type); }

FilterBuilder& FilterBuilder::ipv4_protocol(uint8_t protocol) {
  ethertype(kEtherTypeIpv4);
  bytes(kIpv4Offset + 9, 1, protocol);
  bytes(kIpv4Offset + 6, 2, 0, 0x1FFF);  // fragment offset 0: the ports are in this fragment
  return header_length(kIpv4Offset, 0x0F, 2, kIpv4Offset);  // IHL counts 32-bit words
}

FilterBuilder& FilterBuilder::ipv4_src(uint32_t addr) {
  ethertype(kEtherTypeIpv4);
  return bytes(kIpv4Offset + 12, 4, addr);
}

FilterBuilder& FilterBuilder::ipv4_dst(uint32_t addr) {
  ethertype(kEtherTypeIpv4);
  return bytes(kIpv4Offset + 16, 4, addr);
}

FilterBuilder& FilterBuilder::udp_src_port(uint16_t port) { return ipv4_protocol(17).after(0, 2, port); }
FilterBuilder& FilterBuilder::udp_dst_port(uint16_t port) { return ipv4_protocol(17).after(2, 2, port); }
FilterBuilder& FilterBuilder::tcp_src_port(uint16_t port) { return ipv4_protocol(6).after(0, 2, port); }
FilterBuilder& FilterBuilder::tcp_dst_port(uint16_t port) { return ipv4_protocol(6).after(2, 2, port); }

}  // namespace exos
