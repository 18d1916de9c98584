#!/usr/bin/env bash
# Builds the Linux personality's root file system: a newc cpio archive (the
# format of a Linux initramfs) with Debian's busybox-static as /bin/busybox,
# a link per applet it lists, and the given directories' contents on top.
#
#   bash scripts/make_rootfs.sh BUSYBOX OUT.cpio [DIR...]
set -euo pipefail
busybox="$1"; out="$2"; shift 2
command -v cpio >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cpio >&2; }
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,dev,proc}
cp "$busybox" "$root/bin/busybox"
# busybox is a static x86-64 Linux program: it runs here too, to list itself.
for applet in $("$busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$root/$(dirname "$applet")"
  ln -sf /bin/busybox "$root/$applet"
done
for dir in "$@"; do cp -a "$dir"/. "$root"/; done
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
