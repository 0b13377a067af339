#!/usr/bin/env bash
# The cluster e2e suite in one command: build (or reuse) the components, start the test suite's own local
# cluster (e2e-env.sh: its own state dir, ports and network namespace, so a demo cluster left running by
# scripts/demo.sh is never touched), run the sealstack-e2e tests with SEALSTACK_E2E=1, and always stop it.
#   e2e/cluster/test.sh [extra cargo test args, e.g. a test name filter]
# Then, with the real node and no arguments, the main job's e2e test (e2e/demo/test.sh).
# Env: SEALSTACK_E2E_KEEP=1 leaves the cluster running afterwards (reused by the next run; reach it with
#      `nsenter --net=/run/netns/sealstack-e2e` and ~/.cache/sealstack/e2e-cluster/admin.kubeconfig);
#      SEALSTACK_REAL_NODE=0 runs without the real node (its tests then skip), 1 requires it;
#      CARGO_TARGET_DIR defaults to ~/.cache/sealstack/target.
# On failure the component logs are kept in $SEALSTACK_CLUSTER_DIR/logs.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$ROOT/scripts/target-dir.sh"
source "$HERE/e2e-env.sh"
source "$HERE/lib.sh"

if [[ ${_SEALSTACK_E2E_PREPARED:-0} != 1 ]]; then
  # Everything that needs the network happens before the suite enters its namespace, which has none: the
  # Go-built components, Debian's packages and the crates.
  # The tests run the pinned kubectl and helm from here (tests/chart.rs).
  SEALSTACK_K8S_BIN=$("$HERE/build.sh" | tail -n 1)
  export SEALSTACK_K8S_BIN _SEALSTACK_E2E_PREPARED=1
  ensure_cluster_pkgs
  (cd "$ROOT" && cargo fetch --locked >/dev/null)
  enter_cluster_netns --create "$@"
fi
export CARGO_NET_OFFLINE=true

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
if [[ $REAL_NODE != 0 ]] && kc get node "$NODE_NAME" >/dev/null 2>&1; then
  # The real node's tests run the devnet and operator images (debug builds: the tests compile
  # in debug anyway) and the network test helper, and must not skip.
  "$HERE/images.sh" --debug devnet operator netcheck >/dev/null
  export SEALSTACK_E2E_REAL_NODE=1
fi

cd "$ROOT"
E2E_TESTS=()
for t in "$ROOT"/e2e/harness/tests/*.rs; do E2E_TESTS+=(--test "$(basename "$t" .rs)"); done
# The runtime's own cluster test (it runs real daemons and workers, which only its package's tests can).
E2E_TESTS+=(--test worker_autoscale)
# The harness and the demo's e2e test refuse a cluster not started for them (the mark up.sh puts on this one).
"$HERE/guard.sh"
# The harness's tests, selected by name with the workspace's features, so that they reuse the build of `cargo
# test --workspace --features sealstack-crds/crdgen` (scripts/test.sh) instead of building the crates again.
cargo test --workspace --features sealstack-crds/crdgen "${E2E_TESTS[@]}" "$@" -- --test-threads=4
# The main job's e2e test (scripts/demo.sh with disruptions), on the real node, after the others: it makes the
# node's storage class the default. Skipped with a test name filter.
if [[ ${SEALSTACK_E2E_REAL_NODE:-0} == 1 && $# -eq 0 ]]; then
  "$ROOT/e2e/demo/test.sh"
fi
