#!/usr/bin/env bash
# Operator scale benchmark (not a test): builds a release operator, brings up the local cluster, runs
# e2e/harness/benches/operator_scale.rs, and tears the cluster down. Sizes: SEALSTACK_BENCH_SIZES (10,100,1000).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sealstack/target}
"$HERE/build.sh" >/dev/null
cd "$ROOT"
cargo build --release -p sealstack-operator
trap '"$HERE/down.sh"' EXIT
kubeconfig=$("$HERE/up.sh" | tail -n 1)
SEALSTACK_KUBECONFIG=$kubeconfig SEALSTACK_OPERATOR_BIN=$CARGO_TARGET_DIR/release/sealstack-operator \
  cargo bench -p sealstack-e2e --bench operator_scale
