#include "kernel/dev/virtio_net.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/console.h"
#include "kernel/dev/pci.h"
#include "kernel/lapic.h"
#include "kernel/memory.h"

namespace veneer::dev {
namespace {

// The modern transport's structures (virtio 1.0 section 4.1.4).
struct CommonConfig {
  uint32_t device_feature_select, device_feature, driver_feature_select, driver_feature;
  uint16_t msix_config, num_queues;
  uint8_t device_status, config_generation;
  uint16_t queue_select, queue_size, queue_msix_vector, queue_enable, queue_notify_off;
  uint64_t queue_desc, queue_driver, queue_device;
};
static_assert(sizeof(CommonConfig) == 56);
enum : uint8_t { kCfgCommon = 1, kCfgNotify = 2, kCfgDevice = 4 };
enum : uint8_t { kAcknowledge = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8, kFailed = 128 };
constexpr uint32_t kFeatureMac = 1u << 5;       // bit 5
constexpr uint32_t kFeatureVersion1 = 1u << 0;  // bit 32, in the second word
constexpr uint16_t kNoVector = 0xFFFF;

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};
constexpr uint16_t kDescWrite = 2;  // the device writes this buffer
struct UsedElem {
  uint32_t id, len;
};
// One queue in one page: descriptors, the driver's ring, the device's ring.
struct Queue {
  volatile Desc* desc;
  volatile uint16_t* avail;  // flags, idx, ring[size]
  volatile uint16_t* used;   // flags, idx, then UsedElem ring[size]
  volatile uint16_t* notify;
  uint16_t size;
  uint16_t last_used;  // the device's used index we have consumed up to
  uint16_t next_avail;
  uint64_t page_pa;
  uint64_t buffers_pa;

  volatile UsedElem* used_ring() const { return reinterpret_cast<volatile UsedElem*>(used + 2); }
  uint8_t* buffer(uint32_t i) const { return phys_to_virt<uint8_t>(buffers_pa + uint64_t(i) * kNetBufferBytes); }
  void offer(uint16_t id, uint32_t len, uint16_t flags) {
    desc[id].addr = buffers_pa + uint64_t(id) * kNetBufferBytes;
    desc[id].len = len;
    desc[id].flags = flags;
    desc[id].next = 0;
    avail[2 + next_avail % size] = id;
    asm volatile("" ::: "memory");  // the entry before the index (x86 keeps stores in order)
    avail[1] = ++next_avail;
  }
  void kick(uint16_t index) {
    asm volatile("mfence" ::: "memory");  // the index is visible before the device looks
    *notify = index;
  }
};

constexpr uint32_t kHeaderBytes = 12;  // struct virtio_net_hdr with VERSION_1 (num_buffers included)

volatile CommonConfig* common;
Queue rx, tx;
uint8_t mac[6];
bool tx_busy[kNetTxSlots];

bool setup_queue(uint16_t index, Queue* q, uint16_t size, uint64_t page_pa, uint64_t buffers_pa, uint16_t vector,
                 uint64_t notify_base, uint32_t notify_multiplier) {
  common->queue_select = index;
  if (common->queue_size < size) return false;
  common->queue_size = size;
  auto* page = phys_to_virt<uint64_t>(page_pa);
  for (uint64_t i = 0; i < kPageSize / 8; i++) page[i] = 0;  // empty rings
  q->size = size;
  q->page_pa = page_pa;
  q->buffers_pa = buffers_pa;
  q->desc = phys_to_virt<volatile Desc>(page_pa);
  q->avail = phys_to_virt<volatile uint16_t>(page_pa + 1024);
  q->used = phys_to_virt<volatile uint16_t>(page_pa + 2048);
  q->last_used = q->next_avail = 0;
  common->queue_desc = page_pa;
  common->queue_driver = page_pa + 1024;
  common->queue_device = page_pa + 2048;
  common->queue_msix_vector = vector;
  if (common->queue_msix_vector != vector) return false;
  q->notify = phys_to_virt<volatile uint16_t>(notify_base + uint64_t(common->queue_notify_off) * notify_multiplier);
  common->queue_enable = 1;
  return true;
}

bool fail(const char* why) {
  if (common) common->device_status = kFailed;
  kprintf("net: virtio-net not used: %s\n", why);
  common = nullptr;
  return false;
}

}  // namespace

