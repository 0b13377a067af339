#!/usr/bin/env bash
# Operator scale benchmark (not a test): builds a release operator, brings up the test suite's own local cluster
# (e2e-env.sh: never a demo cluster), runs e2e/harness/benches/operator_scale.rs, and tears the cluster down.
# Sizes: SEALSTACK_BENCH_SIZES (10,100,1000). Before and after in one run: SEALSTACK_BENCH_BASELINE_BIN=<another
# release sealstack-operator> (see the header of e2e/harness/benches/operator_scale.rs). SEALSTACK_OPERATOR_BIN
# measures another binary than this checkout's release build (a wrapper running it under a profiler, say).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$ROOT/scripts/target-dir.sh"
source "$HERE/e2e-env.sh"
source "$HERE/lib.sh"
if [[ ${_SEALSTACK_BENCH_PREPARED:-0} != 1 ]]; then
  # What needs the network, before entering the cluster's network namespace.
  "$HERE/build.sh" >/dev/null
  ensure_cluster_pkgs
  (cd "$ROOT" && cargo build --release -p sealstack-operator && cargo bench --no-run -p sealstack-e2e --bench operator_scale)
  export _SEALSTACK_BENCH_PREPARED=1
  enter_cluster_netns --create "$@"
fi
cd "$ROOT"
trap '"$HERE/down.sh"' EXIT
kubeconfig=$("$HERE/up.sh" | tail -n 1)
SEALSTACK_KUBECONFIG=$kubeconfig \
  SEALSTACK_OPERATOR_BIN=${SEALSTACK_OPERATOR_BIN:-$CARGO_TARGET_DIR/release/sealstack-operator} \
  CARGO_NET_OFFLINE=true cargo bench -p sealstack-e2e --bench operator_scale
