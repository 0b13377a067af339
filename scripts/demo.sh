#!/usr/bin/env bash
# The main job on the embedded default: a local cluster, the devnet, the operator and a sample Miner going
# Ready. README.md's first command. It runs every stage that exists today and names the ones still missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

step "build sealstack-operator and sealstack-miner" cargo build --release -p sealstack-operator -p sealstack-miner
step "CRD YAML is current" cargo crdgen --check

missing=()
if [[ -x e2e/cluster/up.sh ]]; then
  step "local Kubernetes cluster up" e2e/cluster/up.sh
  kubeconfig="${SEALSTACK_KUBECONFIG:-$SEALSTACK_CACHE/cluster/kubeconfig}"
  kubectl="$(ls "$SEALSTACK_CACHE"/k8s/*/bin/kubectl 2>/dev/null | head -n 1)"
  step "install the CRDs" "$kubectl" --kubeconfig "$kubeconfig" apply --server-side -f manifests/crds.yaml
  step "wait for the CRDs to be Established" "$kubectl" --kubeconfig "$kubeconfig" wait --for condition=Established \
    --timeout=60s crd/paramcaches.sealstack.io crd/miners.sealstack.io crd/sealingworkers.sealstack.io
  "$kubectl" --kubeconfig "$kubeconfig" get crds -l '!nothing' -o name | grep sealstack.io
  echo "cluster is up; kubeconfig: $kubeconfig (stop it with e2e/cluster/down.sh)"
else
  missing+=("local cluster (e2e/cluster, issue \"cluster\")")
fi
missing+=("devnet (e2e/devnet, issue \"chain\")" "operator controllers (issue \"operator\")"
  "miner runtime and workers (issues \"Miner runtime\" 1 and 2)" "images, Helm chart and samples (issue \"Real pods\")")

echo
echo "Not built yet, so the sample Miner cannot go Ready today:"
printf '  - %s\n' "${missing[@]}"
