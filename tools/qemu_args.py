"""The QEMU command line shared by the demo, the guest tests and the benchmarks.

One place, so every run uses the same machine: TCG, one CPU, 256 MiB, the
serial port on stdio, and isa-debug-exit so the guest can end QEMU with a
result code ((code << 1) | 1).
"""

import shutil

QEMU = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"

MACHINE = [
    "-machine", "pc", "-cpu", "max", "-m", "256M", "-smp", "1",
    "-nographic", "-no-reboot", "-display", "none", "-monitor", "none",
    "-serial", "stdio",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
]

# Guest time = 1 ns per guest instruction: rdtsc deltas count instructions,
# and timer-driven behaviour does not depend on host load.
ICOUNT = ["-icount", "shift=0"]

# Guest code 0x10 (success) and 0x11 (failure) as QEMU exit codes.
EXIT_SUCCESS = (0x10 << 1) | 1  # 33
EXIT_FAILURE = (0x11 << 1) | 1  # 35
EXIT_PANIC = (0x7F << 1) | 1    # 255: kernel panic


def veneer_command(kernel, modules, append="", icount=False):
    """QEMU command booting the Veneer kernel with boot modules (init first)."""
    cmd = [QEMU] + MACHINE
    if icount:
        cmd += ICOUNT
    cmd += ["-kernel", str(kernel), "-initrd", ",".join(str(m) for m in modules)]
    if append:
        cmd += ["-append", append]
    return cmd
