#include "socket.h"

#include "exos/exos.h"
#include "exos/net.h"
#include "linux_abi.h"

namespace exos::linux::sock {
namespace {

using namespace abi;
using veneer::Status;

constexpr uint64_t AF_INET = 2, SOCK_DGRAM = 2, IPPROTO_UDP = 17;
constexpr uint64_t kTypeFlags = 04000 | 02000000;  // SOCK_NONBLOCK, SOCK_CLOEXEC (the caller applies them)
constexpr uint64_t SOL_SOCKET = 1;

struct SockaddrIn {
  uint16_t family;
  uint16_t port;  // network order
  uint32_t addr;  // network order
  uint8_t zero[8];
};
static_assert(sizeof(SockaddrIn) == 16);

uint16_t swap16(uint16_t v) { return uint16_t(v >> 8 | v << 8); }
uint32_t swap32(uint32_t v) { return __builtin_bswap32(v); }

struct Socket {
  bool used;
  net::UdpSocket udp;
  uint32_t peer_ip;
  uint16_t peer_port;
};
Socket sockets[kMaxSockets];

long errno_of(Status s) {
  switch (s) {
    case veneer::OK: return 0;
    case veneer::ERR_FILTER_OVERLAP: return -EADDRINUSE;
    case veneer::ERR_NO_RESOURCES: return -ENOBUFS;
    case veneer::ERR_UNREACHABLE: return -EHOSTUNREACH;
    case veneer::ERR_INVALID_ARGS: return -EINVAL;
    case veneer::ERR_BUSY: return -EAGAIN;
    case veneer::ERR_NO_DEVICE: return -ENETDOWN;
    default: return -EIO;
  }
}

// The address a program passes, or -errno.
long read_addr(const void* addr, uint64_t len, uint32_t* ip, uint16_t* port) {
  if (len < sizeof(SockaddrIn)) return -EINVAL;
  SockaddrIn a;
  memcpy(&a, addr, sizeof a);
  if (a.family != AF_INET) return -EAFNOSUPPORT;
  *ip = swap32(a.addr);
  *port = swap16(a.port);
  return 0;
}
void write_addr(void* addr, uint32_t* addrlen, uint32_t ip, uint16_t port) {
  if (!addr || !addrlen) return;
  SockaddrIn a{uint16_t(AF_INET), swap16(port), swap32(ip), {}};
  uint32_t n = *addrlen < sizeof a ? *addrlen : uint32_t(sizeof a);
  memcpy(addr, &a, n);
  *addrlen = sizeof a;
}
Socket* get(int s) { return s >= 0 && s < kMaxSockets && sockets[s].used ? &sockets[s] : nullptr; }

}  // namespace

long open(uint64_t domain, uint64_t type, uint64_t protocol) {
  if (domain != AF_INET) return -EAFNOSUPPORT;
  if ((type & ~kTypeFlags) != SOCK_DGRAM || (protocol != 0 && protocol != IPPROTO_UDP)) return -EPROTONOSUPPORT;
  if (Status s = net::join(); s != veneer::OK) return -ENETDOWN;
  for (int i = 0; i < kMaxSockets; i++)
    if (!sockets[i].used) {
      sockets[i] = Socket{};
      sockets[i].used = true;
      return i;
    }
  return -ENFILE;
}

void close(int s) {
  if (Socket* k = get(s)) {
    k->udp.close();
    k->used = false;
  }
}

long bind(int s, const void* addr, uint64_t len) {
  Socket* k = get(s);
  if (!k) return -EBADF;
  uint32_t ip;
  uint16_t port;
  if (long e = read_addr(addr, len, &ip, &port)) return e;
  if (ip != 0 && ip != net::config().ip) return -EADDRNOTAVAIL;
  if (k->udp.bound()) return -EINVAL;
  return errno_of(port == 0 ? k->udp.bind_ephemeral() : k->udp.bind(port));  // 0: any free ephemeral port
}

long connect(int s, const void* addr, uint64_t len) {
  Socket* k = get(s);
  if (!k) return -EBADF;
  uint32_t ip;
  uint16_t port;
  if (long e = read_addr(addr, len, &ip, &port)) return e;
  if (ip == 0 || port == 0) return -EINVAL;
  k->peer_ip = ip, k->peer_port = port;
  return 0;
}

long sendto(int s, const void* buf, uint64_t len, const void* addr, uint64_t addrlen) {
  Socket* k = get(s);
  if (!k) return -EBADF;
  uint32_t ip = k->peer_ip;
  uint16_t port = k->peer_port;
  if (addr) {
    if (long e = read_addr(addr, addrlen, &ip, &port)) return e;
  } else if (!ip) {
    return -EDESTADDRREQ;
  }
  if (len > net::kMaxUdpPayload) return -EMSGSIZE;
  if (ip == 0 || port == 0) return -EINVAL;
  Status st = k->udp.sendto(ip, port, buf, len);
  return st == veneer::OK ? long(len) : errno_of(st);
}

long recvfrom(int s, void* buf, uint64_t len, bool nonblock, void* addr, uint32_t* addrlen, bool (*interrupted)()) {
  Socket* k = get(s);
  if (!k) return -EBADF;
  if (!k->udp.bound()) {  // nothing can arrive for a socket with no port yet
    if (nonblock) return -EAGAIN;
  }
  for (;;) {
    uint32_t ip;
    uint16_t port;
    int64_t n = k->udp.bound() ? k->udp.recvfrom(buf, len, &ip, &port, 0) : veneer::ERR_TIMEOUT;
    if (n >= 0) {
      write_addr(addr, addrlen, ip, port);
      return n < int64_t(len) ? n : int64_t(len);  // a datagram longer than the buffer is cut
    }
    if (n != veneer::ERR_TIMEOUT) return errno_of(static_cast<Status>(n));
    if (nonblock) return -EAGAIN;
    if (interrupted()) return -EINTR;
    yield();
  }
}

long name(int s, bool peer, void* addr, uint32_t* addrlen) {
  Socket* k = get(s);
  if (!k) return -EBADF;
  if (peer) {
    if (!k->peer_ip) return -ENOTCONN;
    write_addr(addr, addrlen, k->peer_ip, k->peer_port);
  } else {
    write_addr(addr, addrlen, k->udp.bound() ? net::config().ip : 0, k->udp.bound() ? k->udp.port() : 0);
  }
  return 0;
}

long setsockopt(int s, uint64_t level, uint64_t option) {
  if (!get(s)) return -EBADF;
  // SO_REUSEADDR, SO_BROADCAST, SO_SNDBUF, SO_RCVBUF, SO_REUSEPORT: accepted,
  // with no effect (a port is one env's either way; buffers are the ring).
  if (level == SOL_SOCKET && (option == 2 || option == 6 || option == 7 || option == 8 || option == 15)) return 0;
  return -ENOPROTOOPT;
}

bool readable(int s) {
  Socket* k = get(s);
  return k && k->udp.readable();
}

}  // namespace exos::linux::sock
