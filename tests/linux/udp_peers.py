#!/usr/bin/env python3
"""UDP between Linux programs on ExOS and real peers on the host.

The host runs a TFTP server and a UDP echo server on 127.0.0.1; the guest
(the Linux personality, QEMU's user network) reaches them at 10.0.2.2.
Debian's busybox tftp fetches a file (its MD5 must match) and sends it back
(the bytes must match); tests/linux/programs/udp_probe.c checks every bad
input and echoes datagrams. Passes when all of that holds and the shell
exits 0.
"""

import argparse
import hashlib
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import qemu_args  # noqa: E402
from guest_run import verdict  # noqa: E402


def tftp_server(sock, files, uploads):
    """A minimal TFTP server (RFC 1350, octet mode): each request answered
    from a new port, as the protocol says."""
    while True:
        try:
            data, peer = sock.recvfrom(2048)
        except OSError:
            return
        op = struct.unpack("!H", data[:2])[0]
        name = data[2:].split(b"\0")[0].decode()
        t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t.bind(("127.0.0.1", 0))
        t.settimeout(10)
        try:
            if op == 1:
                body = files.get(name)
                if body is None:
                    t.sendto(struct.pack("!HH", 5, 1) + b"no such file\0", peer)
                    continue
                block = 1
                while True:
                    chunk = body[(block - 1) * 512:block * 512]
                    while True:  # resend until this block is acknowledged
                        t.sendto(struct.pack("!HH", 3, block & 0xFFFF) + chunk, peer)
                        ack, _ = t.recvfrom(100)
                        if ack[:2] == b"\0\4" and struct.unpack("!H", ack[2:4])[0] == block & 0xFFFF:
                            break
                    if len(chunk) < 512:
                        break
                    block += 1
            elif op == 2:
                got, block = b"", 0
                t.sendto(struct.pack("!HH", 4, 0), peer)
                while True:
                    d, p2 = t.recvfrom(1024)
                    n = struct.unpack("!H", d[2:4])[0]
                    if d[:2] == b"\0\3" and n == (block + 1) & 0xFFFF:
                        block += 1
                        got += d[4:]
                    t.sendto(struct.pack("!HH", 4, n), p2)
                    if len(d) - 4 < 512:
                        break
                uploads[name] = got
        except socket.timeout:
            pass
        finally:
            t.close()


def echo_server(sock):
    while True:
        try:
            data, peer = sock.recvfrom(2048)
        except OSError:
            return
        sock.sendto(data, peer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--timeout", type=float, default=150)
    args = ap.parse_args()

    hello = random.Random(7).randbytes(5000)  # ten blocks
    uploads = {}
    tftp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tftp.bind(("127.0.0.1", 0))
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    threading.Thread(target=tftp_server, args=(tftp, {"hello.bin": hello}, uploads), daemon=True).start()
    threading.Thread(target=echo_server, args=(echo,), daemon=True).start()
    tftp_port, echo_port = tftp.getsockname()[1], echo.getsockname()[1]

    cmd = qemu_args.veneer_command(args.kernel, [args.init, args.rootfs],
                                   append=f"args=/tests/udp.sh,{tftp_port},{echo_port}")
    cmd = qemu_args.with_hostfwd(cmd, [])  # unrestricted: the guest writes to the host's ports
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=args.timeout).stdout.decode(errors="replace")
        code = None
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        code = "timeout"
    failures = []
    want = f"tftp get: {hashlib.md5(hello).hexdigest()}  hello.bin"
    if want not in out:
        failures.append(f"busybox tftp did not fetch the file intact (expected '{want}')")
    if "tftp put: done" not in out or uploads.get("back.bin") != hello:
        failures.append("busybox tftp did not send the file back intact")
    if not re.search(r"udp_probe: all \d+ checks passed", out):
        failures.append("udp_probe failed")
    if "linux: /bin/sh exited with status 0" not in out:
        failures.append(f"the shell did not exit with status 0 ({code or 'see the log'})")
    print("\n".join(l for l in out.splitlines() if re.match(r"(tftp|udp_probe|linux:)", l)))
    return verdict(failures, out[-3000:])


if __name__ == "__main__":
    sys.exit(main())
