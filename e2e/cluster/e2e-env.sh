# The test suite's own cluster (sourced, not run): a state dir, port base and network namespace of its own, so
# that the tests never meet the cluster scripts/demo.sh leaves running (~/.cache/sealstack/cluster, port base
# 36000, the host's network). e2e/cluster/test.sh, bench.sh and e2e/demo/test.sh use it; up.sh marks a cluster
# started with it (the ConfigMap kube-system/sealstack-e2e), and the test harness refuses any other cluster.
# Override with SEALSTACK_E2E_CLUSTER_DIR, SEALSTACK_E2E_PORT_BASE and SEALSTACK_E2E_NETNS.

export SEALSTACK_CLUSTER_DIR=${SEALSTACK_E2E_CLUSTER_DIR:-$HOME/.cache/sealstack/e2e-cluster}
export SEALSTACK_CLUSTER_PORT_BASE=${SEALSTACK_E2E_PORT_BASE:-37000}
export SEALSTACK_CLUSTER_PURPOSE=e2e
# A network namespace needs root; without root there is no real node either, and the control plane alone
# shares the host's network on its own loopback ports.
if [[ $(id -u) == 0 ]] && command -v nsenter >/dev/null && command -v ip >/dev/null; then
  export SEALSTACK_CLUSTER_NETNS=${SEALSTACK_E2E_NETNS:-sealstack-e2e}
fi
