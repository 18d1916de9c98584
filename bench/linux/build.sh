#!/usr/bin/env bash
# Build the Linux baseline: fetch Debian's kernel (cached), compile linux_bench as a
# static /init, pack it with busybox into a gzip'd newc initramfs.
#
#   bash bench/linux/build.sh [CACHE_DIR]     (default: build/linux-baseline)
#
# Leaves CACHE_DIR/vmlinuz and CACHE_DIR/initramfs.cpio.gz.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$(bash "$ROOT/bench/linux/fetch.sh" "${1:-$ROOT/build/linux-baseline}" | tail -n1)"
log() { echo "[linux-build] $*" >&2; }

gcc -static -O2 -Wall -Wextra -Werror -o "$CACHE/linux_bench" "$ROOT/bench/linux/linux_bench.c"

# busybox rides along only for debugging (boot with rdinit=/bin/sh); the benchmark
# program itself is /init.
stage="$CACHE/initramfs.d"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/dev" "$stage/proc" "$stage/sys"
install -m 0755 "$CACHE/linux_bench" "$stage/init"
install -m 0755 "$CACHE/busybox/bin/busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"

# Sorted names and fixed ownership/mtime keep the archive byte-for-byte repeatable.
( cd "$stage" && find . -mindepth 1 -exec touch -h -d @0 {} + && find . -mindepth 1 | LC_ALL=C sort \
    | cpio --quiet -o -H newc --owner 0:0 --reproducible ) | gzip -9n > "$CACHE/initramfs.cpio.gz.tmp"
mv "$CACHE/initramfs.cpio.gz.tmp" "$CACHE/initramfs.cpio.gz"
log "initramfs: $CACHE/initramfs.cpio.gz ($(stat -c %s "$CACHE/initramfs.cpio.gz") bytes)"
echo "$CACHE"
