// QEMU's virtio-net-pci (virtio 1.0, the modern PCI transport), driven by
// the kernel: it owns both queues and every buffer the device may write
// (kNetBufferPages carved at boot), so no address an env names ever reaches
// the device. One receive queue, one transmit queue, no offloads; the
// receive queue interrupts through MSI-X (vector given at init), transmit
// buffers are reclaimed lazily.
#pragma once

#include <stdint.h>

#include "veneer/status.h"

namespace veneer::dev {

constexpr uint32_t kNetRxSlots = 64;
constexpr uint32_t kNetTxSlots = 16;
constexpr uint32_t kNetBufferBytes = 2048;  // the virtio header and one frame
// Queue pages (receive, transmit), then the buffers.
constexpr uint64_t kNetBufferPages = 2 + (kNetRxSlots + kNetTxSlots) * kNetBufferBytes / 4096;

// Finds and starts the device; false (and a log line saying why) if there
// is none or it cannot be driven. `buffers_pa`: kNetBufferPages contiguous
// kernel pages.
bool virtio_net_init(uint64_t buffers_pa, uint8_t vector);
const uint8_t* virtio_net_mac();

// Hands each frame the device has received to `deliver` (frame bytes
// without the virtio header; valid only during the call), then gives the
// buffers back to the device. At most kNetRxSlots frames per call.
uint32_t virtio_net_receive(void (*deliver)(const uint8_t* frame, uint32_t len));
// Copies the frame into a transmit buffer and starts it; ERR_BUSY when every
// transmit buffer is still in flight. The caller checked len (14..1514).
Status virtio_net_send(const uint8_t* frame, uint32_t len);

}  // namespace veneer::dev
