#!/bin/sh
# Runs every script in /tests/scripts in a fresh directory, output and
# errors together, between markers tests/linux/differential.py reads. The
# same driver runs on the host (real Linux) for the reference.
dir=${SCRIPTS:-/tests/scripts}
base=${WORK:-/tmp}
n=0
for s in "$dir"/*.sh; do
  n=$((n + 1))
  mkdir -p "$base/t$n" && cd "$base/t$n" || exit 1
  echo "=== begin $(basename "$s")"
  sh "$s" 2>&1
  echo "=== end $(basename "$s") status $?"
done
echo "=== all $n scripts ran"
