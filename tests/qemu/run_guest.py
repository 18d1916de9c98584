#!/usr/bin/env python3
"""Boots Veneer in QEMU with a test init and checks what the guest reports.

Passes only if QEMU exits through isa-debug-exit with the success code AND the
serial log ends with "GUEST-TESTS: N passed, 0 failed" where N is at least
--expect. A guest that hangs is killed after --timeout seconds and fails.
"""

import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import qemu_args  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel")
    ap.add_argument("--modules", help="comma-separated, init first")
    ap.add_argument("--iso", help="boot this GRUB ISO instead of -kernel")
    ap.add_argument("--append", default="")
    ap.add_argument("--expect", type=int, default=1, help="minimum passed cases")
    ap.add_argument("--expect-output", action="append", default=[],
                    help="regex that must appear in the serial log")
    ap.add_argument("--expect-exit", type=int, default=qemu_args.EXIT_SUCCESS)
    ap.add_argument("--no-summary", action="store_true",
                    help="do not require a GUEST-TESTS line (demo runs)")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--cpu", help="QEMU CPU model instead of the default (e.g. qemu64: no SMAP/SMEP)")
    ap.add_argument("--machine", help="QEMU machine instead of pc (e.g. q35, or pc,pit=off)")
    ap.add_argument("--memory", help="guest RAM instead of 256M (e.g. 16G)")
    ap.add_argument("--smp", help="CPU count instead of 1 (the others stay parked)")
    ap.add_argument("--uefi", action="store_true", help="boot the ISO with OVMF instead of SeaBIOS")
    ap.add_argument("--icount", action="store_true",
                    help="-icount shift=0: guest time is instruction count, so timing-based "
                         "checks do not depend on host load")
    args = ap.parse_args()

    if args.iso:
        cmd = qemu_args.iso_command(args.iso, uefi=args.uefi, icount=args.icount)
    else:
        cmd = qemu_args.veneer_command(args.kernel, args.modules.split(","), args.append, args.icount)
    for flag, value in (("-cpu", args.cpu), ("-machine", args.machine), ("-m", args.memory), ("-smp", args.smp)):
        if value:
            cmd[cmd.index(flag) + 1] = value
    if args.memory:
        # Guest RAM reserved lazily (MAP_NORESERVE): a 64 GiB guest boots on a
        # smaller host, which backs only the pages the guest touches.
        cmd[cmd.index("-machine") + 1] += ",memory-backend=ram"
        cmd += ["-object", f"memory-backend-ram,id=ram,size={args.memory},reserve=off"]
    print("$ " + " ".join(cmd), flush=True)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=args.timeout)
        out, code = proc.stdout.decode(errors="replace"), proc.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        print(out)
        print(f"FAIL: guest did not finish within {args.timeout} s (hung?)")
        return 1
    print(out)

    ok = True
    if code != args.expect_exit:
        why = {qemu_args.EXIT_PANIC: "kernel panic", qemu_args.EXIT_FAILURE: "guest reported failure",
               qemu_args.EXIT_INIT_GONE: "init exited or died"}
        print(f"FAIL: QEMU exit code {code}, expected {args.expect_exit} "
              f"({why.get(code, 'unexpected exit')})")
        ok = False
    if not args.no_summary:
        m = re.findall(r"GUEST-TESTS: (\d+) passed, (\d+) failed", out)
        if not m:
            print("FAIL: no GUEST-TESTS summary line in the serial log")
            ok = False
        else:
            passed, failed = int(m[-1][0]), int(m[-1][1])
            if failed or passed < args.expect:
                print(f"FAIL: {passed} passed, {failed} failed (expected at least {args.expect} passed)")
                ok = False
    for pattern in args.expect_output:
        if not re.search(pattern, out):
            print(f"FAIL: serial log lacks /{pattern}/")
            ok = False
    if "KERNEL PANIC" in out and args.expect_exit != qemu_args.EXIT_PANIC:
        print("FAIL: kernel panicked")
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
