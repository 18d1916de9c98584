#!/usr/bin/env bash
# Builds Veneer and boots it in QEMU: init starts two ExOS programs from the
# boot modules, they fault pages in from user space, and the machine powers
# off. Pass --iso to boot the GRUB (multiboot2) ISO instead of -kernel, and
# --iso --uefi to boot it with UEFI firmware (OVMF).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
if [ "${1:-}" = "--iso" ]; then
  cmake --build build --target iso >/dev/null
  [ "${2:-}" = "--uefi" ] && exec python3 tools/boot.py --iso build/veneer.iso --uefi
  exec python3 tools/boot.py --iso build/veneer.iso
fi
exec python3 tools/boot.py --kernel build/kernel/veneer.elf \
  --modules build/apps/init.elf,build/apps/echo.elf,build/apps/hello.elf
