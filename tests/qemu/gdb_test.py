#!/usr/bin/env python3
"""The debugger set-up works as docs/debugging.md says: tools/boot.py --gdb
starts QEMU halted with its gdb stub, gdb with tools/veneer.gdb breaks in the
kernel's page-fault path (isr14) and, with hello's symbols loaded, in ExOS's
exception dispatch for hello's first page fault."""

import argparse
import os
import re
import socket
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    port = free_port()
    apps = os.path.join(build, "apps")
    boot = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tools", "boot.py"), "--gdb", "--gdb-port", str(port),
         "--kernel", os.path.join(build, "kernel", "veneer.elf"),
         "--modules", ",".join(os.path.join(apps, m) for m in ("init.elf", "echo.elf", "hello.elf"))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.time() + 30
    while True:  # wait for the stub
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline or boot.poll() is not None:
                print("FAIL: QEMU's gdb stub never listened")
                boot.kill()
                return 1
            time.sleep(0.2)
    gdb_cmds = [
        f"veneer-connect {port}",
        "break isr14", "continue", "veneer-env", "delete",
        f"veneer-user {os.path.join(apps, 'hello.elf')}",
        "break exos_dispatch_exception if veneer_cpu0.current->id == 0x43",
        "continue", "print f->vector", "print/x f->fault_addr", "veneer-env", "backtrace 2",
        "kill",
    ]
    cmd = ["gdb", "-nx", "-batch", "-x", os.path.join(ROOT, "tools", "veneer.gdb")]
    for c in gdb_cmds:
        cmd += ["-ex", c]
    try:
        gdb = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             timeout=args.timeout, cwd=ROOT, env=dict(os.environ, VENEER_BUILD=build))
        out = gdb.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        print(out)
        print("FAIL: gdb did not finish")
        boot.kill()
        return 1
    finally:
        try:
            boot.wait(timeout=10)
        except subprocess.TimeoutExpired:
            boot.kill()
            boot.wait()
    print(out)
    print(boot.stdout.read().decode(errors="replace"))
    ok = True
    for pattern in [r"Breakpoint 1, isr14 \(\) at .*entry\.S",
                    r"Breakpoint 2, exos_dispatch_exception \(f=0x[0-9a-f]+\) at .*libos/src/exception\.cc",
                    r"\$1 = 14\n", r"\$2 = 0x[0-9a-f]+\n", r"env 43\n",
                    r"#1 .* in exos_exception_entry \(\)"]:
        if not re.search(pattern, out):
            print(f"FAIL: gdb output lacks /{pattern}/")
            ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
