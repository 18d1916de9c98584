#!/usr/bin/env bash
# Fails unless the ISO carries both boot images: BIOS (El Torito) and UEFI.
# grub-mkrescue silently leaves out a platform whose GRUB modules are missing.
set -euo pipefail
report=$(xorriso -indev "$1" -report_el_torito plain 2>/dev/null)
grep -q "El Torito boot img :.*BIOS" <<<"$report" || { echo "check_iso: $1 has no BIOS boot image" >&2; rm -f "$1"; exit 1; }
grep -q "El Torito boot img :.*UEFI" <<<"$report" || { echo "check_iso: $1 has no UEFI boot image" >&2; rm -f "$1"; exit 1; }
