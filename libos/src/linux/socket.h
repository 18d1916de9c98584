// UDP sockets for Linux programs (AF_INET, SOCK_DGRAM): the personality's
// descriptors of kind K_SOCKET name one of these, each an exos::net::
// UdpSocket in this process (its port is this env's filter in the kernel).
// The process joins the instance's network stack, which the personality's
// init runs (exos/net.h: publish, join), at its first socket. Every call
// returns a Linux result: a value, or -errno.
#pragma once

#include <stdint.h>

namespace exos::linux::sock {

constexpr int kMaxSockets = 6;

// A new socket's index, or -errno: EAFNOSUPPORT (not AF_INET),
// EPROTONOSUPPORT (not UDP), ENETDOWN (no interface or no stack), ENFILE.
long open(uint64_t domain, uint64_t type, uint64_t protocol);
void close(int s);
long bind(int s, const void* addr, uint64_t len);
long connect(int s, const void* addr, uint64_t len);
// addr == nullptr: to the connected peer (EDESTADDRREQ if none).
long sendto(int s, const void* buf, uint64_t len, const void* addr, uint64_t addrlen);
// Waits unless nonblock (EAGAIN), returning -EINTR when interrupted() says
// a signal came. addr/addrlen (may be null) receive the sender.
long recvfrom(int s, void* buf, uint64_t len, bool nonblock, void* addr, uint32_t* addrlen, bool (*interrupted)());
// getsockname (peer false) or getpeername (peer true: ENOTCONN if none).
long name(int s, bool peer, void* addr, uint32_t* addrlen);
long setsockopt(int s, uint64_t level, uint64_t option);
bool readable(int s);

}  // namespace exos::linux::sock
