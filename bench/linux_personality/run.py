#!/usr/bin/env python3
"""The same static Linux program (lxbench.c, musl-gcc -static) on Linux and
on ExOS's Linux personality, under QEMU -icount shift=0 (a guest rdtsc delta
is an instruction count), side by side.

  python3 bench/linux_personality/run.py [--build build]

Linux: Debian's kernel (bench/linux/fetch.sh, cached in build/linux-baseline)
booting an initramfs whose /init runs lxbench. ExOS: Veneer booting
linux.elf with a root file system holding lxbench as init=/bin/lxbench."""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import linux_guest  # noqa: E402
import qemu_args  # noqa: E402

BENCH = re.compile(r"BENCH (\w+) ([0-9.]+)")


def sh(*cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def run_qemu(cmd, timeout=600):
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    text = linux_guest.clean(out.stdout.decode("utf-8", "replace"))
    if "BENCH-DONE" not in text:
        sys.exit(f"no BENCH-DONE from {cmd[0]} ...:\n{text[-3000:]}")
    return {m.group(1): float(m.group(2)) for m in BENCH.finditer(text)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=str(ROOT / "build"))
    args = p.parse_args()
    build = Path(args.build).resolve()
    work = build / "linux-personality-bench"
    work.mkdir(parents=True, exist_ok=True)
    binary = work / "lxbench"
    sh("musl-gcc", "-static", "-O2", "-o", str(binary), str(ROOT / "bench/linux_personality/lxbench.c"))

    # ExOS: busybox + lxbench in the personality's root file system.
    with tempfile.TemporaryDirectory() as extra:
        os.makedirs(f"{extra}/bin")
        sh("cp", str(binary), f"{extra}/bin/lxbench")
        sh("bash", str(ROOT / "scripts/make_rootfs.sh"), "/bin/busybox", str(work / "exos-rootfs.cpio"), extra)
    exos = run_qemu(qemu_args.veneer_command(build / "kernel/veneer.elf",
                                             [build / "apps/linux.elf", work / "exos-rootfs.cpio"],
                                             "init=/bin/lxbench args=", icount=True))

    # Linux: its /init runs the same binary, then powers off.
    vmlinuz = linux_guest.kernel(build)
    if vmlinuz is None:
        sys.exit("cannot fetch the Linux baseline kernel (bench/linux/fetch.sh)")
    with tempfile.TemporaryDirectory() as stage:
        os.makedirs(f"{stage}/bin")
        sh("cp", "/bin/busybox", f"{stage}/bin/busybox")
        sh("cp", str(binary), f"{stage}/bin/lxbench")
        Path(stage, "init").write_text("#!/bin/busybox sh\n/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin\n"
                                       "/bin/busybox --install -s\n/bin/lxbench\n"
                                       "/bin/busybox poweroff -f\n")
        os.chmod(f"{stage}/init", 0o755)
        linux_guest.initramfs(stage, work / "linux-initramfs.cpio")
    linux = run_qemu(linux_guest.command(vmlinuz, work / "linux-initramfs.cpio", "quiet panic=-1", icount=True))

    print("| operation (same static binary) | ExOS | Linux | Linux / ExOS |")
    print("|---|---:|---:|---:|")
    for name in exos:
        l = linux.get(name)
        ratio = f"{l / exos[name]:.1f}x" if l else "n/a"
        print(f"| {name} | {exos[name]:.0f} | {l:.0f} | {ratio} |" if l else f"| {name} | {exos[name]:.0f} | n/a | n/a |")


if __name__ == "__main__":
    main()
