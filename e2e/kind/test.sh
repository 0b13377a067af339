#!/usr/bin/env bash
# The e2e suite on a kind cluster, in one command: build (or reuse) what kind needs (build.sh), create the
# cluster (up.sh), load our images into its nodes (images.sh), run the same suite as e2e/cluster/test.sh (the
# guard, the harness's tests with SEALSTACK_KUBECONFIG, then the main job's e2e test e2e/demo/test.sh) with the
# real-node tests on the kind node labelled sealstack.io/real-node, and always delete the cluster (down.sh).
# Docker when a Docker engine answers, podman otherwise.
#   e2e/kind/test.sh [extra cargo test args, e.g. a test name filter; the demo's test then does not run]
# Env: SEALSTACK_KIND_KEEP=1 keeps the cluster afterwards (reused by the next run; kubeconfig in
#      ~/.cache/sealstack/kind/clusters/sealstack-e2e/kubeconfig, e2e/kind/down.sh deletes it);
#      SEALSTACK_KIND_ENGINE=docker|podman picks the engine; CARGO_TARGET_DIR defaults to ~/.cache/sealstack/target.
# On failure the nodes' logs (`kind export logs`) are kept in ~/.cache/sealstack/kind/logs.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/lib.sh"
ROOT=$KIND_ROOT
source "$ROOT/scripts/target-dir.sh"
started=$SECONDS

# Everything that needs the network first: the components, the images, the crates, the parameters.
"$HERE/build.sh" >/dev/null
export SEALSTACK_K8S_BIN
(cd "$ROOT" && cargo fetch --locked >/dev/null)
SEALSTACK_GENERATED_PARAMS=$("$ROOT/scripts/params.sh" 2KiB | tail -n 1)
export SEALSTACK_GENERATED_PARAMS

up=0 rc=0
finish() {
  if ((up)) && ((rc != 0)) && kind_exists; then
    rm -rf "$KIND_CACHE/logs"
    "$KIND" export logs --name "$KIND_CLUSTER" "$KIND_CACHE/logs" >/dev/null 2>&1 &&
      log "the nodes' logs: $KIND_CACHE/logs"
  fi
  if ((up)) && [[ ${SEALSTACK_KIND_KEEP:-0} != 1 ]]; then
    if ! "$HERE/down.sh"; then
      log "FAILED: down.sh could not undo everything (above)"
      rc=1
    fi
  fi
  log "e2e/kind/test.sh: $( ((rc == 0)) && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - started)) s"
  exit "$rc"
}
trap 'rc=$?; finish' EXIT
trap 'exit 130' INT TERM

up=1
kubeconfig=$("$HERE/up.sh" | tail -n 1)
export SEALSTACK_KUBECONFIG=$kubeconfig SEALSTACK_E2E=1
# The real node's tests run the devnet and operator images (debug builds, as on the local cluster) and the network
# test helper, and must not skip; the workload tests run the tools image on the GPU node's real kubelet.
"$HERE/images.sh" --debug devnet operator netcheck pause tools >/dev/null
export SEALSTACK_E2E_REAL_NODE=1 SEALSTACK_E2E_IMAGE=docker.io/sealstack/tools:dev

cd "$ROOT"
E2E_TESTS=()
for t in "$ROOT"/e2e/harness/tests/*.rs; do E2E_TESTS+=(--test "$(basename "$t" .rs)"); done
# The runtime's own cluster test (skipped without SEALSTACK_GENERATED_PARAMS, see scripts/params.sh).
E2E_TESTS+=(--test worker_autoscale)
# The harness and the demo's e2e test refuse a cluster not started for tests (the mark up.sh puts on this one).
e2e/cluster/guard.sh
cargo test --workspace --features sealstack-crds/crdgen "${E2E_TESTS[@]}" "$@" -- --test-threads=4
# The main job's e2e test on the real node, with kind's images and volumes. Skipped with a test name filter.
if [[ $# -eq 0 ]]; then
  SEALSTACK_IMAGES_SH=$HERE/images.sh SEALSTACK_VOLUMES_SH=$HERE/volumes.sh e2e/demo/test.sh
fi
