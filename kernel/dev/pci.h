// PCI configuration space through the legacy mechanism (ports 0xCF8/0xCFC,
// which the kernel keeps: ioports.cc), enough to find and set up one device:
// its BARs, its capability list, and bus mastering.
#pragma once

#include <stdint.h>

namespace veneer::dev {

struct PciAddress {
  uint8_t bus, device, function;
};

uint32_t pci_read32(PciAddress a, uint8_t offset);
void pci_write32(PciAddress a, uint8_t offset, uint32_t value);
uint16_t pci_read16(PciAddress a, uint8_t offset);
void pci_write16(PciAddress a, uint8_t offset, uint16_t value);
uint8_t pci_read8(PciAddress a, uint8_t offset);

// The first function on bus 0 with this vendor and one of these device ids
// (QEMU puts its devices on bus 0; bridges are not followed). False if none.
bool pci_find(uint16_t vendor, const uint16_t* device_ids, int n, PciAddress* out);
// A memory BAR's physical address (64-bit BARs read whole); 0 for an I/O BAR
// or an unassigned one.
uint64_t pci_bar_address(PciAddress a, uint8_t bar);
// The offset of the first capability with this id at or after `from` (0:
// from the start of the list), 0 if none. The walk is bounded: a looping
// list ends it.
uint8_t pci_find_capability(PciAddress a, uint8_t id, uint8_t from = 0);
// Sets memory-space decoding and bus mastering; turns I/O-space decoding
// and INTx (MSI-X instead) off.
void pci_enable(PciAddress a);

constexpr uint8_t kPciCapMsix = 0x11;
constexpr uint8_t kPciCapVendor = 0x09;

}  // namespace veneer::dev
