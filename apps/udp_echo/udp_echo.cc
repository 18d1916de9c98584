// udp_echo: a UDP echo server (RFC 862) on ExOS's network stack, run as
// init. Every datagram to port 7 goes back to its sender, byte for byte;
// pings are answered while it waits. With "ash=1" on the kernel command line
// a safe handler (echo_handler.c) answers in the kernel's receive path
// instead, without this env; what it passes on, the env answers. With
// "count=N" it powers off after N datagrams and reports the counters.
// With "peer=a.b.c.d" it is the client instead: it sends count datagrams
// of random sizes to that address's port 7 and checks every echo.
#include "exos/exos.h"
#include "exos/handler_elf.h"
#include "exos/net.h"

extern "C" const uint8_t echo_handler_object[], echo_handler_object_end[];

namespace {

char buf[2048];

uint64_t cmdline_number(const char* key, uint64_t fallback) {
  char v[24];
  if (!exos::cmdline_get(key, v, sizeof v)) return fallback;
  uint64_t n = 0;
  for (const char* p = v; *p >= '0' && *p <= '9'; p++) n = n * 10 + uint64_t(*p - '0');
  return n;
}

void report() {
  const exos::net::Stats& s = exos::net::stats();
  const veneer::NetInfo& k = exos::kernel_info().net;
  exos::printf("udp_echo: udp received %lu sent %lu bad length %lu bad checksum %lu; ip bad header %lu bad "
               "checksum %lu fragments %lu; arp answered %lu dropped %lu; icmp answered %lu dropped %lu\n",
               s.udp_received, s.udp_sent, s.udp_bad_length, s.udp_bad_checksum, s.ip_bad_header,
               s.ip_bad_checksum, s.ip_fragments_refused, s.arp_requests_answered, s.arp_dropped,
               s.icmp_echo_answered, s.icmp_dropped);
  exos::printf("udp_echo: kernel rx %lu delivered %lu unclaimed %lu ring full %lu tx %lu; handler consumed %lu "
               "sent %lu\n", k.rx_frames, k.rx_delivered, k.rx_unclaimed, k.rx_ring_full, k.tx_frames, k.rx_handled,
               k.handler_sent);
}

// The client: count datagrams to peer:7, each echo checked byte for byte.
[[noreturn]] void client(exos::net::UdpSocket& sock, uint32_t peer, uint64_t count) {
  static uint8_t out[exos::net::kMaxUdpPayload], in[2048];
  uint64_t seed = 0x9E3779B97F4A7C15ull;
  for (uint64_t i = 0; i < count; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    size_t n = (seed >> 33) % (exos::net::kMaxUdpPayload + 1);
    for (size_t j = 0; j < n; j++) out[j] = uint8_t(seed >> (j % 7 * 8)) ^ uint8_t(j);
    veneer::Status s = sock.sendto(peer, 7, out, n);
    uint32_t from;
    uint16_t port;
    int64_t got = s == veneer::OK ? sock.recvfrom(in, sizeof in, &from, &port, 5'000'000'000) : int64_t(s);
    if (got != int64_t(n) || from != peer || port != 7 || memcmp(in, out, n) != 0) {
      exos::printf("udp_echo: datagram %lu (%lu bytes) to the peer: %s\n", i, n,
                   got < 0 ? veneer::status_name(got) : "a different answer");
      exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffFailure);
    }
  }
  exos::printf("udp_echo: %lu datagrams echoed by the peer, byte-exact\n", count);
  report();
  exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffSuccess);
  for (;;) {}
}

}  // namespace

int main() {
  if (veneer::Status s = exos::net::init(); s != veneer::OK) {
    exos::printf("udp_echo: no network: %s\n", veneer::status_name(s));
    exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffFailure);
  }
  exos::net::UdpSocket sock;
  char peer_text[20];
  uint32_t peer;
  if (exos::cmdline_get("peer", peer_text, sizeof peer_text)) {
    if (!exos::net::parse_ipv4(peer_text, &peer)) exos::panic("udp_echo: peer= is not an IPv4 address");
    client(sock, peer, cmdline_number("count", 1000));
  }
  if (veneer::Status s = sock.bind(7); s != veneer::OK) {
    exos::printf("udp_echo: cannot bind port 7: %s\n", veneer::status_name(s));
    exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffFailure);
  }
  char flag[4];
  if (exos::cmdline_get("ash", flag, sizeof flag)) {
    const veneer::BpfInsn* insns;
    uint32_t n;
    const char* why = exos::handler_from_elf(echo_handler_object, size_t(echo_handler_object_end - echo_handler_object),
                                             "handler", &insns, &n);
    veneer::Status s = why ? veneer::ERR_BAD_ELF : sock.attach_handler(insns, n);
    if (s != veneer::OK) {
      exos::printf("udp_echo: the echo handler was refused: %s%s\n", veneer::status_name(s), why ? why : "");
      exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffFailure);
    }
    exos::printf("udp_echo: the echo handler (%u instructions) answers in the kernel\n", n);
  }
  uint32_t ip = exos::net::config().ip;
  exos::printf("udp_echo: listening on %u.%u.%u.%u:7\n", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
  const uint64_t count = cmdline_number("count", 0);
  const volatile uint64_t& handled = exos::kernel_info().net.rx_handled;
#ifdef UDP_ECHO_PROFILE  // bench/net: pcprof counts every instruction from here to the end of the loop
  asm volatile(".byte 0x0f,0x1f,0x80,1,0x4d,0x4b,0x56" ::: "memory");
#endif
  for (uint64_t served = 0; count == 0 || served + handled < count;) {
    uint32_t from;
    uint16_t port;
    int64_t n = sock.recvfrom(buf, sizeof buf, &from, &port, 100'000'000);
    if (n < 0) continue;
    veneer::Status s = sock.sendto(from, port, buf, static_cast<size_t>(n));
    if (s != veneer::OK) exos::printf("udp_echo: reply to port %u: %s\n", port, veneer::status_name(s));
    served++;
  }
#ifdef UDP_ECHO_PROFILE
  asm volatile(".byte 0x0f,0x1f,0x80,2,0x4d,0x4b,0x56" ::: "memory");
#endif
  report();
  exos::sys_poweroff(veneer::kMachineSlot, veneer::kPoweroffSuccess);
  return 0;
}
