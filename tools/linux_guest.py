"""The Linux baseline guest, for the tests and benchmarks that compare with
real Linux: Debian's kernel (bench/linux/fetch.sh caches it under the build
directory) booting an initramfs made from a staging directory, in the same
QEMU machine as Veneer (qemu_args)."""
import os
import re
import subprocess

import qemu_args

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Terminal control sequences the firmware and the kernel print (resets,
# clears, modes); they may sit at the start of a line of program output.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[c()][A-Za-z0-9]?")


def kernel(build_dir):
    """Debian's kernel image (fetched once into build_dir/linux-baseline), or
    None when it cannot be fetched (no network); fetch.sh's errors are printed."""
    fetch = subprocess.run(["bash", os.path.join(ROOT, "bench/linux/fetch.sh"),
                            os.path.join(str(build_dir), "linux-baseline")], capture_output=True, text=True)
    if fetch.returncode != 0:
        print(fetch.stderr[-1500:])
        return None
    boot = os.path.join(fetch.stdout.strip().splitlines()[-1], "kernel", "boot")
    return next(os.path.join(boot, f) for f in sorted(os.listdir(boot)) if f.startswith("vmlinuz-"))


def initramfs(stage, out_path):
    """A newc cpio of everything in the directory `stage` (its /init runs first)."""
    files = subprocess.run("find . | LC_ALL=C sort", shell=True, cwd=stage, capture_output=True, check=True).stdout
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=stage, input=files, capture_output=True,
                          check=True).stdout
    with open(out_path, "wb") as f:
        f.write(cpio)


def command(vmlinuz, initrd, append, icount=False):
    """QEMU command booting the Linux guest on the console ttyS0 (stdio)."""
    return ([qemu_args.QEMU] + qemu_args.MACHINE + (qemu_args.ICOUNT if icount else []) +
            ["-kernel", str(vmlinuz), "-initrd", str(initrd), "-append", f"console=ttyS0 {append}"])


def clean(text):
    """Serial output without terminal control sequences."""
    return _ESCAPES.sub("", text)
