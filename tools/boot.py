#!/usr/bin/env python3
"""Boots Veneer in QEMU with the serial console on this terminal.

  tools/boot.py --kernel build/kernel/veneer.elf --modules init.elf,hello.elf
  tools/boot.py --iso build/veneer.iso

Exits with 0 when the guest powers off with success, 1 otherwise.
"""

import argparse
import subprocess
import sys

import qemu_args


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel")
    ap.add_argument("--modules", help="comma-separated, init first")
    ap.add_argument("--append", default="")
    ap.add_argument("--iso")
    ap.add_argument("--icount", action="store_true", help="-icount shift=0 (1 ns per instruction)")
    args = ap.parse_args()
    if args.iso:
        cmd = [qemu_args.QEMU] + qemu_args.MACHINE + ["-cdrom", args.iso, "-boot", "d"]
    elif args.kernel and args.modules:
        cmd = qemu_args.veneer_command(args.kernel, args.modules.split(","), args.append, args.icount)
    else:
        ap.error("give --kernel and --modules, or --iso")
    print("$ " + " ".join(cmd), flush=True)
    code = subprocess.call(cmd, stdin=subprocess.DEVNULL)
    if code == qemu_args.EXIT_SUCCESS:
        print("\n[veneer: guest powered off with success]")
        return 0
    print(f"\n[veneer: QEMU exited with {code}]")
    return 1


if __name__ == "__main__":
    sys.exit(main())
