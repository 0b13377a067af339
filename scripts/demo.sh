#!/usr/bin/env bash
# The main job on the embedded default: a local cluster, the devnet, the operator and a sample Miner going
# Ready. README.md's first command. It runs every stage that exists today and names the ones still missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

step "build the operator, the miner runtime and the devnet" cargo build -p sealstack-operator -p sealstack-miner -p sealstack-devnet
step "CRD YAML is current" cargo crdgen --check

bin="$(e2e/cluster/build.sh | tail -n 1)"
kubeconfig="$(e2e/cluster/up.sh | tail -n 1)"
kubectl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }
step "install the CRDs" kubectl apply --server-side -f manifests/crds.yaml
step "wait for the CRDs to be Established" kubectl wait --for condition=Established --timeout=60s \
  crd/paramcaches.sealstack.io crd/miners.sealstack.io crd/sealingworkers.sealstack.io

echo "==> start the devnet (a local process; its chain lives in $SEALSTACK_CACHE/demo-devnet)"
devnet_log="$SEALSTACK_CACHE/demo-devnet.log"
"$CARGO_TARGET_DIR/debug/sealstack-devnet" run --repo "$SEALSTACK_CACHE/demo-devnet" --listen 127.0.0.1:38234 \
  >"$devnet_log" 2>&1 &
devnet=$!
trap 'kill $devnet 2>/dev/null || true' EXIT
for _ in $(seq 1 30); do
  grep -q '^FULLNODE_API_INFO=' "$devnet_log" && break
  sleep 1
done
api_info="$(grep -m1 '^FULLNODE_API_INFO=' "$devnet_log" | cut -d= -f2-)"
[[ -n "$api_info" ]] || { echo "the devnet did not start: see $devnet_log" >&2; exit 1; }
kubectl create secret generic devnet-api -n default --from-literal=FULLNODE_API_INFO="$api_info" \
  --dry-run=client -o yaml | kubectl apply -f -

echo "==> start the operator (a local process against the cluster)"
log="$SEALSTACK_CACHE/demo-operator.log"
KUBECONFIG="$kubeconfig" "$CARGO_TARGET_DIR/debug/sealstack-operator" run --metrics-addr 127.0.0.1:38090 \
  --leader-lease sealstack-operator >"$log" 2>&1 &
operator=$!
trap 'kill $operator $devnet 2>/dev/null || true' EXIT

step "apply the samples" kubectl apply -n default -f manifests/samples/
for _ in $(seq 1 30); do
  kubectl get statefulset -n default devnet-gpu-worker >/dev/null 2>&1 && break
  sleep 1
done
echo
kubectl get sealstack -n default -o wide
echo
kubectl get pvc,jobs,statefulsets,services -n default
echo
echo "Miner conditions:"
kubectl get miner devnet-miner -n default -o jsonpath='{range .status.conditions[*]}{"  "}{.type}={.status} ({.reason}): {.message}{"\n"}{end}'
echo
echo "ParamCache status:   kubectl --kubeconfig $kubeconfig get paramcache devnet-params -o yaml"
echo "Operator metrics:    curl -s 127.0.0.1:38090/metrics (while this script runs); log: $log"
echo "Stop the cluster:    e2e/cluster/down.sh"
echo
echo "Devnet log: $devnet_log (FULLNODE_API_INFO=$api_info)"
echo
echo "Not built yet, so the sample Miner waits for its ParamCache today (kwok nodes run no fetch Job):"
printf '  - %s\n' "the miner daemon and workers (issue \"Miner runtime, part 2\")" \
  "images and a real node to run the fetch Job and workers (issue \"Real pods\")"
