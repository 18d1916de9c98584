#!/usr/bin/env bash
# Packet filter and safe handler benchmarks on the host: instructions per
# packet (callgrind) and nanoseconds per packet (Google Benchmark) for K = 1,
# 10, 100, 1000 UDP port filters (compiled merged tree, tree interpreter,
# libpcap one program per port), the echo handler JIT'd and interpreted, and
# the cost of a change to a set of 1000 filters. Prints the table and writes
# docs/dpf.json. Options: --no-write (print only), --quick (short timings).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/deps.sh
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja >/dev/null
cmake --build build --target dpf_bench dpf_count -- -j2
exec python3 bench/dpf/report.py "$@"
