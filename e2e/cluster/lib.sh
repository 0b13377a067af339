# Shared helpers for up.sh / down.sh / test.sh (sourced, not run).
# shellcheck shell=bash
E2E_CLUSTER_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# log, die, fail, wait_for, step: the project's one set (scripts/log.sh, no side effects).
# shellcheck source=../../scripts/log.sh
source "$E2E_CLUSTER_HERE/../../scripts/log.sh"
LOG_TAG='[cluster]'
WAIT_EVERY=0.5
# shellcheck source=versions.sh
source "$E2E_CLUSTER_HERE/versions.sh"
# shellcheck source=netns.sh
source "$E2E_CLUSTER_HERE/netns.sh"

D=$SEALSTACK_CLUSTER_DIR
BIN=$SEALSTACK_K8S_BIN
PKI=$D/pki
LOGS=$D/logs
PIDS=$D/pids
KUBECONFIG_PATH=$D/admin.kubeconfig

# Loopback ports; override with SEALSTACK_CLUSTER_PORT_BASE (default 36000) when they clash.
PORT_BASE=${SEALSTACK_CLUSTER_PORT_BASE:-36000}
ETCD_PORT=$((PORT_BASE + 379))
ETCD_PEER_PORT=$((PORT_BASE + 380))
APISERVER_PORT=$((PORT_BASE + 443))
KCM_PORT=$((PORT_BASE + 257))
SCHED_PORT=$((PORT_BASE + 259))
KWOK_PORT=$((PORT_BASE + 247))

# What the cluster is for: `e2e` (set by e2e-env.sh) marks it with the ConfigMap kube-system/sealstack-e2e, the
# only clusters the test harness and e2e/demo/test.sh run against.
CLUSTER_PURPOSE=${SEALSTACK_CLUSTER_PURPOSE:-}
E2E_MARKER_NS=kube-system
E2E_MARKER=sealstack-e2e
# mark_e2e_cluster: puts the test suite's mark on the running cluster.
mark_e2e_cluster() {
  kc -n "$E2E_MARKER_NS" create configmap "$E2E_MARKER" --from-literal=purpose=e2e --from-literal=dir="$D" \
    --dry-run=client -o yaml | kc apply -f - >/dev/null
}

# Components in start order (down stops them in reverse).
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

# Installs Debian packages for the given commands when missing (apt-get update once).
ensure_cmds() {
  local need=() c
  for c in "$@"; do command -v "$c" >/dev/null || need+=("$c"); done
  ((${#need[@]})) || return 0
  log "installing ${need[*]} with apt-get"
  local sudo=(); [[ $(id -u) == 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# Every Debian package the cluster's scripts use on this host, installed before they enter a network namespace
# of their own (which has no route to the package mirror).
ensure_cluster_pkgs() {
  ensure_cmds openssl curl jq
  [[ $REAL_NODE == 0 || $(id -u) != 0 ]] ||
    ensure_pkgs containerd runc containernetworking-plugins iptables umoci gcc libc6-dev
}

# True when the pid recorded for component $1 is alive and runs our binary.
component_alive() { pid_alive "$PIDS/$1.pid" "$BIN/$1"; }

kc() { "$BIN/kubectl" --kubeconfig="$KUBECONFIG_PATH" "$@"; }

# --- the real node (node.sh): kubelet + Debian's containerd/runc/CNI plugins ---
# SEALSTACK_REAL_NODE=0 leaves it out (control plane and kwok nodes only), 1 requires it, auto
# (default) starts it where the host allows (root, writable cgroups) and warns elsewhere.
REAL_NODE=${SEALSTACK_REAL_NODE:-auto}
NODE_NAME=sealstack-node
NODE_DIR=$D/node
CTRD_SOCK=$NODE_DIR/containerd/containerd.sock
KUBELET_PORT=$((PORT_BASE + 250))
KUBELET_HEALTHZ_PORT=$((PORT_BASE + 248))
# Pod network, bridge and cgroup root are per port base, so that clusters on other port bases
# can run a real node beside this one. The bridge's address is the node's InternalIP.
NODE_POD_CIDR=${SEALSTACK_NODE_POD_CIDR:-10.89.$(((PORT_BASE / 100) % 256)).0/24}
NODE_BRIDGE=ssbr$PORT_BASE
# The bridge's address: the node's InternalIP, the API server's advertised address (pods reach
# it there through the `kubernetes` Service) and the cluster DNS server's address.
_node_net=${NODE_POD_CIDR%/*}
NODE_IP=${_node_net%.*}.$((${_node_net##*.} + 1))
unset _node_net
# Services: the API server's --service-cluster-ip-range; its first address is the `kubernetes`
# Service's ClusterIP (in the serving certificate).
SERVICE_CIDR=10.0.0.0/16
KUBERNETES_SVC_IP=10.0.0.1
CLUSTER_DOMAIN=cluster.local
# kube-proxy (host process, iptables mode) and CoreDNS (host process on $NODE_IP:53): their
# health and metrics endpoints on loopback.
KUBE_PROXY_METRICS_PORT=$((PORT_BASE + 249))
KUBE_PROXY_HEALTHZ_PORT=$((PORT_BASE + 256))
COREDNS_HEALTH_PORT=$((PORT_BASE + 253))
COREDNS_READY_PORT=$((PORT_BASE + 181))
NODE_CGROUP_ROOT=/sealstack-$PORT_BASE
# Taint and label of the real node: only pods that tolerate the taint run there, so workloads
# meant for kwok's fake nodes never land on it; real workloads select it by the label.
NODE_LABEL=sealstack.io/real-node
PAUSE_IMAGE=docker.io/sealstack/pause:dev

# Installs the Debian packages given when they are not installed (apt-get update once).
ensure_pkgs() {
  local need=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  ((${#need[@]})) || return 0
  log "installing ${need[*]} with apt-get"
  local sudo=(); [[ $(id -u) == 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# True when pid file $1 names a live process running executable $2.
pid_alive() {
  local pid exe
  [[ -f $1 ]] || return 1
  pid=$(<"$1")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ ${exe% (deleted)} == "$2" ]]
}
