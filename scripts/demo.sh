#!/usr/bin/env bash
# Builds Veneer and boots it in QEMU into an interactive shell: Debian's
# unmodified busybox sh, running on ExOS's Linux personality, on a terminal
# ExOS drives itself (COM2, through an I/O-port capability; the kernel's log
# on COM1 shares the screen). Try ls, ps, free, vi, pipelines, `yes | cat`
# and Ctrl-C; `poweroff` (or Ctrl-A X) ends it.
#
#   bash scripts/demo.sh            the shell
#   bash scripts/demo.sh --exos     the first demo: init starts two ExOS programs
#                                   from the boot modules, they fault pages in, power off
#   bash scripts/demo.sh --iso [--uefi]   that demo from the GRUB ISO (BIOS, or UEFI with OVMF)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
case "${1:-}" in
  --iso)
    cmake --build build --target iso >/dev/null
    [ "${2:-}" = "--uefi" ] && exec python3 tools/boot.py --iso build/veneer.iso --uefi
    exec python3 tools/boot.py --iso build/veneer.iso ;;
  --exos)
    exec python3 tools/boot.py --kernel build/kernel/veneer.elf \
      --modules build/apps/init.elf,build/apps/echo.elf,build/apps/hello.elf ;;
esac
cmake --build build --target linux_rootfs >/dev/null
exec python3 tools/boot.py --terminal --kernel build/kernel/veneer.elf \
  --modules build/apps/linux.elf,build/tests/linux/rootfs.cpio --append "init=/bin/sh args= tty=1"
