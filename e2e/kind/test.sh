#!/usr/bin/env bash
# Runs the same e2e suite (crate sealstack-e2e, SEALSTACK_E2E=1) on a kind cluster.
# Skips (exit 0) with a clear message when docker is not available.
#   e2e/kind/test.sh [extra cargo test args]
# Env: KIND_VERSION (default v0.30.0, built with `go install` into ~/.cache/sealstack/kind),
#      SEALSTACK_E2E_IMAGE (default busybox:1.36, pulled and loaded into the nodes),
#      SEALSTACK_KIND_KEEP=1 keeps the cluster afterwards.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NAME=sealstack-e2e
KIND_VERSION=${KIND_VERSION:-v0.30.0}
IMAGE=${SEALSTACK_E2E_IMAGE:-busybox:1.36}
STATE=$HOME/.cache/sealstack/kind
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sealstack/target}

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
  echo "skipped: kind e2e needs a running docker engine (none here); use e2e/cluster/test.sh instead"
  exit 0
fi

KIND=$STATE/bin/kind
if [[ ! -x $KIND ]]; then
  mkdir -p "$STATE/bin"
  GOBIN=$STATE/bin nice -n 15 go install "sigs.k8s.io/kind@$KIND_VERSION"
fi
# kubectl: the one e2e/cluster/build.sh builds (same Kubernetes minor as the kind node image).
KUBECTL_BIN=$("$ROOT/e2e/cluster/build.sh" | tail -n 1)/kubectl
KUBECONFIG_PATH=$STATE/kubeconfig
kc() { "$KUBECTL_BIN" --kubeconfig="$KUBECONFIG_PATH" "$@"; }

created=0
cleanup() {
  if ((created)) && [[ ${SEALSTACK_KIND_KEEP:-0} != 1 ]]; then
    "$KIND" delete cluster --name "$NAME" || true
    rm -f "$KUBECONFIG_PATH"
  fi
}
trap cleanup EXIT

if ! "$KIND" get clusters 2>/dev/null | grep -qx "$NAME"; then
  created=1
  "$KIND" create cluster --name "$NAME" --config "$HERE/kind-config.yaml" --kubeconfig "$KUBECONFIG_PATH" --wait 120s
else
  "$KIND" get kubeconfig --name "$NAME" >"$KUBECONFIG_PATH"
fi

docker image inspect "$IMAGE" >/dev/null 2>&1 || docker pull "$IMAGE"
"$KIND" load docker-image "$IMAGE" --name "$NAME"

# Advertise 8 fake GPUs on the labelled worker (extended resource via the status subresource).
for node in $(kc get nodes -l nvidia.com/gpu.present=true -o name); do
  kc patch "$node" --subresource=status --type=json \
    -p '[{"op":"add","path":"/status/capacity/nvidia.com~1gpu","value":"8"}]'
done
kc wait --for=condition=Ready node --all --timeout=120s
# The mark of a cluster started for tests (the harness refuses clusters without it).
kc -n kube-system create configmap sealstack-e2e --from-literal=purpose=e2e --dry-run=client -o yaml | kc apply -f -

cd "$ROOT"
SEALSTACK_KUBECONFIG=$KUBECONFIG_PATH SEALSTACK_E2E=1 SEALSTACK_E2E_IMAGE=$IMAGE \
  cargo test -p sealstack-e2e --tests "$@"
