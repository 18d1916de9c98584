// ExOS's network stack, in the library: Ethernet, ARP (a cache, answers,
// timeouts), IPv4 (checked headers; fragments refused and counted), ICMP
// echo (answered, and ping), and UDP sockets, each bound port its own packet
// filter and receive ring in the kernel (abi.h, "Network"). Nothing here is
// trusted by the kernel or by another env.
//
//   exos::net::init();                         // 10.0.2.15/24 via 10.0.2.2
//   exos::net::UdpSocket s;
//   s.bind(7);
//   uint32_t ip; uint16_t port;
//   int64_t n = s.recvfrom(buf, sizeof buf, &ip, &port, -1);
//   if (n >= 0) s.sendto(ip, port, buf, n);
//
// Single-threaded, polled: every wait calls poll(), which answers ARP and
// ICMP echo requests; a program that waits otherwise calls poll() itself.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "veneer/abi.h"
#include "veneer/handler.h"

namespace exos::net {

constexpr uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d;
}
// "a.b.c.d" (each part 0..255) into *ip; false if it is not one.
bool parse_ipv4(const char* text, uint32_t* ip);

// Addresses in host order. The defaults are QEMU's user network's.
struct Config {
  uint32_t ip = ipv4(10, 0, 2, 15);
  uint32_t gateway = ipv4(10, 0, 2, 2);
  uint32_t netmask = ipv4(255, 255, 255, 0);
};

// Installs the ARP and ICMP filters. ERR_NO_DEVICE without an interface;
// the kernel's refusals (ERR_FILTER_OVERLAP: another env already runs a
// stack for this address). "ip=", "gw=" and "netmask=" (a.b.c.d) on the
// kernel command line take the place of config's.
veneer::Status init(const Config& config = Config{});
const Config& config();
// For an instance of processes (the Linux personality): the env that ran
// init() publishes its configuration and ARP cache as the shared segment
// "exos.net" (needs the process manager), and keeps answering ARP and ICMP
// in its poll(); other processes join() it and then only bind sockets and
// send (their resolve() asks by ARP and waits for the owner to learn the
// answer). ERR_NO_NAME: nobody published. A forked child starts with no
// stack and no sockets of its own.
veneer::Status publish();
veneer::Status join();
// Removes the stack's filters and closes every socket (the addresses are
// free for another env); init() may be called again.
void shutdown();
// Serves what has arrived for the stack itself: ARP requests answered and
// replies learnt, ICMP echo requests answered, echo replies recorded.
void poll();

// What the stack has seen, dropped and answered.
struct Stats {
  uint64_t arp_requests_answered, arp_replies_learnt, arp_dropped;
  uint64_t ip_bad_header, ip_bad_checksum, ip_fragments_refused, ip_not_for_us;
  uint64_t icmp_echo_answered, icmp_dropped;
  uint64_t udp_received, udp_bad_length, udp_bad_checksum, udp_wrong_port, udp_sent;
};
const Stats& stats();

// The MAC address for an IPv4 next hop, asking by ARP when the cache has
// none (3 tries, 300 ms apart): ERR_UNREACHABLE if nobody answers.
veneer::Status resolve(uint32_t ip, uint8_t mac[6]);
// One echo request to `ip`; OK when the matching reply came within
// timeout_ns (*rtt_ns: how long it took), else ERR_TIMEOUT.
veneer::Status ping(uint32_t ip, uint16_t seq, size_t payload, uint64_t timeout_ns, uint64_t* rtt_ns);

constexpr size_t kMaxUdpPayload = veneer::kNetMaxFrame - 14 - 20 - 8;  // 1472
constexpr int kMaxUdpSockets = 6;

class UdpSocket {
 public:
  // Claims `port` (1..65535) on this address: ERR_FILTER_OVERLAP when another
  // env or another socket of this env has it, ERR_BUSY when this socket is bound, ERR_NO_RESOURCES when
  // kMaxUdpSockets are.
  veneer::Status bind(uint16_t port);
  // bind() to a free port of 49152..65535, each tried once, starting after
  // the last one this env was given: ERR_FILTER_OVERLAP when all are taken.
  // (sendto() on an unbound socket does this first.)
  veneer::Status bind_ephemeral();
  veneer::Status close();
  // Sets the default destination for send(); datagrams from other peers
  // are still received (recvfrom says who sent them).
  veneer::Status connect(uint32_t ip, uint16_t port);
  veneer::Status sendto(uint32_t ip, uint16_t port, const void* data, size_t len);
  veneer::Status send(const void* data, size_t len) { return sendto(peer_ip_, peer_port_, data, len); }
  // Copies the next datagram (truncated to cap) and says who sent it.
  // Value: its full length, or a negative Status: ERR_TIMEOUT if none came
  // within timeout_ns (0: do not wait; < 0: wait forever), ERR_BAD_STATE if
  // not bound.
  int64_t recvfrom(void* buf, size_t cap, uint32_t* ip, uint16_t* port, int64_t timeout_ns);
  // Attaches a safe handler (exos/ash.h) to this socket's filter: the
  // kernel runs it on each datagram for the port before the ring, with a
  // 4 KiB buffer of this env's; count 0 detaches it. The kernel's verifier
  // statuses (ERR_HANDLER_*) say why one is refused.
  veneer::Status attach_handler(const veneer::BpfInsn* insns, uint32_t count);
  // Whether a datagram is waiting (poll/select).
  bool readable();
  uint16_t port() const { return port_; }
  // Bound, and not closed since (by close() or shutdown()).
  bool bound() const;

 private:
  int slot_ = -1;
  uint32_t generation_ = 0;
  uint16_t port_ = 0;
  uint32_t peer_ip_ = 0;
  uint16_t peer_port_ = 0;
};

}  // namespace exos::net
