"""Booting a Linux program on ExOS for the tests: Veneer, linux.elf as init
and a root file system, run by tests/qemu/run_guest.py."""
import os
import subprocess
import sys

RUN_GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu", "run_guest.py")


def boot(kernel, init, rootfs, args, timeout, expect=()):
    """Runs `args=ARGS` (the program's arguments, comma-separated) under the
    default init (/bin/sh); every regex in `expect` must appear in the
    serial log. Returns the log and run_guest.py's exit status."""
    cmd = [sys.executable, RUN_GUEST, "--kernel", kernel, "--modules", f"{init},{rootfs}", "--no-summary",
           "--timeout", str(timeout), "--append", f"args={args}"]
    for e in expect:
        cmd += ["--expect-output", e]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    return out.stdout + out.stderr, out.returncode
