"""The QEMU command line shared by the demo, the guest tests and the benchmarks.

One place, so every run uses the same machine: TCG, one CPU, 256 MiB, the
serial port on stdio (COM1, the kernel's log; COM2 is a second UART whose
output is dropped: the device the I/O-port tests use), isa-debug-exit so the guest can end QEMU with a
result code ((code << 1) | 1), and a virtio-net interface on QEMU's user network.
"""

import re
import shutil

QEMU = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"

MACHINE = [
    "-machine", "pc", "-cpu", "max", "-m", "256M", "-smp", "1",
    "-nographic", "-no-reboot", "-display", "none", "-monitor", "none",
    "-serial", "stdio", "-serial", "null",
    "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
    # The network: virtio-net on QEMU's user network, restricted (nothing
    # leaves this machine; the guest reaches only QEMU's own gateway, DNS and
    # forwarded ports on 127.0.0.1).
    # (-netdev and -device, not -nic: a -nic device comes without MSI-X; no
    # option ROM: iPXE would only slow the boot down.)
    "-netdev", "user,id=net0,restrict=on",
    "-device", "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,romfile=",
]

# Guest time = 1 ns per guest instruction: rdtsc deltas count instructions,
# and timer-driven behaviour does not depend on host load.
ICOUNT = ["-icount", "shift=0"]

# Guest code 0x10 (success) and 0x11 (failure) as QEMU exit codes.
EXIT_SUCCESS = (0x10 << 1) | 1  # 33
EXIT_FAILURE = (0x11 << 1) | 1  # 35
EXIT_INIT_GONE = (0x12 << 1) | 1  # 37: init exited or died (the kernel powered off)
EXIT_PANIC = (0x7F << 1) | 1    # 255: kernel panic


# A terminal session: the kernel's log (COM1) and ExOS's terminal (COM2)
# share this terminal, keyboard input going to COM2; Ctrl-C reaches the
# guest instead of stopping QEMU (Ctrl-A X quits QEMU).
TERMINAL_SERIALS = ["-chardev", "stdio,id=console,mux=on,signal=off",
                    "-serial", "chardev:console", "-serial", "chardev:console"]
# For a program driving the terminal: the kernel's log to a file, COM2 on
# stdin/stdout alone.
def logged_serials(log_path):
    return ["-serial", f"file:{log_path}", "-serial", "stdio"]


def with_serials(cmd, serials):
    """cmd with MACHINE's serial ports replaced by `serials`."""
    out, i = [], 0
    while i < len(cmd):
        if cmd[i] == "-serial":
            i += 2
            continue
        out.append(cmd[i])
        i += 1
    at = out.index("-device")
    return out[:at] + serials + out[at:]


def with_hostfwd(cmd, rules):
    """cmd with QEMU's user network forwarding `rules` (e.g.
    "udp:127.0.0.1:5555-:7") from the host's 127.0.0.1 to the guest.

    libslirp's restricted mode drops every UDP datagram the guest sends
    (answers to forwarded ones included), so a forwarding machine is not
    restricted: its peers are the forwarded ports on 127.0.0.1, and what
    runs in the guest (tests/net, tests/linux) only answers who wrote to it
    or writes to 10.0.2.2, which is the host's 127.0.0.1. With no rules:
    unrestricted only."""
    out = list(cmd)
    at = out.index("-netdev") + 1
    out[at] = out[at].replace("restrict=on", "restrict=off") + "".join(",hostfwd=" + r for r in rules)
    return out


def with_socket_link(cmd, how):
    """cmd with the network on a QEMU socket link instead of the user
    network: `how` is "listen=127.0.0.1:PORT" or "connect=127.0.0.1:PORT"
    (a TCP stream of frames, each after its 4-byte big-endian length)."""
    out = list(cmd)
    at = out.index("-netdev") + 1
    out[at] = "socket,id=net0," + how
    return out


def with_mac(cmd, mac):
    """cmd with the network interface's MAC address `mac` (a second guest
    on the same link needs its own)."""
    out = list(cmd)
    for i, a in enumerate(out):
        if a.startswith("virtio-net-pci,"):
            out[i] = re.sub(r"mac=[0-9a-f:]+", "mac=" + mac, a)
    return out


def veneer_command(kernel, modules, append="", icount=False, serials=None):
    """QEMU command booting the Veneer kernel with boot modules (init first).

    serials: replaces the default serial ports (TERMINAL_SERIALS, logged_serials)."""
    cmd = [QEMU] + (with_serials(MACHINE, serials) if serials else MACHINE)
    if icount:
        cmd += ICOUNT
    cmd += ["-kernel", str(kernel), "-initrd", ",".join(str(m) for m in modules)]
    if append:
        cmd += ["-append", append]
    return cmd


# UEFI firmware (Debian's ovmf package). The variable store is copied per run:
# OVMF writes to it.
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


def iso_command(iso, uefi=False, icount=False, vars_copy=None):
    """QEMU command booting the GRUB ISO, with SeaBIOS or (uefi) OVMF.

    For UEFI, vars_copy is a writable copy of OVMF_VARS (a temporary one by default)."""
    cmd = [QEMU] + MACHINE
    if icount:
        cmd += ICOUNT
    if uefi:
        if vars_copy is None:
            import atexit
            import os
            import tempfile
            fd, vars_copy = tempfile.mkstemp(prefix="veneer-ovmf-vars-", suffix=".fd")
            os.close(fd)
            atexit.register(lambda: os.path.exists(vars_copy) and os.unlink(vars_copy))
        shutil.copyfile(OVMF_VARS, vars_copy)
        cmd += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]
    cmd += ["-cdrom", str(iso), "-boot", "d"]
    return cmd
