#!/usr/bin/env bash
# README command 1 (npm run local): installs what it needs, builds, then runs the local
# cluster end to end. Flags: --json, --keep, --stop (see signer/local/cli.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
if [ "${1:-}" != "--stop" ] || [ ! -f dist/signer/local/cli.js ]; then
  rm -rf dist
  npm run --silent build >&2
fi
exec node dist/signer/local/cli.js "$@"
