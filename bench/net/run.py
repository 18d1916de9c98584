#!/usr/bin/env python3
"""Veneer's network receive path, instruction by instruction.

Boots the profiling build of ExOS's UDP echo server (apps/udp_echo with
pcprof's markers around its serving loop, apps/CMakeLists.txt) under
-icount shift=0 with the pcprof plugin, sends it --count datagrams of
--size bytes from the host through QEMU's forwarding on 127.0.0.1, one at
a time, and reports the instructions per datagram by function and by
part: the receive interrupt (device, demultiplexer, ring), the safe
handler's reply (with --ash), the env's stack, the send, and the time the
guest spent waiting for the host (yields: not part of any path). The host
keeps --window datagrams in flight (each a sequence number and pattern),
so the guest seldom waits.

  python3 bench/net/run.py [--build build] [--count 2000] [--size 64] [--ash]
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "pcprof"))
import qemu_args  # noqa: E402
from guest_run import SerialLog, free_port  # noqa: E402
from report import Symbolizer, read_windows, KERNEL_BASE  # noqa: E402

SEALED_CODE = 0xFFFFFFFFA0000000  # kernel/memory.h kSealedCodeVa: generated code
SEALED_END = SEALED_CODE + 128 * 4096

# Functions by part of the path (the rest is listed as it comes).
RECEIVE = re.compile(r"(netif_receive|virtio_net_receive|deliver|frame_still|ring_bytes|lapic_eoi|isr64\b)")
SEND = re.compile(r"(netif_send|virtio_net_send|net_send|handler_send|Queue::offer|Queue::kick)")
HELPERS = re.compile(r"(copy_frame|send_reply|wake_env|checksum|ones_complement_sum|handler_wake|handler_send)")
ENTRY = re.compile(r"^(isr\d+|trap_full|env_pop_tf|exception_entry|syscall_\w+|trap)$")
WAIT = re.compile(r"(yield|schedule|sched_|start_slice|switch_to|idle|irq_deliver|deliver_upcall|env_run|resolve|"
                  r"can_run|lapic_arm|update_clock|grace_answered|sched_timer)")


def part(pc, function, handler):
    if handler and handler[0] <= pc < handler[1]:
        return "safe handler (JIT code)"
    if SEALED_CODE <= pc < SEALED_END:
        return "packet filter (compiled tree)"
    name = re.sub(r"\((?!anonymous)[^()]*\)( const)?$", "", function)
    if pc < KERNEL_BASE:
        return "waiting (ExOS yield loop)" if WAIT.search(name) else "ExOS stack and the echo loop (user)"
    if HELPERS.search(name):
        return "safe handler (helpers)"
    if RECEIVE.search(name):
        return "receive interrupt (kernel)"
    if SEND.search(name):
        return "send (kernel)"
    if WAIT.search(name):
        return "waiting (kernel: yield, scheduling)"
    if ENTRY.match(name):
        return "kernel entry/exit (interrupts and system calls)"
    return "other kernel"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--size", type=int, default=64, help="UDP payload bytes")
    ap.add_argument("--ash", action="store_true", help="the echo handler answers in the kernel")
    ap.add_argument("--functions", type=int, default=25)
    ap.add_argument("--window", type=int, default=8, help="datagrams in flight (the ring holds 15)")
    args = ap.parse_args()
    kernel = os.path.join(args.build, "kernel/veneer.elf")
    program = os.path.join(args.build, "apps/udp_echo_profile.elf")
    plugin = os.path.join(args.build, "tools/libpcprof.so")
    outdir = os.path.join(args.build, "profile")
    os.makedirs(outdir, exist_ok=True)
    prof = os.path.join(outdir, "net.pcprof.out")

    port = free_port(socket.SOCK_DGRAM)
    append = f"count={args.count}" + (" ash=1" if args.ash else "")
    cmd = qemu_args.veneer_command(kernel, [program], append=append, icount=True)
    cmd = qemu_args.with_hostfwd(cmd, [f"udp:127.0.0.1:{port}-:7"]) + ["-plugin", f"{plugin},out={prof}"]
    qemu = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    serial = SerialLog(qemu)
    if not serial.read_until("listening on", time.time() + 120):
        qemu.kill()
        sys.exit("bench/net: the echo server did not start:\n" + "\n".join(serial.lines[-20:]))
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(10)
    size = max(args.size, 4)

    def datagram(i):
        return i.to_bytes(4, "big") + bytes((i + j) & 255 for j in range(size - 4))
    sent = 0
    for _ in range(min(args.window, args.count)):
        c.sendto(datagram(sent), ("127.0.0.1", port))
        sent += 1
    seen = set()
    for _ in range(args.count):
        try:
            reply = c.recvfrom(2048)[0]
        except socket.timeout:
            qemu.kill()
            serial.drain()
            sys.exit(f"bench/net: no answer in 10 s after {len(seen)} datagrams:\n" + "\n".join(serial.lines[-10:]))
        i = int.from_bytes(reply[:4], "big")
        if reply != datagram(i) or i in seen:
            sys.exit(f"bench/net: datagram {i} came back different")
        seen.add(i)
        if sent < args.count:
            c.sendto(datagram(sent), ("127.0.0.1", port))
            sent += 1
    qemu.wait(timeout=120)
    serial.drain()
    text = serial.text()
    open(os.path.join(outdir, "net.serial.log"), "w").write(text)
    handler = None
    m = re.search(r"attached a handler .*: (\d+) instructions, (\d+) bytes of code at ([0-9a-f]+)", text)
    if m:
        start = int(m.group(3), 16)
        handler = (start, start + int(m.group(2)))
    windows = read_windows(prof)
    if len(windows) != 1:
        sys.exit(f"bench/net: expected one profile window, found {len(windows)} (see {outdir})")
    w, n = windows[0], args.count
    sym = Symbolizer([kernel, program])
    parts, functions = defaultdict(int), defaultdict(int)
    for pc, count, dis in w["pcs"]:
        f = sym.name(pc)
        p = part(pc, f, handler)
        parts[p] += count
        functions[(p, "generated code" if p.startswith(("safe handler (JIT", "packet filter")) else f)] += count
    mode = "safe handler answers (ash=1)" if args.ash else "ExOS answers (ring, then its stack)"
    print(f"bench/net: {n} datagrams of {args.size} bytes echoed, {mode}; "
          f"{w['total'] / n:.0f} guest instructions per datagram in all (waiting included)")
    for p, count in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {count / n:10.1f}  {p}")
    print(f"  by function (>= 1 per datagram, top {args.functions}):")
    for (p, f), count in sorted(functions.items(), key=lambda kv: -kv[1])[: args.functions]:
        if count / n >= 1:
            print(f"  {count / n:10.1f}  {f[:60]:60}  [{p}]")
    k = re.search(r"kernel rx (\d+) delivered (\d+) unclaimed (\d+) ring full (\d+) tx (\d+); handler consumed (\d+)",
                  text)
    if k:
        print(f"  (kernel counters: {k.group(0)})")


if __name__ == "__main__":
    main()
