#!/usr/bin/env bash
# Builds everything and runs every test: host unit tests (GoogleTest) and
# QEMU integration tests. The last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
cd build
ctest -j"$(nproc)" --output-on-failure --timeout 300 | tee ctest.log
status=${PIPESTATUS[0]}
total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' ctest.log | tail -1)
failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' ctest.log | tail -1)
total=${total:-0}
failed=${failed:-1}
echo "$((total - failed)) passed, ${failed} failed"
exit "$status"
