#!/usr/bin/env python3
"""Where the benchmarks' instructions go (bench/profile.sh runs this).

Boots the profiling build of the benchmark program (bench_veneer_profile:
markers around every row's timed loop) under -icount shift=0 with the pcprof
plugin (tools/pcprof/plugin.cc), then prints, per row: instructions, CR3
writes and invlpgs per operation, and where the instructions go (user code,
kernel entry/exit assembly, kernel C++); for the rows named on the command
line, the functions (and with --insns, the instructions) that take them.

  tools/pcprof/report.py --build build [--insns N] [ROW ...]
"""
import argparse
import bisect
import os
import re
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import qemu_args  # noqa: E402

# Kernel assembly that enters and leaves the kernel (entry.S).
ENTRY_EXIT = re.compile(r"^(isr\d+|exception_entry|trap_full|env_pop_tf|syscall_\w+|pct_sync_fast)$")
KERNEL_BASE = 0xFFFF800000000000


def symbols(elf):
    out = subprocess.run(["nm", "-n", "--defined-only", "-C", elf], capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[1].lower() in "tw":
            syms.append((int(parts[0], 16), parts[2]))
    return syms


class Symbolizer:
    def __init__(self, elfs):
        self.syms = sorted(s for elf in elfs for s in symbols(elf))
        self.addrs = [a for a, _ in self.syms]

    def name(self, pc):
        i = bisect.bisect_right(self.addrs, pc) - 1
        return self.syms[i][1] if i >= 0 else "?"


def category(pc, function):
    if pc < KERNEL_BASE:
        return "user"
    return "entry/exit" if ENTRY_EXIT.match(function.split("(")[0]) else "kernel"


def read_windows(path):
    windows, cur = [], None
    for line in open(path):
        if line.startswith("W "):
            _, index, total, cr3, invlpg = line.split()
            cur = {"total": int(total), "cr3": int(cr3), "invlpg": int(invlpg), "pcs": []}
            windows.append(cur)
        elif cur is not None:
            pc, count, dis = line.rstrip("\n").split(" ", 2)
            cur["pcs"].append((int(pc, 16), int(count), dis))
    return windows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--insns", type=int, default=0, help="also list the N busiest instructions of each named row")
    ap.add_argument("rows", nargs="*", help="rows to break down by function")
    args = ap.parse_args()
    build = args.build
    kernel = os.path.join(build, "kernel/veneer.elf")
    program = os.path.join(build, "bench/veneer/bench_veneer_profile.elf")
    plugin = os.path.join(build, "tools/libpcprof.so")
    outdir = os.path.join(build, "profile")
    os.makedirs(outdir, exist_ok=True)
    prof = os.path.join(outdir, "pcprof.out")
    cmd = qemu_args.veneer_command(kernel, [program], icount=True) + ["-plugin", f"{plugin},out={prof}"]
    log = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600).stdout
    open(os.path.join(outdir, "serial.log"), "w").write(log)
    names = re.findall(r"^BENCH-PROFILE (\S+) (\d+)", log, re.M)
    windows = read_windows(prof)
    if len(names) != len(windows):
        sys.exit(f"report.py: {len(names)} rows announced but {len(windows)} windows recorded (see {outdir})")
    sym = Symbolizer([kernel, program])

    print(f"{'row':26}{'instr/op':>10}{'user':>9}{'entry/exit':>11}{'kernel':>9}{'cr3/op':>9}{'invlpg/op':>10}")
    detail = []
    for (name, iters), w in zip(names, windows):
        n = int(iters)
        split = defaultdict(int)
        functions = defaultdict(int)
        for pc, count, dis in w["pcs"]:
            f = sym.name(pc)
            split[category(pc, f)] += count
            functions[f] += count
        print(f"{name:26}{w['total'] / n:10.1f}{split['user'] / n:9.1f}{split['entry/exit'] / n:11.1f}"
              f"{split['kernel'] / n:9.1f}{w['cr3'] / n:9.2f}{w['invlpg'] / n:10.2f}")
        if name in args.rows:
            detail.append((name, n, w, functions))
    for name, n, w, functions in detail:
        print(f"\n{name}: {w['total'] / n:.1f} instructions per operation")
        for f, count in sorted(functions.items(), key=lambda kv: -kv[1]):
            if count / n >= 0.05:
                print(f"  {count / n:8.1f}  {f}")
        if args.insns:
            print(f"  busiest instructions:")
            for pc, count, dis in sorted(w["pcs"], key=lambda p: -p[1])[: args.insns]:
                print(f"  {count / n:8.2f}  {pc:x}  {sym.name(pc):28.28}  {dis}")


if __name__ == "__main__":
    main()
