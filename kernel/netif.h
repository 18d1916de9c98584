// The network interface as a protected resource (abi.h, "Network"): the
// kernel drives the device (kernel/dev/virtio_net) and demultiplexes every
// arriving frame with the merged, compiled packet filters (kernel/net/
// filter_set) to the receive ring of the env whose filter accepts it. It
// keeps no protocol state: ARP, IP and UDP are the library OS's.
#pragma once

#include <stdint.h>

#include "veneer/abi.h"
#include "veneer/filter.h"
#include "veneer/handler.h"

namespace veneer {

struct Env;

constexpr uint8_t kNetVector = 0x40;  // the device's MSI-X interrupt

// Boot, after code_pages_init: compiles the empty filter set and starts the
// device if the machine has one (kernel_info->net says what was found).
void netif_init(uint64_t buffers_pa);
bool netif_present();

// A ring's frames, checked by the caller (owned by the env, writable).
struct NetRingPfns {
  uint32_t count;
  uint64_t pfn[kNetRingMaxFrames];
};
// Installs the filter for e with its ring (written through the direct map
// from now on; frames the caller checked) and writes the ring's header.
// Errors: FilterSet::install's, ERR_NO_RESOURCES past kNetMaxFiltersPerEnv.
Status netif_filter_install(Env* e, const Filter& f, const NetRingPfns& ring, uint64_t flags, uint32_t* id);
// ERR_NOT_FOUND: no such filter; ERR_ACCESS_DENIED: another env's.
Status netif_filter_remove(Env* e, uint64_t id);
// Attaches a safe handler to e's filter `id` with the frame `buffer_pfn`
// (the caller checked it is e's) as its buffer: verified and compiled here.
// `prog` is read during the call only. ERR_NOT_FOUND / ERR_ACCESS_DENIED as
// for remove; ERR_BUSY: the filter has a handler; ERR_NO_RESOURCES: e has a
// handler on another filter, or kNetMaxHandlers are attached; the
// verifier's ERR_HANDLER_*; ERR_NO_MEMORY: no code memory.
Status netif_handler_attach(Env* e, uint64_t id, const BpfInsn* prog, uint32_t n, uint64_t buffer_pfn);
// ERR_NOT_FOUND / ERR_ACCESS_DENIED as for remove; ERR_BAD_STATE: no handler.
Status netif_handler_detach(Env* e, uint64_t id);
// ERR_INVALID_ARGS: not 14..1514 bytes; ERR_ACCESS_DENIED: the source MAC is
// not the interface's; ERR_BUSY: no transmit buffer free.
Status netif_send(const uint8_t* frame, uint64_t len);
// The receive interrupt: drains the device.
void netif_receive();
// Removes every filter of an env (its death).
void netif_env_gone(Env* e);
// How many filters e holds.
uint32_t netif_filters_of(const Env* e);
// The invariant scan's part (kernel/invariants.cc): every ring and handler
// belongs to a live env and to an installed filter of that env, each
// handler to exactly one ring, and every received frame was counted once.
// Returns the violations, each reported.
uint64_t netif_check(void (*report)(const char* what, uint64_t a, uint64_t b));

}  // namespace veneer
