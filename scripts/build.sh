#!/usr/bin/env bash
# Configures and builds everything (kernel, ExOS, apps, tests, benchmarks) in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -f build/build.ninja ] || cmake -S . -B build -G Ninja >/dev/null
cmake --build build
