#!/usr/bin/env bash
# Benchmarks (npm run bench): builds, then runs every dist/bench/*.bench.js in turn.
# Each prints one JSON object per line; nothing else goes to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
rm -rf dist && npm run --silent build >&2
shopt -s nullglob
for bench in dist/bench/*.bench.js; do
  echo "bench: running $bench" >&2
  node "$bench" "$@"
done
