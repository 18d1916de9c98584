#!/usr/bin/env python3
"""Differential test of the Linux personality: the same unmodified program
(Debian's static busybox) runs the same shell scripts on the host's real
Linux and on ExOS, and every script's output (stdout and stderr together)
and exit status must be identical.

  differential.py --kernel veneer.elf --init linux.elf --rootfs rootfs.cpio
                  --busybox /bin/busybox --scripts tests/linux/root/tests

The host run uses a private bin/ of busybox applet links as its whole PATH,
so host tools never stand in for busybox's."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import exos_guest

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
    args = p.parse_args()
    args.scripts = os.path.abspath(args.scripts)

    want = sections(host_run(args.busybox, args.scripts))
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
    print(f"{len(want) - failed} of {len(want)} scripts identical on Linux and ExOS")
    return 1 if failed or not want else 0


if __name__ == "__main__":
    sys.exit(main())
