#!/usr/bin/env python3
"""Hostile frames on the wire: a host injector on a QEMU -netdev socket link
(TCP on 127.0.0.1) writes raw Ethernet frames at ExOS's UDP echo server
(apps/udp_echo), playing its gateway 10.0.2.2.

It sends --count malformed frames of eleven kinds, each aimed at a layer:
truncated frames and unknown EtherTypes (no filter claims them: the
kernel's unclaimed counter), IPv4 with a bad header checksum, a lying total
length, a header length under 5 words, fragments, oversized frames (IP says
more than the 1514 bytes a frame may carry), UDP with a lying length or a bad
checksum, ARP garbage and ICMP garbage (each dropped and counted by ExOS's
stack). Then --valid well-formed datagrams, each echoed byte-exact, show the
service still answers. The guest's counters must account for every frame:
the kernel saw exactly what was sent, and every malformed frame is in the
kernel's unclaimed or ring-full count or in one of the stack's drop counters,
none echoed.
"""

import argparse
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import queue
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import qemu_args  # noqa: E402
from guest_run import SerialLog, free_port, verdict  # noqa: E402

GUEST_MAC = bytes.fromhex("525400123456")  # tools/qemu_args.py
GW_MAC = bytes.fromhex("52550a000202")
GUEST_IP = bytes([10, 0, 2, 15])
GW_IP = bytes([10, 0, 2, 2])
ECHO_PORT = 7
SRC_PORT = 40000


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ether(payload, ethertype, dst=GUEST_MAC):
    return dst + GW_MAC + struct.pack("!H", ethertype) + payload


def ipv4(payload, proto, ihl=5, total=None, frag=0x4000, bad_checksum=False, options=b""):
    total = 20 + len(options) + len(payload) if total is None else total
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 0, frag, 64, proto, 0, GW_IP, GUEST_IP) + options
    c = csum(h[:ihl * 4] if ihl >= 5 else h)
    if bad_checksum:
        c ^= 0x5A5A
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def udp(data, dport=ECHO_PORT, length=None, bad_checksum=False):
    length = 8 + len(data) if length is None else length
    pseudo = GW_IP + GUEST_IP + struct.pack("!BBH", 0, 17, 8 + len(data))
    u = struct.pack("!HHHH", SRC_PORT, dport, length, 0) + data
    c = csum(pseudo + u) or 0xFFFF
    if bad_checksum:
        c = c ^ 0x0F0F or 1
    return u[:6] + struct.pack("!H", c) + u[8:]


def udp_frame(data, **kw):
    return ether(ipv4(udp(data), 17, **kw), 0x0800)


