#!/usr/bin/env bash
# Builds Veneer and boots ExOS's Linux personality in QEMU: linux.elf (as
# init) fills a RAM file system from build/tests/linux/rootfs.cpio (Debian's
# busybox-static plus tests/linux/root) and runs a Linux program in it.
#
#   bash scripts/linux.sh                      # /bin/sh /etc/rc (a short tour)
#   bash scripts/linux.sh /bin/sh /tests/run-all.sh
#   bash scripts/linux.sh /bin/busybox ls -l /bin
#   STRACE=1 bash scripts/linux.sh ...         # every system call on the console
#
# Arguments may not contain spaces or commas (they travel on the kernel
# command line). The program reads end of file from its terminal; bash scripts/demo.sh
# gives it a real one (tty=1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
append="init=${1:-/bin/sh}"
if [ $# -gt 1 ]; then
  shift
  append+=" args=$(IFS=,; echo "$*")"
elif [ $# -eq 1 ]; then
  append+=" args="
fi
[ -n "${STRACE:-}" ] && append+=" strace=1"
exec python3 tools/boot.py --kernel build/kernel/veneer.elf \
  --modules build/apps/linux.elf,build/tests/linux/rootfs.cpio --append "$append"
