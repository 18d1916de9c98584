#include "kernel/netif.h"

#include "kernel/arch/x86_64/cpu.h"
#include "kernel/console.h"
#include "kernel/dev/virtio_net.h"
#include "kernel/env.h"
#include "kernel/irq.h"
#include "kernel/memory.h"
#include "kernel/mm/code_pages.h"
#include "kernel/net/filter_set.h"
#include "kernel/net/handler.h"

namespace veneer {
namespace {

// Generated code lives in sealed code pages, from two separate budgets so
// that handlers can never leave the filter set without room to recompile
// (removing a dying env's filters must always succeed). The filter set holds
// at most two trees at a time (the running one and its replacement; 128
// filters of 16 atoms made about 30 KB of code, measured); each handler
// one buffer of at most kHandlerCodePages.
constexpr uint64_t kFilterCodePages = 48;
constexpr uint64_t kHandlerCodePages = 8;  // each; 8 handlers: 64 pages
struct CodeBudget {
  uint64_t pages_left;
  uint64_t max_pages;  // per buffer
};
CodeBudget filter_budget{kFilterCodePages, kFilterCodePages};
CodeBudget handler_budget{kNetMaxHandlers * kHandlerCodePages, kHandlerCodePages};
constexpr int kCodeBuffers = 4 + kNetMaxHandlers;
struct CodeSlot {
  mm::CodeBuffer buffer;
  CodeBudget* budget;
};
CodeSlot code_slots[kCodeBuffers];

uint8_t* code_allocate(void* context, size_t bytes, void** handle) {
  auto* budget = static_cast<CodeBudget*>(context);
  const uint64_t pages = (bytes + kPageSize - 1) / kPageSize;
  if (pages > budget->max_pages || pages > budget->pages_left) return nullptr;
  for (CodeSlot& c : code_slots) {
    if (c.buffer.pages) continue;
    if (code_alloc(bytes, &c.buffer) != OK) return nullptr;
    c.budget = budget;
    budget->pages_left -= c.buffer.pages;
    *handle = &c;
    return code_bytes(c.buffer);
  }
  return nullptr;
}
const uint8_t* code_seal_fn(void*, void* handle) {
  auto* c = static_cast<CodeSlot*>(handle);
  return code_seal(&c->buffer) == OK ? reinterpret_cast<const uint8_t*>(c->buffer.exec_va) : nullptr;
}
void code_release(void*, void* handle) {
  auto* c = static_cast<CodeSlot*>(handle);
  c->budget->pages_left += c->buffer.pages;
  code_free(&c->buffer);
  *c = CodeSlot{};
}
const net::CodeMemory filter_code{&filter_budget, code_allocate, code_seal_fn, code_release};
const net::CodeMemory handler_code{&handler_budget, code_allocate, code_seal_fn, code_release};

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
  uint32_t cell;   // the cell head fills: head mod cells, kept apart so head may wrap
  bool upcall;
  int8_t handler = -1;  // index in `handlers`, -1: none
  uint32_t pfn[kNetRingMaxFrames];
  uint64_t guard[kNetRingMaxFrames];
};
Ring rings[kMaxRings];

// Envs that died while their filters could not be removed (recompiling
// found no contiguous code memory): removed at the next install, removal
// or attach, before anything else. Their frames meanwhile have no ring.
uint32_t zombies[kMaxRings];
uint32_t nzombies;
void reap_zombies() {
  for (uint32_t i = 0; i < nzombies;)
    if (filters.remove_all(zombies[i]) == OK) zombies[i] = zombies[--nzombies];
    else i++;
}

// Safe handlers: verified and compiled when attached, run in the receive
// interrupt on the frames their filter accepts (never re-entered: one
// stack serves them all). The verifier and JIT are used by one attach at a
// time; a loaded handler keeps no pointer into the program it came from
// that the kernel uses (the interpreter is never run here).
struct Attached {
  uint32_t owner;  // env id; 0: free
  uint32_t buffer_pfn;
  uint64_t buffer_guard;
  net::Handler handler;
};
Attached handlers[kNetMaxHandlers];
net::Verifier verifier;
net::HandlerJit jit;
alignas(16) uint8_t handler_stack[kHandlerStackSize];
Ring* running;  // the ring whose handler is running (its wake-ups)

bool frame_still(uint32_t pfn, uint64_t guard, uint32_t owner) {
  const FrameInfo& f = frames.info(pfn);
  return f.owner == owner && f.guard == guard;
}

// What a handler's helpers reach: a reply passes the same checks as
// net_send; a wake-up is counted in the ring and raises the env's upcall.
int64_t handler_send(void*, const uint8_t* frame, uint32_t len) {
  if (netif_send(frame, len) != OK) return -1;
  kernel_info->net.tx_frames--;  // counted as the handler's, below
  kernel_info->net.handler_sent++;
  return 0;
}
void handler_wake(void*, uint64_t value);
const net::HandlerHost handler_host{nullptr, handler_send, handler_wake};

// The byte at `offset` of the ring, or nullptr if its frame is no longer
// the owner's (freed, revoked or given away since the filter was installed).
uint8_t* ring_bytes(const Ring& r, uint64_t offset) {
  uint64_t i = offset / kPageSize;
  if (!frame_still(r.pfn[i], r.guard[i], r.owner)) return nullptr;
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
  if (id >= kMaxRings || !rings[id].owner) {  // a filter whose ring is gone (a dead env's, see zombies)
    info.rx_ring_full++;
    return;
  }
  Ring& r = rings[id];
  if (len > kNetMaxFrame) len = kNetMaxFrame;
  // The filter's handler first: it may deal with the frame itself.
  if (r.handler >= 0) {
    Attached& a = handlers[r.handler];
    if (frame_still(a.buffer_pfn, a.buffer_guard, r.owner)) {
      running = &r;
      uint64_t result = a.handler.run(frame, len, phys_to_virt<uint8_t>(uint64_t(a.buffer_pfn) * kPageSize),
                                      handler_stack, &handler_host);
      running = nullptr;
      if (result == VENEER_ASH_CONSUMED) {
        info.rx_handled++;
        return;
      }
    }
  }
  auto* h = reinterpret_cast<volatile NetRingHeader*>(ring_bytes(r, 0));
  // The cell after the last filled: a cell never straddles frames (two per page).
  uint8_t* cell = h ? ring_bytes(r, (uint64_t(r.cell) + 1) * kNetCellBytes) : nullptr;
  if (!cell || r.head - h->tail >= r.cells) {  // full, a lying tail, or the ring is gone
    info.rx_ring_full++;
    if (h) h->dropped = h->dropped + 1;
    return;
  }
  auto* c = reinterpret_cast<NetCell*>(cell);
  c->len = len;
  arch::copy_bytes(c->data, frame, len);
  asm volatile("" ::: "memory");  // the cell before the head that publishes it
  h->head = ++r.head;
  r.cell = r.cell + 1 == r.cells ? 0 : r.cell + 1;
  info.rx_delivered++;
  if (r.upcall)
    if (Env* e = env_from_id(r.owner)) irq_mark_pending(e, kNetInterruptBit);
}

void handler_wake(void*, uint64_t value) {
  Ring& r = *running;
  if (auto* h = reinterpret_cast<volatile NetRingHeader*>(ring_bytes(r, 0))) {
    h->wakes = h->wakes + 1;
    h->wake_value = value;
  }
  if (Env* e = env_from_id(r.owner)) irq_mark_pending(e, kNetInterruptBit);
}

void detach(Ring& r) {
  if (r.handler < 0) return;
  handlers[r.handler].handler.unload();
  handlers[r.handler].owner = 0;
  r.handler = -1;
}

// The ring row of e's filter `id`, or why not.
Status own_ring(Env* e, uint64_t id, Ring** out) {
  if (id >= kMaxRings || !filters.installed(static_cast<uint32_t>(id))) return ERR_NOT_FOUND;
  if (rings[id].owner != e->id) return ERR_ACCESS_DENIED;
  *out = &rings[id];
  return OK;
}

}  // namespace