bool virtio_net_init(uint64_t buffers_pa, uint8_t vector) {
  static const uint16_t kIds[] = {0x1000, 0x1041};  // transitional, modern-only
  PciAddress pci;
  if (!pci_find(0x1AF4, kIds, 2, &pci)) return false;  // no device: nothing to say

  // The transport's regions, each in a memory BAR the direct map reaches.
  uint64_t common_pa = 0, notify_pa = 0, device_pa = 0;
  uint32_t notify_multiplier = 0;
  for (uint8_t cap = pci_find_capability(pci, kPciCapVendor); cap; cap = pci_find_capability(pci, kPciCapVendor, cap)) {
    uint8_t type = pci_read8(pci, uint8_t(cap + 3));
    uint64_t bar = pci_bar_address(pci, pci_read8(pci, uint8_t(cap + 4)));
    uint64_t pa = bar + pci_read32(pci, uint8_t(cap + 8));
    if (!bar || pa + pci_read32(pci, uint8_t(cap + 12)) > direct_map_end) continue;
    if (type == kCfgCommon && !common_pa) common_pa = pa;
    if (type == kCfgDevice && !device_pa) device_pa = pa;
    if (type == kCfgNotify && !notify_pa) {
      notify_pa = pa;
      notify_multiplier = pci_read32(pci, uint8_t(cap + 16));
    }
  }
  if (!common_pa || !notify_pa || !device_pa) return fail("no modern (virtio 1.0) configuration in reach");
  uint8_t msix = pci_find_capability(pci, kPciCapMsix);
  if (!msix) return fail("no MSI-X");
  uint32_t table = pci_read32(pci, uint8_t(msix + 4));
  uint64_t table_pa = pci_bar_address(pci, table & 7) + (table & ~7u);
  if (table_pa < 16 || table_pa + 16 > direct_map_end) return fail("MSI-X table out of reach");
  pci_enable(pci);

  common = phys_to_virt<volatile CommonConfig>(common_pa);
  common->device_status = 0;  // reset
  for (int i = 0; i < 1000000 && common->device_status != 0; i++) arch::pause();
  if (common->device_status != 0) return fail("the device does not reset");
  common->device_status = kAcknowledge;
  common->device_status = kAcknowledge | kDriver;
  common->device_feature_select = 1;
  if (!(common->device_feature & kFeatureVersion1)) return fail("no VIRTIO_F_VERSION_1");
  common->device_feature_select = 0;
  if (!(common->device_feature & kFeatureMac)) return fail("no MAC address");
  common->driver_feature_select = 0;
  common->driver_feature = kFeatureMac;
  common->driver_feature_select = 1;
  common->driver_feature = kFeatureVersion1;
  common->device_status = kAcknowledge | kDriver | kFeaturesOk;
  if (!(common->device_status & kFeaturesOk)) return fail("features refused");

  // MSI-X entry 0: the receive queue's interrupt, to this CPU, fixed delivery.
  auto* entry = phys_to_virt<volatile uint32_t>(table_pa);
  entry[0] = 0xFEE00000u | (lapic_id() & 0xFF) << 12;
  entry[1] = 0;
  entry[2] = vector;
  entry[3] = 0;  // unmasked
  pci_write16(pci, uint8_t(msix + 2), static_cast<uint16_t>((pci_read16(pci, uint8_t(msix + 2)) | 1u << 15) & ~(1u << 14)));
  common->msix_config = kNoVector;

  const uint64_t rx_buffers = buffers_pa + 2 * kPageSize;
  const uint64_t tx_buffers = rx_buffers + uint64_t(kNetRxSlots) * kNetBufferBytes;
  if (!setup_queue(0, &rx, kNetRxSlots, buffers_pa, rx_buffers, 0, notify_pa, notify_multiplier) ||
      !setup_queue(1, &tx, kNetTxSlots, buffers_pa + kPageSize, tx_buffers, kNoVector, notify_pa, notify_multiplier))
    return fail("queues refused");
  for (uint16_t i = 0; i < kNetRxSlots; i++) rx.offer(i, kNetBufferBytes, kDescWrite);
  auto* config = phys_to_virt<volatile uint8_t>(device_pa);
  for (int i = 0; i < 6; i++) mac[i] = config[i];
  common->device_status = kAcknowledge | kDriver | kFeaturesOk | kDriverOk;
  rx.kick(0);
  kprintf("net: virtio-net at %x:%x.%x, MAC %x:%x:%x:%x:%x:%x, interrupt vector %x\n", pci.bus, pci.device,
          pci.function, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], vector);
  return true;
}

const uint8_t* virtio_net_mac() { return common ? mac : nullptr; }

uint32_t virtio_net_receive(void (*deliver)(const uint8_t* frame, uint32_t len)) {
  if (!common) return 0;
  uint32_t n = 0;
  while (n < kNetRxSlots && rx.last_used != rx.used[1]) {
    asm volatile("" ::: "memory");  // the element after the index
    volatile UsedElem& u = rx.used_ring()[rx.last_used % rx.size];
    uint32_t id = u.id, len = u.len;
    rx.last_used++;
    if (id >= kNetRxSlots) continue;  // a device bug: nothing to give back
    if (len > kHeaderBytes && len <= kNetBufferBytes) deliver(rx.buffer(id) + kHeaderBytes, len - kHeaderBytes);
    rx.offer(static_cast<uint16_t>(id), kNetBufferBytes, kDescWrite);
    n++;
  }
  if (n) rx.kick(0);
  return n;
}

Status virtio_net_send(const uint8_t* frame, uint32_t len) {
  if (!common) return ERR_NO_DEVICE;
  while (tx.last_used != tx.used[1]) {  // reclaim what the device has sent
    uint32_t id = tx.used_ring()[tx.last_used % tx.size].id;
    if (id < kNetTxSlots) tx_busy[id] = false;
    tx.last_used++;
  }
  uint16_t id = 0;
  while (id < kNetTxSlots && tx_busy[id]) id++;
  if (id == kNetTxSlots) return ERR_BUSY;
  uint8_t* b = tx.buffer(id);
  for (uint32_t i = 0; i < kHeaderBytes; i++) b[i] = 0;
  arch::copy_bytes(b + kHeaderBytes, frame, len);
  tx_busy[id] = true;
  tx.offer(id, kHeaderBytes + len, 0);
  tx.kick(1);
  return OK;
}

}  // namespace veneer::dev
