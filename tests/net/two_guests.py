#!/usr/bin/env python3
"""Two Veneer guests on one link: QEMU's -netdev socket (a TCP stream on
127.0.0.1) joins guest A, ExOS's UDP echo server at 10.0.2.15, and guest B,
the same program as a client at 10.0.2.16 (its own MAC). B resolves A by ARP
and sends --count datagrams of random sizes; each echo must come back
byte-exact. Both must power off with the success code.
"""

import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import qemu_args  # noqa: E402
from guest_run import SerialLog, free_port, verdict  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--echo", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()

    port = free_port()
    server = qemu_args.with_socket_link(
        qemu_args.veneer_command(args.kernel, [args.echo], append=f"count={args.count} ip=10.0.2.15"),
        f"listen=127.0.0.1:{port}")
    client = qemu_args.with_mac(qemu_args.with_socket_link(
        qemu_args.veneer_command(args.kernel, [args.echo], append=f"count={args.count} ip=10.0.2.16 peer=10.0.2.15"),
        f"connect=127.0.0.1:{port}"), "52:54:00:12:34:57")
    a = subprocess.Popen(server, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    serial_a = SerialLog(a)
    # QEMU opens its listening socket before the guest runs, and B must not
    # ask for A's address before A answers ARP (B gives up after a second):
    # B starts once A's server says it listens. (Probing the port instead
    # would take the one connection QEMU accepts.)
    failures = []
    if not serial_a.read_until("listening on", time.time() + 60):
        failures.append("guest A's server did not start")
    b = subprocess.Popen(client, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        out_b, _ = b.communicate(timeout=args.timeout)
        a.wait(timeout=30)
    except subprocess.TimeoutExpired:
        failures.append("a guest did not finish in time")
        for p in (a, b):
            p.kill()
        out_b = b.communicate()[0]
        a.wait()
    serial_a.drain()
    out_a, out_b = serial_a.text(), out_b.decode(errors="replace")
    for name, p, out in (("A (server)", a, out_a), ("B (client)", b, out_b)):
        if p.returncode != qemu_args.EXIT_SUCCESS:
            failures.append(f"guest {name} exited {p.returncode}, expected {qemu_args.EXIT_SUCCESS}")
    if not re.search(rf"udp_echo: {args.count} datagrams echoed by the peer, byte-exact", out_b):
        failures.append("the client's datagrams did not all come back")
    if not re.search(rf"udp_echo: udp received {args.count} sent {args.count}", out_a):
        failures.append("the server did not answer every datagram")
    for out in (out_a, out_b):
        print("\n".join(l for l in out.splitlines() if l.startswith("udp_echo:")))
    return verdict(failures, out_a[-1500:] + "\n" + out_b[-1500:])


if __name__ == "__main__":
    sys.exit(main())
