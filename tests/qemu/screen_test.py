#!/usr/bin/env python3
"""Boots the GRUB ISO, lets the guest power itself off through ACPI, and
checks what a person would see: the screen and the machine's state.

QEMU runs with -no-shutdown, so an ACPI power-off (S5) stops the guest
instead of ending QEMU; QMP then confirms the guest shut itself down, takes a
screendump, and the screen is compared, pixel for pixel, with the kernel's
console output (the serial log) drawn with the same font the kernel uses
(GRUB's ascii.h), wrapping as the kernel's framebuffer console wraps.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import qemu_args  # noqa: E402

FONT_H = "/usr/share/grub/ascii.h"
FG, BG = (0xCC, 0xCC, 0xCC), (0x00, 0x00, 0x28)  # kernel/dev/framebuffer.cc


def load_font():
    text = open(FONT_H).read()
    data = [int(x, 16) for x in re.findall(r"0x[0-9a-fA-F]{2}", text)]
    assert len(data) == 128 * 16, len(data)
    return data


def console_rows(log, cols, rows):
    """The text the kernel's framebuffer console shows after printing log."""
    screen = [[" "] * cols for _ in range(rows)]
    row = col = 0

    def newline():
        nonlocal row, col
        col = 0
        row = (row + 1) % rows
        screen[row] = [" "] * cols

    for c in log:
        if c == "\n":
            newline()
        elif c == "\r":
            continue
        else:
            if c == "\t":
                c = " "
            if col == cols:
                newline()
            screen[row][col] = c if 32 <= ord(c) < 127 else "?"
            col += 1
    return ["".join(r) for r in screen]


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    w, h = int(m.group(1)), int(m.group(2))
    return w, h, data[m.end():]


class Qmp:
    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.file = self.sock.makefile("rw")
        self.events = []
        self.recv()  # greeting
        self.command("qmp_capabilities")

    def recv(self):
        line = self.file.readline()
        if not line:
            raise EOFError("QMP closed")
        return json.loads(line)

    def command(self, name, **args):
        self.file.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.file.flush()
        while True:
            msg = self.recv()
            if "event" in msg:
                self.events.append(msg)
                continue
            if "error" in msg:
                raise RuntimeError(f"QMP {name}: {msg['error']}")
            return msg.get("return")


def main():
    tmp = tempfile.mkdtemp(prefix="veneer-screen-")
    try:
        return run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp):
    ap = argparse.ArgumentParser()
    ap.add_argument("--iso", required=True)
    ap.add_argument("--uefi", action="store_true")
    ap.add_argument("--machine", default="pc")
    ap.add_argument("--memory", default="256M")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--expect-output", action="append", default=[])
    ap.add_argument("--save-screen", help="keep the screendump (PPM) here")
    args = ap.parse_args()

    qmp_path, ppm = os.path.join(tmp, "qmp.sock"), os.path.join(tmp, "screen.ppm")
    cmd = qemu_args.iso_command(args.iso, uefi=args.uefi, vars_copy=os.path.join(tmp, "vars.fd"))
    cmd[cmd.index("-machine") + 1] = args.machine
    cmd[cmd.index("-m") + 1] = args.memory
    cmd[cmd.index("-display") + 1] = "none"
    cmd += ["-no-shutdown", "-qmp", f"unix:{qmp_path},server=on,wait=off", "-vga", "std"]
    print("$ " + " ".join(cmd), flush=True)
    deadline = time.time() + args.timeout
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = bytearray()
    reader = threading.Thread(target=lambda: [out.extend(b) for b in iter(lambda: proc.stdout.read1(4096), b"")])
    reader.start()
    ok = True
    shutdown = None
    try:
        qmp = Qmp(qmp_path, deadline)
        while shutdown is None and time.time() < deadline:
            qmp.sock.settimeout(max(0.1, deadline - time.time()))
            try:
                msg = qmp.recv()
            except socket.timeout:
                break
            if msg.get("event") == "SHUTDOWN":
                shutdown = msg.get("data", {})
        if shutdown is not None:
            qmp.sock.settimeout(30)
            time.sleep(0.2)
            qmp.command("screendump", filename=ppm)
        try:
            qmp.command("quit")
        except (EOFError, OSError):
            pass
    finally:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join()
    log = out.decode(errors="replace")
    print(log)

    if shutdown is None:
        print(f"FAIL: the guest did not shut down within {args.timeout:g} s")
        return 1
    if shutdown.get("reason") != "guest-shutdown":
        print(f"FAIL: shutdown reason {shutdown}, expected an ACPI power-off by the guest (guest-shutdown)")
        ok = False
    for pattern in args.expect_output:
        if not re.search(pattern, log):
            print(f"FAIL: serial log lacks /{pattern}/")
            ok = False
    if "KERNEL PANIC" in log:
        print("FAIL: kernel panicked")
        ok = False

    # The screen: every character cell the console drew.
    m = re.search(r"fb: console on the (\d+)x(\d+) RGB framebuffer at [0-9a-f]+ \((\d+)x(\d+) characters\)", log)
    start = log.find("Veneer exokernel booting")
    if not m or start < 0 or not os.path.exists(ppm):
        print("FAIL: no framebuffer console reported, or no screendump")
        return 1
    cols, rows = int(m.group(3)), int(m.group(4))
    kernel_log = "\n" + log[start:].replace("\r\n", "\n")
    cut = kernel_log.find("acpi: powering off (S5)\n")
    kernel_log = kernel_log[:cut + len("acpi: powering off (S5)\n")]
    expected = console_rows(kernel_log, cols, rows)
    w, h, pix = read_ppm(ppm)
    if args.save_screen:
        shutil.copyfile(ppm, args.save_screen)
    if (w, h) != (int(m.group(1)), int(m.group(2))):
        print(f"FAIL: the screen is {w}x{h}, the kernel drew on {m.group(1)}x{m.group(2)}")
        return 1
    font = load_font()
    bad_rows = []
    for r, text in enumerate(expected):
        for y in range(16):
            line = pix[((r * 16 + y) * w) * 3:((r * 16 + y) * w + cols * 8) * 3]
            want = bytearray()
            for c in text:
                bits = font[ord(c) * 16 + y]
                for x in range(8):
                    want += bytes(FG if bits & (0x80 >> x) else BG)
            if line != want:
                bad_rows.append((r, text.rstrip()))
                break
    shown = [t.rstrip() for t in expected if t.strip()]
    print(f"screen: {w}x{h}, {cols}x{rows} characters, {len(shown)} non-empty lines compared pixel for pixel")
    if bad_rows:
        for r, t in bad_rows[:5]:
            print(f"FAIL: screen row {r} does not show {t!r}")
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
