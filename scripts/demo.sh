#!/usr/bin/env bash
# The main job on the embedded default, README.md's first command: a local Kubernetes cluster with a real node,
# the devnet as a pod, the operator installed with its Helm chart, and the samples (a ParamCache, a Miner and a
# SealingWorker) applied, until the Miner is Ready and its 2KiB committed-capacity sector, sealed by a worker pod
# with real proofs, is Proving on the devnet. Prints what happens, then how to look at it with kubectl.
# The cluster keeps running afterwards (stop it with e2e/cluster/down.sh); running the script again reuses it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# What a first run builds (each is cached and then skipped): the pinned Kubernetes components from their Go
# modules, and at the same time sealstack's binaries and the 2KiB proof parameters. Neither needs the other, and
# each fills the cores the other leaves idle (downloads, links).
k8s_log=$SEALSTACK_CACHE/k8s-build.log
e2e/cluster/build.sh >"$k8s_log" 2>&1 &
k8s_build=$!
source e2e/cluster/versions.sh
if ! [[ -x $SEALSTACK_K8S_BIN/kubectl && -x $SEALSTACK_K8S_BIN/coredns ]]; then
  echo "==> building the Kubernetes components in the background (Go; about 7 minutes on 2 cores; log: $k8s_log)"
fi
step "build the sealstack binaries (Rust; about 10 minutes on 2 cores the first time)" scripts/build-binaries.sh
PARAMS="$(scripts/params.sh 2KiB | tail -n 1)"
step "wait for the Kubernetes components" wait "$k8s_build" || { tail -n 30 "$k8s_log" >&2; exit 1; }
K8S="$(tail -n 1 "$k8s_log")"
export SEALSTACK_REAL_NODE=1
KUBECONFIG="$(e2e/cluster/up.sh | tail -n 1)"
export KUBECONFIG
source e2e/demo/lib.sh

step "build the images (operator, miner runtime, devnet) and import them into the node" demo_images
step "local volumes on the real node, as the default storage class" demo_storage
step "install the CRDs (Helm installs them only once; this keeps them current)" \
  k apply --server-side --force-conflicts -f manifests/crds.yaml
step "start the devnet as a pod" demo_devnet
echo "    the devnet's chain head: epoch $(devnet_call ChainHead | jq -r '.Height')"
step "start the parameter gateway" demo_gateway
step "helm install the operator into $OPERATOR_NS" demo_install_chart
step "apply manifests/samples/ into $DEMO_NS" demo_apply_samples

log "ParamCache devnet-params: a Job fetches the 2KiB parameters from the gateway and checks their digests"
step "ParamCache Ready" wait_for 600 "ParamCache devnet-params Ready" is_true paramcache devnet-params Ready
log "Miner $MINER: CreateMiner through the devnet, then the runtime pod, then the multiaddrs on chain"
step "Miner actor created" wait_for 300 "Miner ActorCreated" is_true miner "$MINER" ActorCreated
echo "    actor $(kd get miner "$MINER" -o jsonpath='{.status.actorAddress}')," \
  "CreateMiner $(kd get miner "$MINER" -o jsonpath='{.status.creation.messages.create-miner.cid}')"
step "Miner Ready" wait_for 600 "Miner Ready" is_true miner "$MINER" Ready
echo "    on-chain multiaddrs: $(kd get miner "$MINER" -o jsonpath='{.status.onChainMultiaddrs}')"
log "sector 0: pledged by the runtime, sealed by the worker pod, PreCommit and ProveCommit on the devnet"
last=""
deadline=$((SECONDS + 1200))
until [[ $last == Proving ]]; do
  state=$(sector_state 0 || true)
  [[ -n $state && $state != "$last" ]] && echo "    sector 0: $state" && last=$state
  ((SECONDS < deadline)) || die "sector 0 not Proving after 20 minutes (last: ${last:-none})"
  sleep 3
done

log "sector 0: its first WindowPoSt, from which it carries power (the Miner's status shows the chain's view)"
miner_power() { [[ $(kd get miner "$MINER" -o jsonpath='{.status.power.raw}') == 2Ki ]]; }
step "power on chain" wait_for 600 "the Miner's status showing 2Ki of power" miner_power

log "blocks: with power, the Miner takes part in the devnet's elections and wins about one round in 4"
step "first block won" wait_for 900 "the Miner's status counting a block" has_mined
echo "    block at epoch $(kd get miner "$MINER" -o jsonpath='{.status.mining.lastBlockEpoch}')," \
  "rewards $(kd get miner "$MINER" -o jsonpath='{.status.mining.rewards}')" \
  "($(kd get events --field-selector reason=BlockMined -o jsonpath='{.items[0].message}'))"

demo_report
cat <<EOF

Look around (the cluster keeps running):
  export KUBECONFIG=$KUBECONFIG
  $K8S/kubectl get sealstack -A
  $K8S/kubectl -n $DEMO_NS describe miner $MINER
  $K8S/kubectl -n $DEMO_NS exec $RUNTIME_POD -- sealstack-miner info
  $K8S/kubectl -n $DEMO_NS exec $RUNTIME_POD -- sealstack-miner proving info
  $K8S/kubectl -n $DEMO_NS exec $RUNTIME_POD -- sealstack-miner sectors status 0
  $K8S/kubectl -n $DEMO_NS logs -l app.kubernetes.io/component=sealing-worker --tail=20
  $K8S/kubectl -n $OPERATOR_NS logs deploy/$RELEASE-operator --tail=20
Stop everything: e2e/cluster/down.sh
EOF
