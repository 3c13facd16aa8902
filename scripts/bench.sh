#!/usr/bin/env bash
# Benchmarks (npm run bench): builds, then runs every dist-bench/bench/*.bench.js in turn,
# the scaling table (scaling.bench.js: 3, 5, 7 signers; minutes, most of it keygen) included.
# Each prints one JSON object per line; nothing else goes to stdout.
# The benchmarks use test-only helpers (the DKLs23 trusted dealer, the in-memory drivers), so
# they are built apart from the production tree: dist/ (what the image ships, which
# test/integration/build-has-no-test-helpers.test.ts checks) never contains them. Cluster
# benchmarks spawn the production build, dist/signer/main.js.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
rm -rf dist dist-bench && npm run --silent build >&2
npx tsc -p tsconfig.bench.json >&2
shopt -s nullglob
for bench in dist-bench/bench/*.bench.js; do
  echo "bench: running $bench" >&2
  node "$bench" "$@"
done
