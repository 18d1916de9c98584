#!/usr/bin/env bash
# Fetch the Linux baseline: Debian's own kernel image and busybox-static,
# unpacked (not installed) into a cache under build/. Idempotent: once the
# cache holds a kernel it touches neither apt nor the network again.
#
#   bash bench/linux/fetch.sh [CACHE_DIR]     (default: build/linux-baseline)
#
# Prints the cache directory on its last line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${1:-$ROOT/build/linux-baseline}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"

log() { echo "[linux-fetch] $*" >&2; }

# Host tools the Linux side needs. apt-get update only when something is missing.
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
command -v gcc >/dev/null                || need_pkgs+=(gcc)
command -v cpio >/dev/null               || need_pkgs+=(cpio)
command -v gzip >/dev/null               || need_pkgs+=(gzip)
command -v dpkg-deb >/dev/null           || need_pkgs+=(dpkg)
# gcc -static needs the static libc, which lives in libc6-dev.
[ -e /usr/lib/x86_64-linux-gnu/libc.a ]  || need_pkgs+=(libc6-dev)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    log "installing: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi

have_kernel() { compgen -G "$CACHE/kernel/boot/vmlinuz-*" >/dev/null; }
have_busybox() { [ -x "$CACHE/busybox/bin/busybox" ]; }

if have_kernel && have_busybox; then
    log "cached: $(basename "$(ls "$CACHE"/kernel/boot/vmlinuz-* | head -n1)")"
else
    export DEBIAN_FRONTEND=noninteractive
    # Package lists may be empty on a fresh machine; apt-get download needs them.
    if ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
        apt-get update -qq
    fi
    # linux-image-amd64 is a metapackage; the kernel is in the package it depends on
    # (e.g. linux-image-6.1.0-NN-amd64). Take the candidate version's dependency.
    kpkg="$(apt-cache depends linux-image-amd64 2>/dev/null \
            | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')"
    if [ -z "$kpkg" ]; then
        apt-get update -qq
        kpkg="$(apt-cache depends linux-image-amd64 \
                | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')"
    fi
    [ -n "$kpkg" ] || { log "cannot resolve the kernel package behind linux-image-amd64"; exit 1; }

    debs="$CACHE/debs"
    mkdir -p "$debs"
    # apt-get download writes into the current directory and runs as user _apt
    # when it can; a root-owned dir would make it warn, so keep it world-writable.
    chmod 0777 "$debs"
    (
        cd "$debs"
        compgen -G "${kpkg}_*.deb" >/dev/null || { log "downloading $kpkg"; apt-get download -q "$kpkg" >&2; }
        compgen -G "busybox-static_*.deb" >/dev/null || { log "downloading busybox-static"; apt-get download -q busybox-static >&2; }
    )
    rm -rf "$CACHE/kernel.tmp" "$CACHE/busybox.tmp"
    dpkg-deb -x "$(ls "$debs"/"${kpkg}"_*.deb | head -n1)" "$CACHE/kernel.tmp"
    dpkg-deb -x "$(ls "$debs"/busybox-static_*.deb | head -n1)" "$CACHE/busybox.tmp"
    # Modules are not needed (serial, initramfs and the ELF loader are built in);
    # dropping them keeps the cache small.
    rm -rf "$CACHE/kernel.tmp/lib/modules" "$CACHE/kernel.tmp/usr"
    rm -rf "$CACHE/kernel" "$CACHE/busybox"
    mv "$CACHE/kernel.tmp" "$CACHE/kernel"
    mv "$CACHE/busybox.tmp" "$CACHE/busybox"
    log "unpacked $kpkg"
fi

# A stable name for the harness.
ln -sfn "$(cd "$CACHE" && ls kernel/boot/vmlinuz-* | head -n1)" "$CACHE/vmlinuz"
echo "$CACHE"