void netif_init(uint64_t buffers_pa) {
  if (!dev::virtio_net_init(buffers_pa, kNetVector)) return;
  if (!filters.init(&filter_code)) {
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
  reap_zombies();
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
  r.head = r.cell = 0;
  r.upcall = flags & NET_RING_UPCALL;
  r.handler = -1;
  for (uint32_t i = 0; i < ring.count; i++) {
    r.pfn[i] = static_cast<uint32_t>(ring.pfn[i]);
    r.guard[i] = frames.info(ring.pfn[i]).guard;
  }
  auto* h = reinterpret_cast<NetRingHeader*>(ring_bytes(r, 0));
  *h = NetRingHeader{0, 0, r.cells, 0, 0, 0};
  return OK;
}

Status netif_filter_remove(Env* e, uint64_t id) {
  reap_zombies();
  if (id >= kMaxRings || !filters.installed(static_cast<uint32_t>(id))) return ERR_NOT_FOUND;
  if (Status s = filters.remove(e->id, static_cast<uint32_t>(id)); s != OK) return s;
  detach(rings[id]);
  rings[id] = Ring{};
  return OK;
}

Status netif_handler_attach(Env* e, uint64_t id, const BpfInsn* prog, uint32_t n, uint64_t buffer_pfn) {
  reap_zombies();
  Ring* r;
  if (Status s = own_ring(e, id, &r); s != OK) return s;
  if (r->handler >= 0) return ERR_BUSY;
  int free_slot = -1;
  for (int i = 0; i < int(kNetMaxHandlers); i++) {
    if (handlers[i].owner == e->id) return ERR_NO_RESOURCES;  // one per env
    if (!handlers[i].owner && free_slot < 0) free_slot = i;
  }
  if (free_slot < 0) return ERR_NO_RESOURCES;
  Attached& a = handlers[free_slot];
  if (Status s = a.handler.load(prog, n, kPageSize, verifier, jit, &handler_code); s != OK) return s;
  a.owner = e->id;
  a.buffer_pfn = static_cast<uint32_t>(buffer_pfn);
  a.buffer_guard = frames.info(buffer_pfn).guard;
  r->handler = static_cast<int8_t>(free_slot);
  kprintf("net: env %x attached a handler to filter %lu: %u instructions, %lu bytes of code at %lx\n", e->id, id, n,
          a.handler.code_size(), reinterpret_cast<uint64_t>(a.handler.entry()));
  return OK;
}

Status netif_handler_detach(Env* e, uint64_t id) {
  Ring* r;
  if (Status s = own_ring(e, id, &r); s != OK) return s;
  if (r->handler < 0) return ERR_BAD_STATE;
  detach(*r);
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

uint64_t netif_check(void (*report)(const char* what, uint64_t a, uint64_t b)) {
  uint64_t violations = 0;
  auto expect = [&](bool ok, const char* what, uint64_t a, uint64_t b) {
    if (!ok) violations++, report(what, a, b);
  };
  uint32_t handler_rings[kNetMaxHandlers] = {};
  for (uint32_t id = 0; id < kMaxRings; id++) {
    const Ring& r = rings[id];
    if (!r.owner) continue;
    expect(env_from_id(r.owner) != nullptr, "a receive ring's env is dead", id, r.owner);
    expect(filters.installed(id) && filters.owner(id) == r.owner, "a ring without its env's filter", id, r.owner);
    expect(r.count >= 1 && r.count <= kNetRingMaxFrames && r.cells == 2 * r.count - 1, "a ring's size", id, r.count);
    if (r.handler >= 0) {
      expect(r.handler < int(kNetMaxHandlers) && handlers[r.handler].owner == r.owner, "a ring's handler is not its env's",
             id, uint64_t(r.handler));
      if (r.handler < int(kNetMaxHandlers)) handler_rings[r.handler]++;
    }
  }
  for (uint32_t h = 0; h < kNetMaxHandlers; h++) {
    if (!handlers[h].owner) continue;
    expect(env_from_id(handlers[h].owner) != nullptr, "a handler's env is dead", h, handlers[h].owner);
    expect(handler_rings[h] == 1 && handlers[h].handler.loaded(), "a handler not on exactly one ring", h,
           handler_rings[h]);
  }
  for (uint32_t id = 0; id < kMaxRings; id++) {
    if (!filters.installed(id) || rings[id].owner == filters.owner(id)) continue;
    bool zombie = false;
    for (uint32_t z = 0; z < nzombies; z++) zombie |= zombies[z] == filters.owner(id);
    expect(zombie, "a filter without its ring", id, filters.owner(id));
  }
  const NetInfo& n = kernel_info->net;
  expect(n.rx_frames == n.rx_delivered + n.rx_unclaimed + n.rx_ring_full + n.rx_handled,
         "received frames not each counted once", n.rx_frames,
         n.rx_delivered + n.rx_unclaimed + n.rx_ring_full + n.rx_handled);
  return violations;
}

void netif_env_gone(Env* e) {
  for (Ring& r : rings)
    if (r.owner == e->id) detach(r), r = Ring{};
  // If recompiling fails the filters stay in the tree, but with no ring
  // (what they accept is dropped), until reap_zombies removes them.
  if (filters.remove_all(e->id) != OK && nzombies < kMaxRings) zombies[nzombies++] = e->id;
}

}  // namespace veneer