# Each kind: (name, where it must be counted, builder(rng) -> frame).
def kinds():
    def truncated(r):
        return GUEST_MAC + GW_MAC[: r.randint(0, 5)]  # shorter than an Ethernet header
    def ethertype(r):
        t = r.choice([0x86DD, 0x8100, 0x88CC, 0x9000, 0x0000, 0xFFFF, 0x0801])
        return ether(r.randbytes(r.randint(0, 100)), t)
    def ip_checksum(r):
        return udp_frame(r.randbytes(r.randint(0, 200)), bad_checksum=True)
    def ip_total(r):
        data = r.randbytes(r.randint(0, 200))
        return ether(ipv4(udp(data), 17, total=20 + 8 + len(data) + r.randint(1, 400)), 0x0800)
    def ip_ihl(r):
        # ICMP to us with a header length under 5 words: the ICMP filter (protocol
        # and address at fixed offsets) claims it, the stack refuses it.
        h = struct.pack("!BBHHHBBH4s4s", 0x40 | r.randint(0, 4), 0, 48, 0, 0x4000, 64, 1, 0, GW_IP, GUEST_IP)
        return ether(h + r.randbytes(28), 0x0800)
    def fragment(r):
        return udp_frame(r.randbytes(r.randint(8, 200)), frag=0x2000)  # more fragments follow
    def oversized(r):
        data = r.randbytes(r.randint(1473, 1900))
        return ether(ipv4(udp(data), 17), 0x0800)  # more than a frame may carry
    def udp_length(r):
        data = r.randbytes(r.randint(0, 200))
        bad = r.choice([0, 7, 8 + len(data) + r.randint(1, 100)])
        return ether(ipv4(udp(data, length=bad), 17), 0x0800)
    def udp_checksum(r):
        return ether(ipv4(udp(r.randbytes(r.randint(1, 200)), bad_checksum=True), 17), 0x0800)
    def arp_garbage(r):
        body = struct.pack("!HHBBH", r.choice([0, 6, 0xFFFF]), 0x0800, 6, 4, 1) + GW_MAC + GW_IP + bytes(6) + GUEST_IP
        if body[:2] == b"\0\x01":
            body = b"\0\x02" + body[2:]
        return ether(body, 0x0806, dst=b"\xff" * 6)
    def icmp_garbage(r):
        icmp = struct.pack("!BBHHH", 8, 0, 0x1234, 1, 1) + r.randbytes(r.randint(0, 64))  # checksum wrong
        return ether(ipv4(icmp, 1), 0x0800)
    return [
        ("truncated", "unclaimed", truncated),
        ("unknown ethertype", "unclaimed", ethertype),
        ("bad IP checksum", "ip bad checksum", ip_checksum),
        ("lying IP total length", "ip bad header", ip_total),
        ("IHL under 5 (ICMP)", "ip bad header", ip_ihl),
        ("fragment", "fragments", fragment),
        ("oversized", "ip bad header", oversized),
        ("lying UDP length", "udp bad length", udp_length),
        ("bad UDP checksum", "udp bad checksum", udp_checksum),
        ("ARP garbage", "arp dropped", arp_garbage),
        ("ICMP garbage", "icmp dropped", icmp_garbage),
    ]


class Link:
    """QEMU's -netdev socket stream: each frame a 4-byte big-endian length, then the bytes."""

    def __init__(self, port):
        for _ in range(100):
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("QEMU's socket link never listened")
        self.sock.settimeout(None)
        # Frames are small writes: without this, Nagle's algorithm and delayed
        # acknowledgements hold each one back for tens of milliseconds.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sent = 0
        self.frames = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, frame):
        self.sock.sendall(struct.pack("!I", len(frame)) + frame)
        self.sent += 1

    def _read(self):
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 4:
                    n = struct.unpack("!I", buf[:4])[0]
                    if len(buf) < 4 + n:
                        break
                    self.frames.put(buf[4:4 + n])
                    buf = buf[4 + n:]
        except OSError:
            pass


