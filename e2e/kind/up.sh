#!/usr/bin/env bash
# Starts (or reuses) the kind cluster of the e2e suite, marked as a test cluster (the ConfigMap
# kube-system/sealstack-e2e the harness and e2e/demo/test.sh look for), with the node image build.sh makes:
#   sealstack-e2e-control-plane
#   sealstack-e2e-worker    labelled nvidia.com/gpu.present=true, advertising nvidia.com/gpu: 8 (status patch)
#   sealstack-e2e-worker2   the real node: labelled and tainted sealstack.io/real-node=true (NoSchedule), with
#                           the class sealstack-local and local volumes (volumes.sh) and the generated proof
#                           parameters mounted at their host path
# Docker when a Docker engine answers, podman otherwise (KIND_EXPERIMENTAL_PROVIDER=podman). The API server on
# 127.0.0.1:$SEALSTACK_KIND_API_PORT (default 39443). Prints the kubeconfig's path on the last line.
#
# What it changes on this host, each recorded in $KIND_STATE and undone by down.sh:
#   - /lib/modules, created empty when missing (kind bind-mounts it into every node);
#   - the kernel settings every kubelet sets (the nodes' kubelets run on this kernel): their values before;
#   - routes to the nodes' pod CIDRs and to the Service CIDR through the nodes, so that this host reaches pod
#     IPs and ClusterIPs as it does on the local cluster (the tests and the demo's checks do);
#   - the kind network of the engine (podman: its bridge and netavark's iptables chains), when kind made it.
# podman's default ulimits and storage are in its own configuration under $KIND_CACHE/podman (lib.sh).
#   e2e/kind/up.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_IMAGE=$("$E2E_KIND_HERE/build.sh" | tail -n 1)
kind_podman_config
ensure_pkgs iproute2
mkdir -p "$KIND_STATE"
[[ -d $KIND_PARAMS_DIR ]] || KIND_PARAMS_DIR=$("$KIND_ROOT/scripts/params.sh" 2KiB | tail -n 1)

# --- host preparation (idempotent; each change recorded for down.sh) ---------------------------------------
prepare_host() {
  if [[ ! -e /lib/modules ]]; then
    log "creating /lib/modules (kind mounts it into the nodes; down.sh removes it)"
    as_root mkdir -p /lib/modules
    touch "$KIND_STATE/created-lib-modules"
  fi
  if [[ ! -s $KIND_STATE/sysctl.orig ]]; then
    local s
    for s in "${KUBELET_SYSCTLS[@]}"; do echo "$s $(<"/proc/sys/$s")"; done >"$KIND_STATE/sysctl.orig"
  fi
  # The engine's kind network: made by kind when missing, removed by down.sh only then.
  if [[ ! -f $KIND_STATE/network ]]; then
    if engine network inspect kind >/dev/null 2>&1; then echo existed; else echo created; fi >"$KIND_STATE/network"
  fi
  # netavark's iptables chains (podman): down.sh removes them when there were none before.
  if [[ ! -f $KIND_STATE/netavark-chains ]]; then
    { iptables-save 2>/dev/null; ip6tables-save 2>/dev/null; } | grep -c '^:NETAVARK' >"$KIND_STATE/netavark-chains" || true
  fi
}

# The kind configuration: kind-config.yaml with this host's values.
render_config() {
  local restrict_oom=false
  has_cap_sys_resource || restrict_oom=true
  sed -e "s#@API_PORT@#$KIND_API_PORT#" -e "s#@POD_SUBNET@#$KIND_POD_SUBNET#" \
    -e "s#@SERVICE_SUBNET@#$KIND_SERVICE_SUBNET#" -e "s#@ETCD_TAG@#$ETCD_VERSION#" \
    -e "s#@COREDNS_TAG@#$COREDNS_VERSION#" -e "s#@PARAMS@#$KIND_PARAMS_DIR#g" \
    -e "s#@RESTRICT_OOM_SCORE_ADJ@#$restrict_oom#" -e "s#@NAME@#$KIND_CLUSTER#" \
    "$E2E_KIND_HERE/kind-config.yaml" >"$KIND_STATE/kind-config.yaml"
  $restrict_oom && log "no CAP_SYS_RESOURCE here: the nodes' containerd clamps pods' oom_score_adj at its own"
  return 0
}

api_answers() { kc get --raw=/readyz >/dev/null 2>&1; }

