#!/usr/bin/env python3
"""Differential test of the Linux personality: the same unmodified program
(Debian's static busybox) runs the same shell scripts on real Linux and on
ExOS, and every script's output (stdout and stderr together) and exit
status must be identical.

  differential.py --kernel veneer.elf --init linux.elf --rootfs rootfs.cpio
                  --busybox /bin/busybox --scripts tests/linux/root/tests
                  [--linux-guest]

Real Linux is the host's by default: a private bin/ of busybox applet links
is the whole PATH, so host tools never stand in for busybox's. With
--linux-guest it is Debian's kernel booted in the same QEMU machine
(bench/linux/fetch.sh, cached in build/linux-baseline), its initramfs
holding the same busybox and scripts; without a network to fetch the
kernel the test is skipped (exit 77)."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import exos_guest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import linux_guest  # noqa: E402

SKIP = 77

SECTION = re.compile(r"^=== begin (\S+)\r?\n(.*?)^=== end \1 status (\d+)\r?$", re.S | re.M)


def sections(text):
    return {m.group(1): (m.group(2).replace("\r\n", "\n"), int(m.group(3))) for m in SECTION.finditer(text)}


def host_run(busybox, scripts):
    with tempfile.TemporaryDirectory() as tmp:
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir)
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
        for a in applets:
            os.symlink(os.path.abspath(busybox), os.path.join(bindir, a))
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        env = {"PATH": bindir, "HOME": "/", "TERM": "dumb", "SCRIPTS": os.path.join(scripts, "scripts"),
               "WORK": work, "LC_ALL": "C"}
        out = subprocess.run([busybox, "sh", os.path.join(scripts, "run-all.sh")], cwd=work, env=env,
                             capture_output=True, text=True, timeout=120)
        return out.stdout


def linux_guest_run(busybox, scripts, build):
    """The scripts in a Linux guest: Debian's kernel, an initramfs of busybox
    and the scripts; its /init runs run-all.sh and powers off. None when the
    kernel cannot be fetched."""
    vmlinuz = linux_guest.kernel(build)
    if vmlinuz is None:
        return None
    with tempfile.TemporaryDirectory() as stage:
        for d in ("bin", "proc", "tmp", "tests", "dev"):
            os.mkdir(os.path.join(stage, d))
        subprocess.run(["cp", busybox, os.path.join(stage, "bin", "busybox")], check=True)
        subprocess.run(["cp", "-r", os.path.join(scripts, "scripts"), os.path.join(scripts, "run-all.sh"),
                        os.path.join(stage, "tests")], check=True)
        # Output through a pipe, as on the host and on ExOS (whose console is
        # not a terminal there): ls and friends format for terminals.
        with open(os.path.join(stage, "init"), "w") as f:
            f.write("#!/bin/busybox sh\n/bin/busybox --install -s /bin\nexport PATH=/bin HOME=/ TERM=dumb LC_ALL=C\n"
                    "mount -t proc proc /proc\nmount -t tmpfs tmpfs /tmp\n"
                    "dmesg -n 1\nsh /tests/run-all.sh 2>&1 | cat\npoweroff -f\n")
        os.chmod(os.path.join(stage, "init"), 0o755)
        initrd = os.path.join(stage, "initramfs.cpio")  # written after the file list is taken
        linux_guest.initramfs(stage, initrd)
        out = subprocess.run(linux_guest.command(vmlinuz, initrd, "quiet loglevel=0 panic=-1"),
                             stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
        return linux_guest.clean(out.stdout.decode("utf-8", "replace"))


def exos_run(args):
    return exos_guest.boot(args.kernel, args.init, args.rootfs, "/tests/run-all.sh", args.timeout,
                           [r"=== all \d+ scripts ran", "linux: /bin/sh exited with status 0"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--init", required=True)
    p.add_argument("--rootfs", required=True)
    p.add_argument("--busybox", required=True)
    p.add_argument("--scripts", required=True)
    p.add_argument("--timeout", type=int, default=240)
    p.add_argument("--linux-guest", action="store_true", help="real Linux in QEMU (Debian's kernel), not the host")
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="where build/linux-baseline is cached")
    args = p.parse_args()
    args.scripts = os.path.abspath(args.scripts)

    if args.linux_guest:
        text = linux_guest_run(args.busybox, args.scripts, args.build)
        if text is None:
            print("SKIP: Debian's kernel could not be fetched (no network?)")
            return SKIP
        want = sections(text)
        if not want:
            print(text[-3000:])
            print("FAIL: no script output from the Linux guest")
            return 1
        where = "the Linux guest"
    else:
        want = sections(host_run(args.busybox, args.scripts))
        where = "the host's Linux"
    log, rc = exos_run(args)
    got = sections(log)
    if rc != 0:
        print(log)
        print(f"FAIL: the ExOS run failed (run_guest.py exit {rc})")
        return 1
    failed = 0
    for name in sorted(want):
        w_out, w_status = want[name]
        if name not in got:
            print(f"FAIL {name}: no output from ExOS")
            failed += 1
            continue
        g_out, g_status = got[name]
        if (g_out, g_status) == (w_out, w_status):
            print(f"same {name} (status {g_status}, {len(g_out.splitlines())} lines)")
            continue
        failed += 1
        print(f"FAIL {name}: status linux {w_status}, exos {g_status}")
        import difflib
        for line in difflib.unified_diff(w_out.splitlines(), g_out.splitlines(), "linux", "exos", lineterm=""):
            print("   ", line)
    print(f"{len(want) - failed} of {len(want)} scripts identical on {where} and ExOS")
    return 1 if failed or not want else 0


if __name__ == "__main__":
    sys.exit(main())
