#!/usr/bin/env bash
# One command for the whole side-by-side benchmark: install what is missing
# (Debian packages only), then let run.py build Veneer (cmake/ninja) and the
# Linux baseline, boot both with and without -icount, and print the table.
#
#   bash bench/harness/run.sh [run.py options]     e.g. --compare docs/benchmarks.json
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v gcc >/dev/null                || need+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ]  || need+=(libc6-dev)
command -v cpio >/dev/null               || need+=(cpio)
command -v gzip >/dev/null               || need+=(gzip)
command -v cmake >/dev/null              || need+=(cmake)
command -v ninja >/dev/null              || need+=(ninja-build)
command -v python3 >/dev/null            || need+=(python3)
# The chart needs matplotlib or gnuplot; gnuplot-nox is the smaller of the two.
if ! command -v gnuplot >/dev/null && ! python3 -c 'import matplotlib' 2>/dev/null; then
    need+=(gnuplot-nox)
fi
if [ "${#need[@]}" -gt 0 ]; then
    echo "[bench] installing: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

cd "$ROOT"
exec python3 bench/harness/run.py "$@"
