#!/usr/bin/env python3
"""Boots Veneer in QEMU with the serial console on this terminal.

  tools/boot.py --kernel build/kernel/veneer.elf --modules init.elf,hello.elf
  tools/boot.py --iso build/veneer.iso            (BIOS; add --uefi for OVMF)
  tools/boot.py --gdb --kernel ... --modules ...  (halted, gdb stub on :1234)
  tools/boot.py --terminal --kernel ... --modules build/apps/linux.elf,...  (ExOS's terminal
      on COM2 takes this terminal's keyboard; the kernel log shares the screen; no timeout)

Exits with 0 when the guest powers off with success, 1 otherwise. A guest
that has not finished after --timeout seconds (default 300; 0: no limit) is
stopped and counts as a failure.
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
    ap.add_argument("--uefi", action="store_true", help="boot the ISO with OVMF (UEFI) instead of SeaBIOS")
    ap.add_argument("--icount", action="store_true", help="-icount shift=0 (1 ns per instruction)")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds before a guest that has not finished is stopped (0: never)")
    ap.add_argument("--gdb", action="store_true",
                    help="start halted with QEMU's gdb stub on localhost:1234 (see docs/debugging.md); "
                         "no timeout")
    ap.add_argument("--gdb-port", type=int, default=1234)
    ap.add_argument("--terminal", action="store_true",
                    help="interactive: keyboard to the guest's second UART (ExOS's terminal, tty=1); "
                         "Ctrl-A X quits QEMU; no timeout")
    ap.add_argument("--hostfwd", action="append", default=[],
                    help="forward a port of the host's 127.0.0.1 to the guest, e.g. udp:127.0.0.1:5555-:7")
    args = ap.parse_args()
    if args.iso:
        cmd = qemu_args.iso_command(args.iso, uefi=args.uefi, icount=args.icount)
    elif args.kernel and args.modules:
        cmd = qemu_args.veneer_command(args.kernel, args.modules.split(","), args.append, args.icount,
                                       serials=qemu_args.TERMINAL_SERIALS if args.terminal else None)
    else:
        ap.error("give --kernel and --modules, or --iso")
    if args.hostfwd:
        cmd = qemu_args.with_hostfwd(cmd, args.hostfwd)
    timeout = args.timeout or None
    if args.gdb:
        cmd += ["-gdb", f"tcp:127.0.0.1:{args.gdb_port}", "-S"]
        timeout = None
        print(f"veneer: QEMU is halted, waiting for gdb on 127.0.0.1:{args.gdb_port}. In another terminal:\n"
              f"  gdb -x tools/veneer.gdb -ex 'veneer-connect {args.gdb_port}'\n", flush=True)
    if args.terminal:
        timeout = None
    print("$ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdin=None if args.terminal else subprocess.DEVNULL)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"\n[veneer: no power-off within {args.timeout:g} s; QEMU stopped (raise --timeout, or 0 for none)]")
        return 1
    except KeyboardInterrupt:
        proc.kill()
        proc.wait()
        return 1
    if code == qemu_args.EXIT_SUCCESS:
        print("\n[veneer: guest powered off with success]")
        return 0
    print(f"\n[veneer: QEMU exited with {code}]")
    return 1


if __name__ == "__main__":
    sys.exit(main())
