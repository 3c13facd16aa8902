#!/usr/bin/env bash
# Builds the test control plane used by the operator suite (vitest.operator.config.ts):
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes,
# etcd, kwok and helm, all from the Go module proxy at pinned versions, into a versioned cache
# directory outside the repository. Idempotent: a component whose binary already exists (and
# runs) is skipped, so a warm run takes well under a second.
#
# Go is used ONLY here, to build test tools; the product is TypeScript.
# First build on a 2-core machine: see test/controlplane/README.md (measured).
#
# Output: $MPC_K8S_BIN_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/mpc-platform/k8s-v1.34.4/bin)
set -euo pipefail

KUBERNETES_VERSION=v1.34.4 # k8s.io/kubernetes tag; staging modules are v0.34.4
ETCD_VERSION=v3.6.4        # the etcd client version k8s v1.34.4 vendors
KWOK_VERSION=v0.8.0        # go 1.26.0 in its go.mod; main needs a newer Go
HELM_VERSION=v3.21.4       # helm v3 line; go 1.26.0, no replace directives

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/mpc-platform/k8s-${KUBERNETES_VERSION}"
bin_dir="${MPC_K8S_BIN_DIR:-$cache_root/bin}"
work_dir="$cache_root/build"
mkdir -p "$bin_dir" "$work_dir"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false
log() { echo "[controlplane/build] $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "Go toolchain not found (need Go >= 1.24 to build the test control plane)"
  exit 1
fi

# A component counts as cached when its stamp (written after a complete build) and its
# binaries exist.
cached() {
  local stamp="$bin_dir/.$1.built" b
  [ -f "$stamp" ] || return 1
  for b in $(cat "$stamp"); do [ -x "$bin_dir/$b" ] || return 1; done
}
stamp() { local name="$1"; shift; echo "$@" >"$bin_dir/.$name.built"; }

minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
staging_version="v0.${KUBERNETES_VERSION#v1.}"

build_kubernetes() {
  local commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  local c
  cached "kubernetes-$KUBERNETES_VERSION" && { log "kubernetes $KUBERNETES_VERSION cached"; return; }
  log "building kubernetes $KUBERNETES_VERSION (${commands[*]})"
  local dir="$work_dir/kubernetes"
  mkdir -p "$dir"
  # `go install k8s.io/kubernetes/cmd/...@vX` is refused because k8s.io/kubernetes' go.mod has
  # replace directives; a wrapper module that requires it and replaces every staging module
  # (required at v0.0.0 upstream) with its published v0.<minor>.<patch> tag builds fine.
  (cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null)
  local upstream_mod
  upstream_mod="$(cd "$dir" && go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$KUBERNETES_VERSION.mod"
  {
    echo "module mpc-platform.test/k8sbins"
    echo
    echo "go 1.24.0"
    echo
    echo "godebug default=go1.24"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    for c in "${commands[@]}"; do echo "tool k8s.io/kubernetes/cmd/$c"; done
    echo
    echo "replace ("
    grep -E '^\s+k8s.io/[a-z0-9-]+ v0\.0\.0$' "$upstream_mod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } >"$dir/go.mod"
  (cd "$dir" && go mod tidy)
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  local out="$dir/out"
  rm -rf "$out" && mkdir -p "$out"
  for c in "${commands[@]}"; do
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out/$c" "k8s.io/kubernetes/cmd/$c")
    mv "$out/$c" "$bin_dir/$c"
    log "built $c"
  done
  stamp "kubernetes-$KUBERNETES_VERSION" "${commands[@]}"
}

build_etcd() {
  cached "etcd-$ETCD_VERSION" && { log "etcd $ETCD_VERSION cached"; return; }
  log "building etcd $ETCD_VERSION"
  local dir="$work_dir/etcd"
  mkdir -p "$dir"
  # go.etcd.io/etcd/server/v3 has relative replace lines, so `go install` is refused; a wrapper
  # main that calls etcdmain.Main (exactly what upstream's server/main.go does) builds.
  cat >"$dir/go.mod" <<GOMOD
module mpc-platform.test/etcd

go 1.24.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat >"$dir/main.go" <<'GOMAIN'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GOMAIN
  (cd "$dir" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$dir/etcd" . && mv "$dir/etcd" "$bin_dir/etcd")
  stamp "etcd-$ETCD_VERSION" etcd
}

build_kwok() {
  cached "kwok-$KWOK_VERSION" && { log "kwok $KWOK_VERSION cached"; return; }
  log "building kwok $KWOK_VERSION"
  GOBIN="$work_dir/gobin" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$work_dir/gobin/kwok" "$bin_dir/kwok"
  # kwok v0.8.0 has no built-in stages: hand it the upstream "fast" node and pod stages
  # (node-initialize, node-heartbeat, pod-ready/complete/delete) from its module as one file.
  local module_dir
  module_dir="$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  local stage_dir="$module_dir/kustomize/stage"
  {
    for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"
      cat "$stage_dir/$f"
    done
  } >"$bin_dir/kwok-stages.yaml"
  stamp "kwok-$KWOK_VERSION" kwok kwok-stages.yaml
}

build_helm() {
  cached "helm-$HELM_VERSION" && { log "helm $HELM_VERSION cached"; return; }
  log "building helm $HELM_VERSION"
  # Without these -X flags a `go install`ed Helm 3 believes the cluster is Kubernetes 1.20
  # (.Capabilities.KubeVersion and deprecation lint); Helm's Makefile sets them the same way.
  local k8s_minor=36 # client-go v0.36 in helm v3.21.x
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
  ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
  GOBIN="$work_dir/gobin" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$work_dir/gobin/helm" "$bin_dir/helm"
  stamp "helm-$HELM_VERSION" helm
}

# Cheapest first, so a partial cache still gives the fast tools.
build_etcd
build_kwok
build_helm
build_kubernetes
log "control plane ready in $bin_dir"
