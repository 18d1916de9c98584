/* udp_probe: a static Linux program (musl) for the personality's UDP
   sockets: every bad input with its errno, then real datagrams with a host
   peer (argv: its IPv4 address and an echo port). Plain Linux calls only;
   one check expects ExOS's address on QEMU's user network (10.0.2.15).
   Prints "udp_probe: all N checks passed" or one FAIL line per check. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int checks, failures;

#define CHECK(cond, what)                                                        \
  do {                                                                           \
    checks++;                                                                    \
    if (!(cond)) {                                                               \
      failures++;                                                                \
      printf("udp_probe: FAIL %s (line %d, errno %d)\n", what, __LINE__, errno); \
    }                                                                            \
  } while (0)

static struct sockaddr_in addr_of(const char* ip, int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 3) {
    printf("usage: udp_probe PEER_IP ECHO_PORT\n");
    return 2;
  }
  const char* peer_ip = argv[1];
  int echo_port = atoi(argv[2]);

  /* Bad input, each with its errno. */
  errno = 0;
  CHECK(socket(AF_INET6, SOCK_DGRAM, 0) == -1 && errno == EAFNOSUPPORT, "IPv6 gets EAFNOSUPPORT");
  CHECK(socket(AF_INET, SOCK_STREAM, 0) == -1 && errno == EPROTONOSUPPORT, "a stream socket gets EPROTONOSUPPORT");
  CHECK(socket(AF_INET, SOCK_DGRAM, 6) == -1 && errno == EPROTONOSUPPORT, "UDP with protocol TCP gets EPROTONOSUPPORT");
  struct sockaddr_in any = addr_of("0.0.0.0", 0);
  CHECK(bind(0, (struct sockaddr*)&any, sizeof any) == -1 && errno == ENOTSOCK, "bind on a non-socket gets ENOTSOCK");
  CHECK(bind(99, (struct sockaddr*)&any, sizeof any) == -1 && errno == EBADF, "bind on a closed fd gets EBADF");
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s >= 0, "a UDP socket opens");
  struct sockaddr_in elsewhere = addr_of("192.0.2.1", 5000);
  CHECK(bind(s, (struct sockaddr*)&elsewhere, sizeof elsewhere) == -1 && errno == EADDRNOTAVAIL,
        "bind to another host's address gets EADDRNOTAVAIL");
  CHECK(bind(s, (struct sockaddr*)&any, 4) == -1 && errno == EINVAL, "a short address gets EINVAL");
  CHECK(bind(s, (struct sockaddr*)0x10, sizeof any) == -1 && errno == EFAULT, "an unmapped address gets EFAULT");
  char buf[2048];
  CHECK(send(s, "x", 1, 0) == -1 && errno == EDESTADDRREQ, "send without a peer gets EDESTADDRREQ");
  CHECK(recv(s, buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN, "a non-blocking receive of nothing gets EAGAIN");
  struct sockaddr_in name;
  socklen_t len = sizeof name;
  CHECK(getpeername(s, (struct sockaddr*)&name, &len) == -1 && errno == ENOTCONN, "getpeername unconnected gets ENOTCONN");
  struct sockaddr_in peer = addr_of(peer_ip, echo_port);
  static char big[1473];
  CHECK(sendto(s, big, sizeof big, 0, (struct sockaddr*)&peer, sizeof peer) == -1 && errno == EMSGSIZE,
        "a datagram over 1472 bytes gets EMSGSIZE");

  /* Ports belong to one socket. */
  struct sockaddr_in mine = addr_of("0.0.0.0", 4242);
  CHECK(bind(s, (struct sockaddr*)&mine, sizeof mine) == 0, "bind to port 4242");
  len = sizeof name;
  CHECK(getsockname(s, (struct sockaddr*)&name, &len) == 0 && ntohs(name.sin_port) == 4242 &&
            name.sin_addr.s_addr == inet_addr("10.0.2.15"),
        "getsockname says 10.0.2.15:4242");
  int t = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(bind(t, (struct sockaddr*)&mine, sizeof mine) == -1 && errno == EADDRINUSE, "a second bind of 4242 gets EADDRINUSE");
  int one = 1;
  CHECK(setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR is accepted");
  close(t);

  /* Real datagrams with the host's echo server: sizes 0..1472, in order. */
  int echoed = 0;
  for (int i = 0; i < 50; i++) {
    int n = (i * 97) % 1473;
    for (int j = 0; j < n; j++) big[j] = (char)(i + j * 13);
    if (sendto(s, big, n, 0, (struct sockaddr*)&peer, sizeof peer) != n) break;
    struct pollfd p = {s, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) break;
    struct sockaddr_in from;
    len = sizeof from;
    ssize_t got = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &len);
    if (got != n || memcmp(buf, big, n) != 0 || from.sin_port != peer.sin_port) break;
    echoed++;
  }
  CHECK(echoed == 50, "50 datagrams of 0..1472 bytes echoed by the host, byte-exact, in order");
  /* Connected: send and read. */
  CHECK(connect(s, (struct sockaddr*)&peer, sizeof peer) == 0, "connect to the peer");
  CHECK(write(s, "connected", 9) == 9, "write on a connected socket");
  struct pollfd p = {s, POLLIN, 0};
  CHECK(poll(&p, 1, 5000) == 1 && read(s, buf, sizeof buf) == 9 && memcmp(buf, "connected", 9) == 0,
        "read the echo on the connected socket");
  len = sizeof name;
  CHECK(getpeername(s, (struct sockaddr*)&name, &len) == 0 && name.sin_port == peer.sin_port, "getpeername says the peer");
  close(s);

  if (failures) {
    printf("udp_probe: %d of %d checks FAILED\n", failures, checks);
    return 1;
  }
  printf("udp_probe: all %d checks passed\n", checks);
  return 0;
}
