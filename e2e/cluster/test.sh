#!/usr/bin/env bash
# The cluster e2e suite in one command: build (or reuse) the components, start the local
# cluster, run the sealstack-e2e tests with SEALSTACK_E2E=1, and always stop the cluster.
#   e2e/cluster/test.sh [extra cargo test args, e.g. a test name filter]
# Then, with the real node and no arguments, the main job's e2e test (e2e/demo/test.sh).
# Env: SEALSTACK_E2E_KEEP=1 leaves the cluster running afterwards (reused by the next run);
#      SEALSTACK_REAL_NODE=0 runs without the real node (its tests then skip), 1 requires it;
#      CARGO_TARGET_DIR defaults to ~/.cache/sealstack/target.
# On failure the component logs are kept in $SEALSTACK_CLUSTER_DIR/logs.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sealstack/target}

# The tests run the pinned kubectl and helm from here (tests/chart.rs).
SEALSTACK_K8S_BIN=$("$HERE/build.sh" | tail -n 1)
export SEALSTACK_K8S_BIN

started=0
finish() {
  if ((started)) && [[ ${SEALSTACK_E2E_KEEP:-0} != 1 ]]; then
    if ((rc == 0)); then "$HERE/down.sh"; else "$HERE/down.sh" --keep-logs; fi
  fi
}
trap 'rc=$?; finish' EXIT
trap 'exit 130' INT TERM

started=1
kubeconfig=$("$HERE/up.sh" | tail -n 1)
export SEALSTACK_KUBECONFIG=$kubeconfig SEALSTACK_E2E=1
source "$HERE/lib.sh"
if [[ $REAL_NODE != 0 ]] && kc get node "$NODE_NAME" >/dev/null 2>&1; then
  # The real node's tests run the devnet and operator images (debug builds: the tests compile
  # in debug anyway) and the network test helper, and must not skip.
  "$HERE/images.sh" --debug devnet operator netcheck >/dev/null
  export SEALSTACK_E2E_REAL_NODE=1
fi

cd "$ROOT"
cargo test -p sealstack-e2e --tests "$@" -- --test-threads=4
# The main job's e2e test (scripts/demo.sh with disruptions), on the real node, after the others: it makes the
# node's storage class the default. Skipped with a test name filter.
if [[ ${SEALSTACK_E2E_REAL_NODE:-0} == 1 && $# -eq 0 ]]; then
  "$ROOT/e2e/demo/test.sh"
fi
