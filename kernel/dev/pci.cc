#include "kernel/dev/pci.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/dev/ports.h"

namespace veneer::dev {
namespace {

constexpr uint16_t kConfigAddress = 0xCF8, kConfigData = 0xCFC;

void select(PciAddress a, uint8_t offset) {
  arch::outl(kConfigAddress, 0x80000000u | uint32_t(a.bus) << 16 | uint32_t(a.device & 31) << 11 |
                                 uint32_t(a.function & 7) << 8 | (offset & 0xFC));
}

}  // namespace

uint32_t pci_read32(PciAddress a, uint8_t offset) {
  select(a, offset);
  return inl(kConfigData);
}
void pci_write32(PciAddress a, uint8_t offset, uint32_t value) {
  select(a, offset);
  arch::outl(kConfigData, value);
}
uint16_t pci_read16(PciAddress a, uint8_t offset) {
  return static_cast<uint16_t>(pci_read32(a, offset) >> ((offset & 2) * 8));
}
void pci_write16(PciAddress a, uint8_t offset, uint16_t value) {
  uint32_t word = pci_read32(a, offset);
  unsigned shift = (offset & 2) * 8;
  word = (word & ~(0xFFFFu << shift)) | uint32_t(value) << shift;
  pci_write32(a, offset, word);
}
uint8_t pci_read8(PciAddress a, uint8_t offset) {
  return static_cast<uint8_t>(pci_read32(a, offset) >> ((offset & 3) * 8));
}

bool pci_find(uint16_t vendor, const uint16_t* device_ids, int n, PciAddress* out) {
  for (uint8_t dev = 0; dev < 32; dev++) {
    for (uint8_t fn = 0; fn < 8; fn++) {
      PciAddress a{0, dev, fn};
      uint32_t id = pci_read32(a, 0);
      if ((id & 0xFFFF) == 0xFFFF) {
        if (fn == 0) break;  // no device here
        continue;
      }
      for (int i = 0; i < n; i++)
        if ((id & 0xFFFF) == vendor && (id >> 16) == device_ids[i]) {
          *out = a;
          return true;
        }
      if (fn == 0 && !(pci_read8(a, 0x0E) & 0x80)) break;  // not multi-function
    }
  }
  return false;
}

uint64_t pci_bar_address(PciAddress a, uint8_t bar) {
  if (bar > 5) return 0;
  uint32_t lo = pci_read32(a, uint8_t(0x10 + 4 * bar));
  if (lo & 1) return 0;  // I/O space
  uint64_t addr = lo & ~0xFull;
  if (((lo >> 1) & 3) == 2 && bar < 5) addr |= uint64_t(pci_read32(a, uint8_t(0x14 + 4 * bar))) << 32;
  return addr;
}

uint8_t pci_find_capability(PciAddress a, uint8_t id, uint8_t from) {
  if (!(pci_read16(a, 0x06) & (1u << 4))) return 0;  // no capability list
  uint8_t at = from ? pci_read8(a, uint8_t(from + 1)) : pci_read8(a, 0x34);
  for (int steps = 0; steps < 48 && at >= 0x40; steps++) {  // 48 capabilities fill the space
    at &= 0xFC;
    if (pci_read8(a, at) == id) return at;
    at = pci_read8(a, uint8_t(at + 1));
  }
  return 0;
}

void pci_enable(PciAddress a) {
  // Command: memory space (1), bus master (2), INTx disabled (10); I/O space
  // (0) off: the kernel drives the device through memory only, and a legacy
  // I/O window left decoding would let a holder of those ports program the
  // device's DMA.
  uint16_t command = pci_read16(a, 0x04);
  pci_write16(a, 0x04, static_cast<uint16_t>((command | 1u << 1 | 1u << 2 | 1u << 10) & ~1u));
}

}  // namespace veneer::dev