def answer_arp(link, frame):
    """The gateway's part: answers ARP requests for 10.0.2.2. True if it was one."""
    if len(frame) >= 42 and frame[12:14] == b"\x08\x06" and frame[20:22] == b"\0\x01" and frame[38:42] == GW_IP:
        sender_mac, sender_ip = frame[22:28], frame[28:32]
        reply = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + GW_MAC + GW_IP + sender_mac + sender_ip
        link.send(ether(reply, 0x0806, dst=sender_mac))
        return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--echo", required=True)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--valid", type=int, default=20)
    ap.add_argument("--batch", type=int, default=12,
                    help="malformed frames between two probes: a probe's echo says the guest has taken them all, "
                         "so no ring overflows and every frame is counted where it was aimed")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()

    port = free_port()
    probes = (args.count + args.batch - 1) // args.batch
    cmd = qemu_args.veneer_command(args.kernel, [args.echo], append=f"count={probes + args.valid}")
    cmd = qemu_args.with_socket_link(cmd, f"listen=127.0.0.1:{port}")
    qemu = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    serial = SerialLog(qemu)
    deadline = time.time() + args.timeout

    failures = []
    try:
        link = Link(port)
        if not serial.read_until(r"udp_echo: listening on 10\.0\.2\.15:7", deadline):
            raise RuntimeError("the echo server did not start")
        rng = random.Random(args.seed)
        table = kinds()

        def echo(data, what):
            """Sends a well-formed datagram and waits for its echo, answering ARP meanwhile."""
            link.send(udp_frame(data))
            t_end = time.time() + 10
            while True:
                try:
                    f = link.frames.get(timeout=max(0.1, t_end - time.time()))
                except queue.Empty:
                    raise RuntimeError(f"{what}: no echo in 10 s")
                if answer_arp(link, f):
                    continue
                if len(f) >= 42 and f[12:14] == b"\x08\x00" and f[23] == 17:
                    u = f[14 + (f[14] & 15) * 4:]
                    if struct.unpack("!H", u[2:4])[0] == SRC_PORT:
                        if u[8:8 + len(data)] != data or struct.unpack("!H", u[4:6])[0] != 8 + len(data):
                            raise RuntimeError(f"{what}: echoed different bytes")
                        return

        per_kind = {name: 0 for name, _, _ in table}
        start = time.time()
        for i in range(args.count):
            name, _, build = table[i % len(table)]
            link.send(build(rng))
            per_kind[name] += 1
            if (i + 1) % args.batch == 0 or i + 1 == args.count:
                echo(rng.randbytes(rng.randint(0, 64)), f"the probe after frame {i}")
        print(f"malformed_frames: {args.count} malformed frames sent in {time.time() - start:.1f} s: "
              + ", ".join(f"{n} {c}" for n, c in per_kind.items()))
        # The service still answers.
        for i in range(args.valid):
            echo(rng.randbytes(rng.randint(0, 1472)), f"valid datagram {i}")
        print(f"malformed_frames: then {args.valid} valid datagrams echoed byte-exact")
        counters = serial.read_until(r"udp_echo: udp received", deadline)
        kernel = serial.read_until(r"udp_echo: kernel rx", deadline)
        code = qemu.wait(timeout=max(1, deadline - time.time()))
        print(counters)
        print(kernel)
        if code != qemu_args.EXIT_SUCCESS:
            failures.append(f"QEMU exit code {code}, expected {qemu_args.EXIT_SUCCESS}")
        m = re.search(r"udp received (\d+) sent (\d+) bad length (\d+) bad checksum (\d+); ip bad header (\d+) bad "
                      r"checksum (\d+) fragments (\d+); arp answered (\d+) dropped (\d+); icmp answered (\d+) dropped (\d+)",
                      counters or "")
        k = re.search(r"kernel rx (\d+) delivered (\d+) unclaimed (\d+) ring full (\d+)", kernel or "")
        if not m or not k:
            failures.append("the guest's counters are missing")
        else:
            (received, sent, udp_len, udp_sum, ip_hdr, ip_sum, frags, arp_ans, arp_drop, icmp_ans, icmp_drop) = \
                [int(x) for x in m.groups()]
            rx, delivered, unclaimed, ring_full = [int(x) for x in k.groups()]
            expect_unclaimed = per_kind["truncated"] + per_kind["unknown ethertype"]
            dropped_by_stack = udp_len + udp_sum + ip_hdr + ip_sum + frags + arp_drop + icmp_drop
            checks = [
                (rx == link.sent, f"the kernel saw {rx} frames; {link.sent} were sent"),
                (received == probes + args.valid and sent == received,
                 f"the stack echoed {received}/{sent}, expected {probes + args.valid}"),
                (ring_full == 0, f"{ring_full} frames found a ring full"),
                (unclaimed == expect_unclaimed, f"unclaimed {unclaimed}, expected {expect_unclaimed} (truncated + unknown types)"),
                (dropped_by_stack + ring_full == args.count - expect_unclaimed,
                 f"stack drops {dropped_by_stack} + ring full {ring_full} != {args.count - expect_unclaimed}"),
            ]
            by_counter = {"ip bad checksum": ip_sum, "ip bad header": ip_hdr, "fragments": frags,
                          "udp bad length": udp_len, "udp bad checksum": udp_sum, "arp dropped": arp_drop,
                          "icmp dropped": icmp_drop}
            for counter, value in by_counter.items():
                aimed = sum(per_kind[n] for n, where, _ in table if where == counter)
                checks.append((value == aimed, f"{counter}: {value}, aimed {aimed}"))
            for ok, what in checks:
                if not ok:
                    failures.append(what)
    except Exception as e:  # noqa: BLE001
        failures.append(str(e))
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
    return verdict(failures, "\n".join(serial.lines[-30:]))


if __name__ == "__main__":
    sys.exit(main())