create_cluster() {
  prepare_host
  render_config
  ! (exec 3<>"/dev/tcp/127.0.0.1/$KIND_API_PORT") 2>/dev/null ||
    die "127.0.0.1:$KIND_API_PORT is in use (set SEALSTACK_KIND_API_PORT)"
  log "creating kind cluster $KIND_CLUSTER with $ENGINE ($NODE_IMAGE)"
  "$KIND" create cluster --name "$KIND_CLUSTER" --config "$KIND_STATE/kind-config.yaml" --image "$NODE_IMAGE" \
    --kubeconfig "$KIND_KUBECONFIG" --wait 300s
}

if kind_exists; then
  prepare_host
  "$KIND" get kubeconfig --name "$KIND_CLUSTER" >"$KIND_KUBECONFIG.tmp" && mv "$KIND_KUBECONFIG.tmp" "$KIND_KUBECONFIG"
  if api_answers; then
    log "reusing the running kind cluster $KIND_CLUSTER"
  else
    die "kind cluster $KIND_CLUSTER exists but its API server does not answer: e2e/kind/down.sh first"
  fi
else
  create_cluster
fi
chmod 600 "$KIND_KUBECONFIG"

# --- networking between the nodes and from this host -------------------------------------------------------
# Each node routes the other nodes' pod CIDRs to them (what kindnet does; ptp only knows its own pods), and this
# host routes every pod CIDR to its node and the Service CIDR to the control plane (its kube-proxy forwards
# ClusterIPs, and masquerades this host's connections to them, coming from outside the pod network).
node_ip() { kc get node "$1" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}'; }
node_cidr() { kc get node "$1" -o jsonpath='{.spec.podCIDR}'; }
wait_for 120 "a pod CIDR on every node" \
  bash -c "[[ \$('$SEALSTACK_K8S_BIN/kubectl' --kubeconfig='$KIND_KUBECONFIG' get nodes \
  -o jsonpath='{range .items[*]}{.spec.podCIDR}{\" \"}{end}' | wc -w) -eq $(kind_nodes | wc -l) ]]" ||
  die "not every node has a pod CIDR"
declare -A ip cidr
for n in $(kind_nodes); do ip[$n]=$(node_ip "$n"); cidr[$n]=$(node_cidr "$n"); done
for n in $(kind_nodes); do
  for m in $(kind_nodes); do
    [[ $n == "$m" ]] || engine exec "$n" ip route replace "${cidr[$m]}" via "${ip[$m]}"
  done
done
: >"$KIND_STATE/routes.tmp"
for m in $(kind_nodes); do echo "${cidr[$m]} via ${ip[$m]}" >>"$KIND_STATE/routes.tmp"; done
echo "$KIND_SERVICE_SUBNET via ${ip[$KIND_CLUSTER-control-plane]}" >>"$KIND_STATE/routes.tmp"
# Routes of an earlier cluster of this name (other addresses) go first.
if [[ -s $KIND_STATE/routes ]]; then
  while read -r dst _ gw; do as_root ip route del "$dst" via "$gw" 2>/dev/null || true; done <"$KIND_STATE/routes"
fi
while read -r dst _ gw; do as_root ip route replace "$dst" via "$gw"; done <"$KIND_STATE/routes.tmp"
mv "$KIND_STATE/routes.tmp" "$KIND_STATE/routes"

# --- the nodes as the tests expect them ----------------------------------------------------------------------
# 8 fake GPUs on the GPU node: an extended resource in its status (the kubelet keeps it).
kc patch node "$KIND_GPU_NODE" --subresource=status --type=json \
  -p '[{"op":"add","path":"/status/capacity/nvidia.com~1gpu","value":"8"}]' >/dev/null
wait_for 120 "every node Ready" kc wait --for=condition=Ready node --all --timeout=5s || die "nodes not Ready"
wait_for 120 "CoreDNS ready" kc -n kube-system rollout status deployment/coredns --timeout=5s || die "CoreDNS not ready"
wait_for 60 "the default ServiceAccount" kc -n default get serviceaccount default || die "no default ServiceAccount"
# The real node's storage: the class sealstack-local (not the default) and 8 local volumes.
"$E2E_KIND_HERE/volumes.sh" 8
# The test suite's mark: the harness and e2e/demo/test.sh refuse clusters without it.
kc -n kube-system create configmap sealstack-e2e --from-literal=purpose=e2e --from-literal=kind="$KIND_CLUSTER" \
  --dry-run=client -o yaml | kc apply -f - >/dev/null

log "kind cluster $KIND_CLUSTER ready (v$KUBE_VERSION, $ENGINE): $(kind_nodes | paste -sd' ')"
echo "$KIND_KUBECONFIG"
