#include "kernel/netif.h"

#include "kernel/console.h"
#include "kernel/dev/virtio_net.h"
#include "kernel/env.h"
#include "kernel/memory.h"
#include "kernel/mm/code_pages.h"
#include "kernel/net/filter_set.h"

namespace veneer {
namespace {

// The filter set's generated code lives in sealed code pages: it holds at
// most two buffers at a time (the running tree and the one replacing it).
constexpr int kCodeBuffers = 4;
mm::CodeBuffer code_buffers[kCodeBuffers];

uint8_t* code_allocate(void*, size_t bytes, void** handle) {
  for (mm::CodeBuffer& b : code_buffers) {
    if (b.pages) continue;
    if (code_alloc(bytes, &b) != OK) return nullptr;
    *handle = &b;
    return code_bytes(b);
  }
  return nullptr;
}
const uint8_t* code_seal_fn(void*, void* handle) {
  auto* b = static_cast<mm::CodeBuffer*>(handle);
  return code_seal(b) == OK ? reinterpret_cast<const uint8_t*>(b->exec_va) : nullptr;
}
void code_release(void*, void* handle) {
  auto* b = static_cast<mm::CodeBuffer*>(handle);
  code_free(b);
  *b = mm::CodeBuffer{};
}
const net::CodeMemory kernel_code{nullptr, code_allocate, code_seal_fn, code_release};

net::FilterSet filters;
bool present;

// A receive ring, by filter id. Filter ids are the lowest free, so with at
// most kMaxRings filters installed every id has a row.
constexpr uint32_t kMaxRings = 128;
struct Ring {
  uint32_t owner;  // env id; 0: the row is free
  uint32_t count;  // frames
  uint32_t cells;
  uint32_t head;   // the kernel's own copy
  bool upcall;
  uint32_t pfn[kNetRingMaxFrames];
  uint64_t guard[kNetRingMaxFrames];
};
Ring rings[kMaxRings];

// The byte at `offset` of the ring, or nullptr if its frame is no longer
// the owner's (freed, revoked or given away since the filter was installed).
uint8_t* ring_bytes(const Ring& r, uint64_t offset) {
  uint64_t i = offset / kPageSize;
  const FrameInfo& f = frames.info(r.pfn[i]);
  if (f.owner != r.owner || f.guard != r.guard[i]) return nullptr;
  return phys_to_virt<uint8_t>(uint64_t(r.pfn[i]) * kPageSize + offset % kPageSize);
}

void deliver(const uint8_t* frame, uint32_t len) {
  NetInfo& info = kernel_info->net;
  info.rx_frames++;
  uint32_t id = filters.classify(frame, len);
  if (id == kFilterNoMatch) {
    info.rx_unclaimed++;
    return;
  }
  Ring& r = rings[id];
  if (!r.owner) {  // a filter whose ring is gone (its removal could not recompile)
    info.rx_ring_full++;
    return;
  }
  auto* h = reinterpret_cast<volatile NetRingHeader*>(ring_bytes(r, 0));
  // The cell after the last filled: a cell never straddles frames (two per page).
  uint8_t* cell = h ? ring_bytes(r, (uint64_t(r.head % r.cells) + 1) * kNetCellBytes) : nullptr;
  if (!cell || r.head - h->tail >= r.cells) {  // full, a lying tail, or the ring is gone
    info.rx_ring_full++;
    if (h) h->dropped = h->dropped + 1;
    return;
  }
  if (len > kNetMaxFrame) len = kNetMaxFrame;
  auto* c = reinterpret_cast<NetCell*>(cell);
  c->len = len;
  for (uint32_t i = 0; i < len; i++) c->data[i] = frame[i];
  asm volatile("" ::: "memory");  // the cell before the head that publishes it
  h->head = ++r.head;
  info.rx_delivered++;
  if (r.upcall)
    if (Env* e = env_from_id(r.owner)) e->irq_pending |= kNetInterruptBit;
}

}  // namespace

void netif_init(uint64_t buffers_pa) {
  if (!dev::virtio_net_init(buffers_pa, kNetVector)) return;
  if (!filters.init(&kernel_code)) {
    kprintf("net: no code memory for the packet filters; the network is not used\n");
    return;
  }
  present = true;
  const uint8_t* mac = dev::virtio_net_mac();
  for (int i = 0; i < 6; i++) kernel_info->net.mac[i] = mac[i];
  kernel_info->net.present = 1;
}

bool netif_present() { return present; }

uint32_t netif_filters_of(const Env* e) {
  uint32_t n = 0;
  for (const Ring& r : rings) n += r.owner == e->id;
  return n;
}

Status netif_filter_install(Env* e, const Filter& f, const NetRingPfns& ring, uint64_t flags, uint32_t* id) {
  if (netif_filters_of(e) >= kNetMaxFiltersPerEnv) return ERR_NO_RESOURCES;
  if (Status s = filters.install(e->id, f, id); s != OK) return s;
  if (*id >= kMaxRings) {
    filters.remove(e->id, *id);
    return ERR_NO_RESOURCES;
  }
  Ring& r = rings[*id];
  r.owner = e->id;
  r.count = ring.count;
  r.cells = 2 * ring.count - 1;
  r.head = 0;
  r.upcall = flags & NET_RING_UPCALL;
  for (uint32_t i = 0; i < ring.count; i++) {
    r.pfn[i] = static_cast<uint32_t>(ring.pfn[i]);
    r.guard[i] = frames.info(ring.pfn[i]).guard;
  }
  auto* h = reinterpret_cast<NetRingHeader*>(ring_bytes(r, 0));
  *h = NetRingHeader{0, 0, r.cells, 0};
  return OK;
}

Status netif_filter_remove(Env* e, uint64_t id) {
  if (id >= kMaxRings || !filters.installed(static_cast<uint32_t>(id))) return ERR_NOT_FOUND;
  if (Status s = filters.remove(e->id, static_cast<uint32_t>(id)); s != OK) return s;
  rings[id] = Ring{};
  return OK;
}

Status netif_send(const uint8_t* frame, uint64_t len) {
  if (len < 14 || len > kNetMaxFrame) return ERR_INVALID_ARGS;
  const uint8_t* mac = kernel_info->net.mac;
  for (int i = 0; i < 6; i++)
    if (frame[6 + i] != mac[i]) return ERR_ACCESS_DENIED;  // no env speaks for another host
  Status s = dev::virtio_net_send(frame, static_cast<uint32_t>(len));
  if (s == OK) kernel_info->net.tx_frames++;
  return s;
}

void netif_receive() {
  if (present) dev::virtio_net_receive(deliver);
}

void netif_env_gone(Env* e) {
  for (Ring& r : rings)
    if (r.owner == e->id) r = Ring{};
  // If recompiling fails the filters stay in the tree, but with no ring:
  // what they accept is dropped.
  filters.remove_all(e->id);
}

}  // namespace veneer
