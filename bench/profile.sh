#!/usr/bin/env bash
# Where each benchmark's instructions go, instruction by instruction:
#   bash bench/profile.sh                 # every row: instr/op, user/entry/kernel split, CR3 writes, invlpgs
#   bash bench/profile.sh prot1 trap      # ... plus those rows' functions
#   bash bench/profile.sh --insns 30 trap # ... and their 30 busiest instructions
# Builds the profiling variant of the benchmark program (markers around each
# row's loop) and the QEMU plugin (tools/pcprof), boots it under -icount.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
cmake --build build --target bench_veneer_profile pcprof >/dev/null
exec python3 tools/pcprof/report.py --build build "$@"
