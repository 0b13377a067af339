#!/usr/bin/env bash
# Checks (cheaply, on the running test cluster) that the cluster tests refuse a cluster that was not started
# for them, as the demo's cluster is not: with the test cluster's mark (the ConfigMap kube-system/sealstack-e2e
# that up.sh puts on it with SEALSTACK_CLUSTER_PURPOSE=e2e, e2e/kind/up.sh on the kind cluster) taken away for a
# moment, the test harness and the demo's e2e test must each fail with a message saying why, and touch nothing.
# The mark is put back at the end, as it was.
# Run by e2e/cluster/test.sh, inside the cluster's network namespace, and by e2e/kind/test.sh, with
# SEALSTACK_KUBECONFIG set.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=$(cd "$E2E_CLUSTER_HERE/../.." && pwd)
: "${SEALSTACK_KUBECONFIG:?guard.sh needs SEALSTACK_KUBECONFIG: the test cluster}"

# The cluster SEALSTACK_KUBECONFIG names (the local test cluster's, or e2e/kind's).
KUBECONFIG_PATH=$SEALSTACK_KUBECONFIG
mark=$(kc -n "$E2E_MARKER_NS" get configmap "$E2E_MARKER" -o json) || die "guard: the test cluster has no mark to take away"
mark=$(jq 'del(.metadata.resourceVersion, .metadata.uid, .metadata.creationTimestamp, .metadata.managedFields)' <<<"$mark")
trap 'kc apply -f - <<<"$mark" >/dev/null' EXIT
kc -n "$E2E_MARKER_NS" delete configmap "$E2E_MARKER" >/dev/null

expect_refusal() { # WHAT COMMAND...: COMMAND must fail, saying it refuses a cluster not started for tests
  local what=$1 out; shift
  if out=$("$@" 2>&1); then
    die "guard: $what ran against a cluster without the test mark"
  fi
  grep -q "not started for tests" <<<"$out" ||
    die "guard: $what failed without saying why it refused: $(tail -n 5 <<<"$out")"
  log "guard: $what refuses a cluster not started for tests"
}
expect_refusal "the test harness" \
  env SEALSTACK_E2E=1 cargo test -q --workspace --features sealstack-crds/crdgen --test crds -- --test-threads=1
expect_refusal "e2e/demo/test.sh" "$ROOT/e2e/demo/test.sh"
