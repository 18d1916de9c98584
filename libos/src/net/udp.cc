// UDP sockets (exos/net.h): one packet filter and receive ring per bound port.
#include "exos/filter.h"
#include "exos/layout.h"
#include "stack.h"

namespace exos::net {

using namespace internal;
using namespace veneer;

namespace {

struct Bound {
  bool used;
  uint16_t port;
  Frame handler_buffer;  // pfn 0: none
  uint32_t generation;  // bumped when closed: a stale UdpSocket finds out
  Ring ring;
};
Bound sockets[kMaxUdpSockets];
uint32_t sockets_env;  // whose they are: a forked child's copy is not its own
constexpr uint16_t kFirstEphemeral = 49152;  // to 65535, as Linux's default range
constexpr uint32_t kEphemeralPorts = 65536 - kFirstEphemeral;
uint16_t next_ephemeral = kFirstEphemeral;

void fresh_sockets() {
  if (sockets_env == self_id()) return;
  for (Bound& b : sockets) b = Bound{};
  sockets_env = self_id();
}

constexpr uint64_t kRingPages = 8;  // 15 datagrams waiting at most
constexpr uint64_t kHandlerBufferPage = 8;  // in the socket's slot, after the ring

void release_handler_buffer(Bound& b) {
  if (b.handler_buffer.pfn) frame_free(b.handler_buffer);
  b.handler_buffer = Frame{};
}

// The UDP checksum over the pseudo header and the datagram (RFC 768).
uint16_t udp_checksum(uint32_t src, uint32_t dst, const uint8_t* udp, size_t len) {
  uint32_t sum = (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + 17 + uint32_t(len);
  return fold(sum16(udp, len, sum));
}

}  // namespace

void internal::close_sockets() {
  fresh_sockets();
  for (Bound& b : sockets) {
    if (b.used) ring_close(&b.ring), release_handler_buffer(b), b.generation++;
    b.used = false;
  }
}

Status UdpSocket::bind(uint16_t port) {
  if (!ready()) return ERR_BAD_STATE;
  if (bound()) return ERR_BUSY;
  if (port == 0) return ERR_INVALID_ARGS;
  for (const Bound& b : sockets)  // (bound() made the table this env's)
    if (b.used && b.port == port) return ERR_FILTER_OVERLAP;  // this env's own: as refused as another's
  int i = 0;
  while (i < kMaxUdpSockets && sockets[i].used) i++;
  if (i == kMaxUdpSockets) return ERR_NO_RESOURCES;
  FilterBuilder f;
  f.ipv4_protocol(17).ipv4_dst(config().ip).udp_dst_port(port);
  if (!f.ok()) return ERR_INVALID_ARGS;
  if (Status s = ring_open(&sockets[i].ring, kFirstUdpSlot + i, kRingPages, f.filter()); s != OK) return s;
  sockets[i].used = true;
  sockets[i].port = port;
  slot_ = i;
  generation_ = sockets[i].generation;
  port_ = port;
  return OK;
}

bool UdpSocket::bound() const {
  fresh_sockets();
  return slot_ >= 0 && sockets[slot_].used && sockets[slot_].generation == generation_;
}

Status UdpSocket::bind_ephemeral() {
  Status s = ERR_FILTER_OVERLAP;
  for (uint32_t tries = 0; tries < kEphemeralPorts && s == ERR_FILTER_OVERLAP; tries++) {
    s = bind(next_ephemeral);
    next_ephemeral = next_ephemeral == 65535 ? kFirstEphemeral : uint16_t(next_ephemeral + 1);
  }
  return s;
}

Status UdpSocket::close() {
  if (!bound()) return ERR_BAD_STATE;
  // The kernel detaches the handler with the filter; a refused removal
  // leaves the socket bound (try again).
  if (Status s = ring_close(&sockets[slot_].ring); s != OK) return s;
  release_handler_buffer(sockets[slot_]);
  sockets[slot_].used = false;
  sockets[slot_].generation++;
  slot_ = -1;
  port_ = 0;
  return OK;
}

Status UdpSocket::connect(uint32_t ip, uint16_t port) {
  if (ip == 0 || port == 0) return ERR_INVALID_ARGS;
  peer_ip_ = ip, peer_port_ = port;
  return OK;
}

Status UdpSocket::sendto(uint32_t ip, uint16_t port, const void* data, size_t len) {
  if (!ready()) return ERR_BAD_STATE;
  if (ip == 0 || port == 0 || len > kMaxUdpPayload) return ERR_INVALID_ARGS;
  if (!bound()) {  // an unbound socket sends from an ephemeral port, bound for the answer
    if (Status s = bind_ephemeral(); s != OK) return s;
  }
  uint8_t* u = send_buffer(kDataPage) + 34;
  put16(u, port_);
  put16(u + 2, port);
  put16(u + 4, uint16_t(8 + len));
  put16(u + 6, 0);
  memcpy(u + 8, data, len);
  uint16_t sum = udp_checksum(config().ip, ip, u, 8 + len);
  put16(u + 6, sum ? sum : 0xFFFF);  // 0 means "no checksum"
  Status s = send_ipv4(kDataPage, ip, 17, 8 + len);
  if (s == OK) mutable_stats().udp_sent++;
  return s;
}

Status UdpSocket::attach_handler(const BpfInsn* insns, uint32_t count) {
  if (!bound()) return ERR_BAD_STATE;
  Bound& b = sockets[slot_];
  if (count && !b.handler_buffer.pfn) {
    uint64_t va = b.ring.va + kHandlerBufferPage * kPageSize;
    if (Status s = page_alloc(va, PERM_WRITE | layout::kMarkPrivate, &b.handler_buffer); s != OK) return s;
  }
  SysResult r = sys_net_handler_attach(b.ring.filter, reinterpret_cast<uint64_t>(insns), count,
                                       b.handler_buffer.ref());
  if (r.status != OK || count == 0) release_handler_buffer(b);
  return static_cast<Status>(r.status);
}

bool UdpSocket::readable() {
  poll();
  return bound() && sockets[slot_].ring.peek() != nullptr;
}

int64_t UdpSocket::recvfrom(void* buf, size_t cap, uint32_t* ip, uint16_t* port, int64_t timeout_ns) {
  if (!bound()) return ERR_BAD_STATE;
  Ring& r = sockets[slot_].ring;
  Stats& stats = mutable_stats();
  const uint64_t start = now_ns();
  for (;;) {
    poll();
    for (const NetCell* c; (c = r.peek()) != nullptr; r.pop()) {
      Ipv4 p;
      if (!parse_ipv4(c->data, c->len, &p)) continue;
      const uint8_t* u = p.payload;
      size_t len = p.len >= 8 ? get16(u + 4) : 0;
      if (len < 8 || len > p.len) {
        stats.udp_bad_length++;
        continue;
      }
      if (get16(u + 2) != port_) {  // the filter says it is ours; a ring's pages reused say otherwise
        stats.udp_wrong_port++;
        continue;
      }
      if (get16(u + 6) && udp_checksum(p.src, p.dst, u, len) != 0) {
        stats.udp_bad_checksum++;
        continue;
      }
      size_t n = len - 8;
      memcpy(buf, u + 8, n < cap ? n : cap);
      if (ip) *ip = p.src;
      if (port) *port = get16(u);
      stats.udp_received++;
      r.pop();
      return int64_t(n);
    }
    if (timeout_ns == 0 || (timeout_ns > 0 && now_ns() - start >= uint64_t(timeout_ns))) return ERR_TIMEOUT;
    yield();
  }
}

}  // namespace exos::net
