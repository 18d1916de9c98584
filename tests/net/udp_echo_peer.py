#!/usr/bin/env python3
"""Real peers for ExOS's network stack: the host reaches the UDP echo server
(apps/udp_echo) through QEMU's user network forwarding on 127.0.0.1.

Sends --count datagrams of random sizes (0..1472 bytes, random bytes) one at
a time from a Python socket, each answered byte-exact, then one line through
the host's `nc -u` if it has one. The guest powers off after that many and
reports its counters: nothing may have been dropped as malformed.

With --ash the server's safe handler answers in the kernel's receive path:
every datagram must then have been consumed by the handler, none copied to
the env.

Every frame on the guest's link is captured with QEMU's filter-dump and read
by tshark (Debian's): none may be malformed, and every IP, UDP and ICMP
checksum must be right.
"""

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import qemu_args  # noqa: E402
from guest_run import SerialLog, free_port, verdict  # noqa: E402


def check_capture(tshark, pcap, at_least):
    """tshark's verdict on every frame of the capture: what it found wrong."""
    base = [tshark, "-n", "-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    frames = subprocess.run(base + ["-T", "fields", "-e", "frame.number"], capture_output=True, text=True)
    if frames.returncode != 0:
        return [f"tshark cannot read the capture: {frames.stderr.strip()}"]
    count = len(frames.stdout.split())
    bad = subprocess.run(base + ["-Y", '_ws.malformed || ip.checksum.status == "Bad" || udp.checksum.status == "Bad" '
                                       '|| icmp.checksum.status == "Bad" || _ws.expert.severity >= "Error"'],
                         capture_output=True, text=True).stdout.strip()
    problems = []
    if count < at_least:
        problems.append(f"the capture holds {count} frames, expected at least {at_least}")
    if bad:
        problems.append("tshark finds malformed frames or bad checksums:\n" + "\n".join(bad.splitlines()[:10]))
    else:
        print(f"udp_echo_peer: tshark read {count} frames: none malformed, every checksum right")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--echo", required=True, help="udp_echo.elf")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=240)
    ap.add_argument("--ash", action="store_true", help="the echo handler answers in the kernel")
    args = ap.parse_args()

    nc = shutil.which("nc")
    total = args.count + (1 if nc else 0)
    port = free_port(socket.SOCK_DGRAM)
    append = f"count={total}" + (" ash=1" if args.ash else "")
    cmd = qemu_args.veneer_command(args.kernel, [args.echo], append=append)
    cmd = qemu_args.with_hostfwd(cmd, [f"udp:127.0.0.1:{port}-:7"])
    tshark = shutil.which("tshark")
    if not tshark:
        print("FAIL: tshark is missing (scripts/deps.sh installs Debian's tshark)")
        return 1
    pcap_dir = tempfile.TemporaryDirectory(prefix="veneer-pcap-")
    pcap = os.path.join(pcap_dir.name, "link.pcap")
    cmd += ["-object", f"filter-dump,id=dump0,netdev=net0,file={pcap}"]
    qemu = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    serial = SerialLog(qemu)
    deadline = time.time() + args.timeout

    failures = []
    try:
        if not serial.read_until(r"udp_echo: listening on 10\.0\.2\.15:7", deadline):
            failures.append("the echo server did not start")
            raise SystemExit
        rng = random.Random(args.seed)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(10)
        start = time.time()
        sizes = 0
        for i in range(args.count):
            size = rng.randint(0, 1472)
            data = rng.randbytes(size)
            sock.sendto(data, ("127.0.0.1", port))
            try:
                reply, peer = sock.recvfrom(2048)
            except socket.timeout:
                failures.append(f"datagram {i} ({size} bytes): no answer in 10 s")
                break
            if reply != data:
                failures.append(f"datagram {i} ({size} bytes): answered {len(reply)} different bytes")
                break
            sizes += size
        else:
            elapsed = time.time() - start
            print(f"udp_echo_peer: {args.count} datagrams ({sizes} bytes) echoed byte-exact in order, "
                  f"{elapsed:.1f} s")
        if nc and not failures:
            line = b"hello from the host's nc\n"
            out = subprocess.run([nc, "-u", "-w", "2", "127.0.0.1", str(port)], input=line,
                                 capture_output=True, timeout=30).stdout
            if out != line:
                failures.append(f"nc -u: sent {line!r}, got {out!r}")
            else:
                print("udp_echo_peer: the host's nc -u got its line back")
        elif not nc:
            print("udp_echo_peer: no nc on this host; the Python client alone")
        if not failures:
            counters = serial.read_until(r"udp_echo: udp received", deadline)
            kernel = serial.read_until(r"udp_echo: kernel rx", deadline)
            code = qemu.wait(timeout=max(1, deadline - time.time()))
            if code != qemu_args.EXIT_SUCCESS:
                failures.append(f"QEMU exit code {code}, expected {qemu_args.EXIT_SUCCESS}")
            m = re.search(r"udp received (\d+) sent (\d+) bad length (\d+) bad checksum (\d+); ip bad header (\d+) "
                          r"bad checksum (\d+) fragments (\d+)", counters or "")
            h = re.search(r"handler consumed (\d+) sent (\d+)", kernel or "")
            if not m or not h:
                failures.append("no counters from the guest")
            else:
                got = [int(x) for x in m.groups()]
                by_env = 0 if args.ash else total
                if got[0] != by_env or got[1] != by_env:
                    failures.append(f"the env received {got[0]} and sent {got[1]}, expected {by_env}")
                by_handler = total if args.ash else 0
                if int(h.group(1)) != by_handler or int(h.group(2)) != by_handler:
                    failures.append(f"the handler consumed {h.group(1)} and sent {h.group(2)}, expected {by_handler}")
                if any(got[2:]):
                    failures.append(f"guest dropped well-formed datagrams as malformed: {counters}")
            print(counters)
            print(kernel)
    except SystemExit:
        pass
    finally:
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
    if not failures:
        failures += check_capture(tshark, pcap, 2 * total)
    if failures:
        serial.drain()
    return verdict(failures, "\n".join(serial.lines[-30:]))


if __name__ == "__main__":
    sys.exit(main())
