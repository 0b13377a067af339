#!/usr/bin/env bash
# The real node of the local cluster: Debian's containerd + runc + CNI plugins and a kubelet
# built by build.sh, registered as `sealstack-node` beside kwok's fake nodes. Pods on it really
# run (as root-owned processes on this machine, in their own namespaces and cgroups).
#
#   e2e/cluster/node.sh up     start (or reuse) containerd and kubelet; needs a running control
#                              plane. up.sh calls this unless SEALSTACK_REAL_NODE=0; with the
#                              default SEALSTACK_REAL_NODE=auto a host that cannot run it (not
#                              root, cgroups read-only) only gets a warning, with 1 it is an error
#   e2e/cluster/node.sh down   stop kubelet, kill every container, stop containerd, undo mounts,
#                              network namespaces, the bridge and the cgroups (down.sh calls this)
#
# Everything lives under $SEALSTACK_CLUSTER_DIR/node (containerd root/state/socket, kubelet root
# dir, pod logs, CNI config and IPAM state); nothing touches a system containerd or kubelet.
# The node is tainted sealstack.io/real-node=true:NoSchedule and labelled
# sealstack.io/real-node=true: pods for it need the toleration and the nodeSelector. Its storage:
# the class sealstack-local and local volumes (volumes.sh).
# Needs root (mounts, network namespaces, cgroups).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
enter_cluster_netns "$@"

CTRD=$NODE_DIR/containerd
KUBELET_ROOT=$NODE_DIR/kubelet
CNI_CONF_DIR=$NODE_DIR/cni/net.d
CNI_BIN_DIR=/usr/lib/cni
NODE_KUBECONFIG=$NODE_DIR/kubelet.kubeconfig
GATEWAY_IP=$NODE_IP
PREFIX_LEN=${NODE_POD_CIDR#*/}
# The kernel settings kubelet sets on start (protectKernelDefaults=false); down restores them.
# kube-proxy is configured to change none (no conntrack tuning, no localhost NodePorts); its
# route_localnet is restored all the same.
KUBELET_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/conf/all/route_localnet)

ctr_() { ctr --address "$CTRD_SOCK" -n k8s.io "$@"; }

cgroup_v2() { [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; }
# The cgroup hierarchies mounted under /sys/fs/cgroup on a v1 host: every controller, named
# ones like name=systemd, and the hybrid "unified" v2 tree (runc creates pod cgroups there too).
cgroup_v1_dirs() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { fs = $(i + 1); break } }
       (fs == "cgroup" || fs == "cgroup2") && $5 ~ "^/sys/fs/cgroup/" {print $5}' /proc/self/mountinfo
}

# Whether this host can run the node; prints the reason on stdout when not.
check_host() {
  [[ $(id -u) == 0 ]] || { echo "it needs root (mounts, network namespaces, cgroups)"; return 1; }
  local probe=sealstack-cgroup-probe-$$ h
  if cgroup_v2; then
    { mkdir "/sys/fs/cgroup/$probe" && rmdir "/sys/fs/cgroup/$probe"; } 2>/dev/null ||
      { echo "/sys/fs/cgroup (v2) is not writable: kubelet cannot create pod cgroups"; return 1; }
  else
    for h in cpu cpuacct cpuset memory pids; do
      [[ -d /sys/fs/cgroup/$h ]] || { echo "cgroup v1 controller $h is not mounted under /sys/fs/cgroup"; return 1; }
      { mkdir "/sys/fs/cgroup/$h/$probe" && rmdir "/sys/fs/cgroup/$h/$probe"; } 2>/dev/null ||
        { echo "/sys/fs/cgroup/$h is not writable: kubelet cannot create pod cgroups"; return 1; }
    done
  fi
}

# overlayfs when the kernel mounts it on the state dir's filesystem, else the native (copying)
# snapshotter, which works anywhere but unpacks every image layer in full.
pick_snapshotter() {
  local t=$NODE_DIR/overlay-probe
  mkdir -p "$t"/{l,u,w,m}
  if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
    umount "$t/m"; rm -rf "$t"; echo overlayfs
  else
    rm -rf "$t"; echo native
  fi
}

# Whether this process holds CAP_SYS_RESOURCE (bit 24). Without it (as in some sandboxes) no
# process may lower an oom_score_adj, so runc would fail every pod sandbox (kubelet asks -998
# for them): containerd must then clamp the scores at its own (restrict_oom_score_adj).
has_cap_sys_resource() {
  local eff; eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
  (( (16#$eff >> 24) & 1 ))
}

write_containerd_config() {
  local snapshotter=$1 restrict_oom=false
  has_cap_sys_resource || restrict_oom=true
  cat >"$CTRD/config.toml" <<EOF
# Written by e2e/cluster/node.sh: a containerd private to this cluster's real node.
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = $restrict_oom
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snapshotter"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$CTRD/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
EOF
}

write_cni_config() {
  mkdir -p "$CNI_CONF_DIR"
  cat >"$CNI_CONF_DIR/10-sealstack.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "sealstack-$PORT_BASE",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$GATEWAY_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

# The pod bridge, created before the first pod so that its address can be the node's IP
# (kubelet refuses a loopback node IP; the API server reaches the kubelet there). Its MAC
# address is set, not left to the kernel: a bridge with a random address takes the lowest of
# its ports' addresses, so it changed whenever a pod came or went, and pods that had cached
# the old one could not reach the node IP (CoreDNS, the API server) until their ARP entry
# expired, for up to ~20 s.
ensure_bridge() {
  local mac
  mac=$(printf '02:73:73:%02x:%02x:01' $(((PORT_BASE >> 8) & 255)) $((PORT_BASE & 255)))
  if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    ip link add "$NODE_BRIDGE" address "$mac" type bridge
  fi
  # (Read with ip, not /sys/class/net: sysfs shows the host's network namespace, not the cluster's.)
  [[ $(ip -br link show dev "$NODE_BRIDGE" | awk '{print $3}') == "$mac" ]] ||
    ip link set dev "$NODE_BRIDGE" address "$mac"
  ip addr show dev "$NODE_BRIDGE" | grep -q " $GATEWAY_IP/" ||
    ip addr add "$GATEWAY_IP/$PREFIX_LEN" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # In a network namespace of its own (netns.sh) no route leads anywhere but the bridge: give the Service range
  # one through it, so that the node's own connections to ClusterIPs are routed at all (kube-proxy's rules then
  # send them on to the pods). The host's network is never touched.
  [[ -z $CLUSTER_NETNS ]] || ip route replace "$SERVICE_CIDR" dev "$NODE_BRIDGE"
}

# drop_bridge: removes the pod bridge and its ports (the host ends of pods' veths). Where a pod's network
# namespace outlives its node (a netns that cannot be unmounted, a node whose state dir is gone), its veth would
# stay on the bridge with the pod's address: a new pod given that address from a fresh IP pool would be
# unreachable (the node's ARP answer comes from the stale one).
drop_bridge() {
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || return 0
  local port
  for port in $(ip -o link show master "$NODE_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$port" 2>/dev/null || true
  done
  ip link del "$NODE_BRIDGE" 2>/dev/null || true
}

# kubelet's --cgroup-root must exist; cpuset children start empty, so copy the root's sets.
ensure_cgroup_root() {
  if cgroup_v2; then
    mkdir -p "/sys/fs/cgroup$NODE_CGROUP_ROOT"
    local c
    for c in cpuset cpu io memory pids hugetlb; do
      grep -qw "$c" /sys/fs/cgroup/cgroup.controllers 2>/dev/null || continue
      echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    done
    return
  fi
  local h
  while read -r h; do
    mkdir -p "$h$NODE_CGROUP_ROOT"
    if [[ -f $h/cpuset.cpus ]]; then
      [[ -n $(<"$h$NODE_CGROUP_ROOT/cpuset.cpus") ]] || cat "$h/cpuset.cpus" >"$h$NODE_CGROUP_ROOT/cpuset.cpus"
      [[ -n $(<"$h$NODE_CGROUP_ROOT/cpuset.mems") ]] || cat "$h/cpuset.mems" >"$h$NODE_CGROUP_ROOT/cpuset.mems"
    fi
  done < <(cgroup_v1_dirs)
}

# A client certificate $PKI/$1.{crt,key} for subject $2, signed by the cluster CA (no
# bootstrap), and kubeconfig $3 using it (the API server on loopback: these are host processes).
client_identity() {
  local name=$1 subject=$2 kubeconfig=$3
  if [[ ! -s $PKI/$name.crt ]]; then
    openssl req -newkey rsa:2048 -nodes -subj "$subject" \
      -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
    openssl x509 -req -sha256 -days 3650 -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
      -CAcreateserial -extfile "$PKI/client.ext" -out "$PKI/$name.crt" 2>/dev/null
    chmod 600 "$PKI/$name.key"
  fi
  cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sealstack-e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $name
  user:
    client-certificate: $PKI/$name.crt
    client-key: $PKI/$name.key
contexts:
- name: sealstack-e2e
  context: {cluster: sealstack-e2e, user: $name}
current-context: sealstack-e2e
EOF
  chmod 600 "$kubeconfig"
}

write_kubelet_config() {
  # The kubelet's client identity: the Node authorizer and NodeRestriction admission want
  # CN=system:node:<name>, O=system:nodes.
  client_identity kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "$NODE_KUBECONFIG"
  cat >"$NODE_DIR/kubelet.yaml" <<EOF
# Written by e2e/cluster/node.sh.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $GATEWAY_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$CTRD_SOCK
imageServiceEndpoint: unix://$CTRD_SOCK
podLogsDir: $NODE_DIR/pod-logs
cgroupDriver: cgroupfs
cgroupRoot: $NODE_CGROUP_ROOT
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failSwapOn: false
protectKernelDefaults: false
registerNode: true
registerWithTaints:
- {key: $NODE_LABEL, value: "true", effect: NoSchedule}
maxPods: 32
serializeImagePulls: false
# A shared build machine: never evict for disk or memory, never collect images.
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# Pods with dnsPolicy ClusterFirst (the default) ask CoreDNS on the node IP (start_coredns);
# dnsPolicy Default gets this resolv.conf.
resolvConf: /etc/resolv.conf
clusterDomain: $CLUSTER_DOMAIN
clusterDNS: [$NODE_IP]
EOF
}

# Pids of kube-proxy processes in this network namespace that are not this cluster's (a cluster in a namespace
# of its own, netns.sh, has its own iptables and never meets another one).
other_kube_proxies() {
  local p mine=""
  [[ -f $PIDS/kube-proxy.pid ]] && mine=$(<"$PIDS/kube-proxy.pid")
  for p in /proc/[0-9]*; do
    [[ ${p#/proc/} != "$mine" && $(readlink "$p/exe" 2>/dev/null) == */kube-proxy* ]] && same_netns "${p#/proc/}" &&
      echo "${p#/proc/}"
  done
  return 0
}

# kube-proxy, iptables mode, as a host process: Service ClusterIPs (and NodePorts on the node
# IP) route to their endpoints, from pods and from this host. Its chains (KUBE-SERVICES, ...)
# live in the network namespace's iptables tables, so only one kube-proxy per namespace can work:
# with another one running there, this one is not started (Services do not route; a warning says
# why). The test suite's cluster has a namespace of its own (e2e-env.sh) and always gets one.
start_kube_proxy() {
  local others
  others=$(other_kube_proxies | paste -sd' ')
  if [[ -n $others ]]; then
    log "WARNING: another kube-proxy runs on this machine (pid $others): not starting this cluster's (both would rewrite the same iptables chains); Service ClusterIPs will not route"
    return 0
  fi
  # The bootstrap ClusterRoleBinding system:node-proxier binds user system:kube-proxy.
  client_identity kube-proxy "/CN=system:kube-proxy" "$NODE_DIR/kube-proxy.kubeconfig"
  cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
# Written by e2e/cluster/node.sh.
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $NODE_DIR/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
mode: iptables
clusterCIDR: $NODE_POD_CIDR
detectLocalMode: ClusterCIDR
# NodePorts on the node IP only; no localhost NodePorts (they need route_localnet).
nodePortAddresses: [$NODE_IP/32]
iptables: {localhostNodePorts: false, masqueradeAll: false, syncPeriod: 30s, minSyncPeriod: 1s}
# A shared machine: leave the kernel's conntrack table size and timeouts alone, and the OOM score.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
oomScoreAdj: 0
EOF
  log "starting kube-proxy (iptables mode, Services $SERVICE_CIDR, cluster CIDR $NODE_POD_CIDR)"
  setsid "$BIN/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml" --v=2 </dev/null >"$LOGS/kube-proxy.log" 2>&1 &
  echo $! >"$PIDS/kube-proxy.pid"
}
wait_kube_proxy() {
  [[ -f $PIDS/kube-proxy.pid ]] || return 0
  if ! wait_for 60 "kube-proxy healthy" curl -sf "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz"; then
    log "last lines of $LOGS/kube-proxy.log:"; tail -n 30 "$LOGS/kube-proxy.log" >&2
    die "kube-proxy not healthy"
  fi
}

# CoreDNS as a host process on $NODE_IP:53 (the kubelet's clusterDNS): the kubernetes plugin
# answers for $CLUSTER_DOMAIN (Services, headless endpoints, pods) and reverse lookups from the
# API server's objects. Nothing is forwarded (no upstream here): other names are refused.
start_coredns() {
  client_identity coredns "/CN=sealstack:coredns" "$NODE_DIR/coredns.kubeconfig"
  kc apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "sealstack:coredns"}
rules:
- {apiGroups: [""], resources: [endpoints, services, pods, namespaces], verbs: [list, watch]}
- {apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "sealstack:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "sealstack:coredns"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "sealstack:coredns"}]
EOF
  cat >"$NODE_DIR/Corefile" <<EOF
# Written by e2e/cluster/node.sh.
$CLUSTER_DOMAIN:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:$COREDNS_HEALTH_PORT
    ready 127.0.0.1:$COREDNS_READY_PORT
    kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
        kubeconfig $NODE_DIR/coredns.kubeconfig sealstack-e2e
        pods insecure
        ttl 5
    }
    cache 5
    loadbalance
}
EOF
  ! (exec 3<>"/dev/tcp/$NODE_IP/53") 2>/dev/null || die "$NODE_IP:53 is in use"
  log "starting coredns ($NODE_IP:53, zone $CLUSTER_DOMAIN)"
  (cd "$NODE_DIR" && exec setsid "$BIN/coredns" -conf "$NODE_DIR/Corefile" </dev/null >"$LOGS/coredns.log" 2>&1) &
  echo $! >"$PIDS/coredns.pid"
}
wait_coredns() {
  if ! wait_for 60 "coredns ready" curl -sf "http://127.0.0.1:$COREDNS_READY_PORT/ready"; then
    log "last lines of $LOGS/coredns.log:"; tail -n 30 "$LOGS/coredns.log" >&2
    die "coredns not ready"
  fi
}

up() {
  if pid_alive "$PIDS/containerd.pid" "$(command -v containerd 2>/dev/null || echo /usr/bin/containerd)" &&
    component_alive kubelet && component_alive coredns && kc get node "$NODE_NAME" >/dev/null 2>&1 &&
    { component_alive kube-proxy || [[ -n $(other_kube_proxies) ]]; }; then
    log "reusing the running real node $NODE_NAME"
    "$E2E_CLUSTER_HERE/volumes.sh"
    return 0
  fi
  local why
  if ! why=$(check_host); then
    # SEALSTACK_REAL_NODE=auto (the default): a host that cannot run it gets kwok's nodes only.
    [[ $REAL_NODE == auto ]] || die "no real node here: $why"
    log "WARNING: no real node (set SEALSTACK_REAL_NODE=0 to silence this): $why"
    return 0
  fi
  local b
  for b in kubelet kube-proxy coredns; do
    [[ -x $BIN/$b ]] || die "$BIN/$b missing: run e2e/cluster/build.sh first"
  done
  ensure_pkgs containerd runc containernetworking-plugins iptables umoci gcc libc6-dev
  # A half-started node from before: clear it first. A bridge of this port base left by a node this state dir
  # does not know (another checkout's or HOME's cluster, never stopped) goes too: nothing of a running node uses
  # it (the control plane of this port base just started here).
  [[ -d $NODE_DIR ]] && down_node
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    log "removing the pod bridge $NODE_BRIDGE left by an earlier node, with its ports"
    drop_bridge
  fi
  mkdir -p "$CTRD" "$KUBELET_ROOT" "$NODE_DIR/pod-logs" "$LOGS" "$PIDS"

  local snapshotter; snapshotter=$(pick_snapshotter)
  write_containerd_config "$snapshotter"
  write_cni_config
  has_cap_sys_resource || log "no CAP_SYS_RESOURCE here: containerd clamps pods' oom_score_adj at its own"
  log "starting containerd ($snapshotter snapshotter, socket $CTRD_SOCK)"
  setsid containerd --config "$CTRD/config.toml" </dev/null >"$LOGS/containerd.log" 2>&1 &
  echo $! >"$PIDS/containerd.pid"
  wait_for 30 "containerd answering" ctr --address "$CTRD_SOCK" version ||
    { tail -n 30 "$LOGS/containerd.log" >&2; die "containerd did not start"; }

  SEALSTACK_IMAGE_TAG=dev "$E2E_CLUSTER_HERE/images.sh" pause >/dev/null

  ensure_bridge
  ensure_cgroup_root
  local s
  for s in "${KUBELET_SYSCTLS[@]}"; do echo "$s $(<"/proc/sys/$s")"; done >"$NODE_DIR/sysctl.orig"
  write_kubelet_config
  local port
  for port in "127.0.0.1 $KUBELET_HEALTHZ_PORT" "$GATEWAY_IP $KUBELET_PORT"; do
    ! (exec 3<>"/dev/tcp/${port% *}/${port#* }") 2>/dev/null ||
      die "${port% *}:${port#* } is in use (set SEALSTACK_CLUSTER_PORT_BASE)"
  done
  log "starting kubelet (node $NODE_NAME, $GATEWAY_IP:$KUBELET_PORT, pods in $NODE_POD_CIDR)"
  setsid "$BIN/kubelet" --config="$NODE_DIR/kubelet.yaml" --kubeconfig="$NODE_KUBECONFIG" \
    --root-dir="$KUBELET_ROOT" --cert-dir="$KUBELET_ROOT/pki" \
    --hostname-override="$NODE_NAME" --node-ip="$GATEWAY_IP" \
    --node-labels="$NODE_LABEL=true,type=real" --v=2 </dev/null >"$LOGS/kubelet.log" 2>&1 &
  echo $! >"$PIDS/kubelet.pid"
  # The node's Service proxy and DNS start beside the kubelet (neither needs it).
  start_kube_proxy
  start_coredns
  if ! wait_for 120 "node $NODE_NAME Ready" kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s; then
    log "last lines of $LOGS/kubelet.log:"; tail -n 40 "$LOGS/kubelet.log" >&2
    die "node $NODE_NAME not Ready"
  fi
  wait_kube_proxy
  wait_coredns
  "$E2E_CLUSTER_HERE/volumes.sh"
  log "real node $NODE_NAME Ready (kubelet v$KUBE_VERSION, containerd $(containerd --version | awk '{print $3}'))"
}

stop_pid() { # name pidfile exe
  pid_alive "$2" "$3" || { rm -f "$2"; return 0; }
  local pid; pid=$(<"$2")
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$2"
}

# other_kubelet_running [--netns]: whether a kubelet runs on this machine (with --netns: in this network
# namespace; an earlier kubelet of this node is stopped before this is asked).
other_kubelet_running() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/exe" 2>/dev/null) == */kubelet ]] || continue
    [[ ${1:-} != --netns ]] || same_netns "${p#/proc/}" || continue
    return 0
  done
  return 1
}

# What every kubelet creates outside its root dir, whatever its flags: the device-plugin socket
# /var/lib/kubelet/device-plugins/kubelet.sock (a fixed path, so device plugins would only work
# with one kubelet per machine; none are used here), and KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY
# and KUBE-FIREWALL (drop non-loopback packets to 127.0.0.0/8) in the network namespace's iptables.
# Each removed unless another kubelet still uses it: the socket on this machine, the chains in this
# network namespace (it would recreate them).
drop_kubelet_host_state() {
  if ! other_kubelet_running; then
    rm -f /var/lib/kubelet/device-plugins/kubelet.sock
    rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null || true
  fi
  other_kubelet_running --netns && return 0
  # Both families: kubelet makes the canary and hint chains in ip6tables too.
  local ipt t
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    "$ipt" -w -D INPUT -j KUBE-FIREWALL 2>/dev/null || true
    "$ipt" -w -D OUTPUT -j KUBE-FIREWALL 2>/dev/null || true
    "$ipt" -w -F KUBE-FIREWALL 2>/dev/null || true
    "$ipt" -w -X KUBE-FIREWALL 2>/dev/null || true
    for t in mangle nat filter; do "$ipt" -w -t "$t" -X KUBE-KUBELET-CANARY 2>/dev/null || true; done
    "$ipt" -w -t mangle -X KUBE-IPTABLES-HINT 2>/dev/null || true
  done
}

# kube-proxy's chains and rules in the host's iptables (both families), and its nftables
# table should it have made one: `kube-proxy --cleanup` removes them. Not while another
# kube-proxy runs on this machine: they are its chains too.
drop_kube_proxy_host_state() {
  [[ -f $NODE_DIR/kube-proxy.yaml && -x $BIN/kube-proxy ]] || return 0
  [[ -z $(other_kube_proxies) ]] || return 0
  "$BIN/kube-proxy" --cleanup >>"$LOGS/kube-proxy.log" 2>&1 || log "warning: kube-proxy --cleanup failed (see $LOGS/kube-proxy.log)"
}

# remove_netns FILE: unmounts and removes a pod's network namespace file. Where /run/netns was bind-mounted onto
# itself after FILE was mounted (`ip netns add` and podman do so when it is not a mount point yet), FILE has a
# second mount, covered by that bind mount, which no path reaches: umount takes the visible one, and rm then fails
# with "Device or resource busy" (the namespace would live on). It is removed then from a private mount namespace
# without the covering bind mount: an unlink there detaches the file's mounts in every other mount namespace,
# this one included. Nothing outside that private namespace is unmounted but FILE's own mounts.
remove_netns() {
  local n dir
  n=$(readlink -f "$1")
  umount "$n" 2>/dev/null || umount -l "$n" 2>/dev/null || true
  rm -f "$n" 2>/dev/null && return 0
  dir=$(dirname "$n")
  unshare -m --propagation private sh -c \
    'while umount -l "$1" 2>/dev/null; do :; done; while umount -l "$2" 2>/dev/null; do :; done; rm -f "$2"' \
    sh "$dir" "$n" 2>/dev/null || true
  [[ ! -e $n ]] || log "warning: could not remove $n"
}

down_node() {
  # 1. The node's services and kubelet first, so that it does not restart what is killed below.
  stop_pid coredns "$PIDS/coredns.pid" "$BIN/coredns"
  stop_pid kube-proxy "$PIDS/kube-proxy.pid" "$BIN/kube-proxy"
  drop_kube_proxy_host_state
  stop_pid kubelet "$PIDS/kubelet.pid" "$BIN/kubelet"
  # 2. Every container and sandbox of this containerd: kill, delete (the shims exit with them).
  #    Note their network namespaces first (containerd 1.6 keeps them in /var/run/netns).
  local netns=() ids=() id
  if [[ -S $CTRD_SOCK ]] && ctr --address "$CTRD_SOCK" version >/dev/null 2>&1; then
    mapfile -t ids < <(ctr_ containers ls -q 2>/dev/null)
    for id in "${ids[@]}"; do
      while read -r p; do netns+=("$p"); done < <(ctr_ containers info "$id" 2>/dev/null |
        grep -oE '"/var/run/netns/cni-[0-9a-f-]+"' | tr -d '"' | sort -u)
    done
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_ tasks ls -q 2>/dev/null); do
      for _ in 1 2 3 4 5 6 7 8 9 10; do ctr_ tasks rm -f "$id" >/dev/null 2>&1 && break; sleep 0.3; done
    done
    for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers rm "$id" >/dev/null 2>&1 || true; done
  fi
  # 3. containerd.
  stop_pid containerd "$PIDS/containerd.pid" "$(command -v containerd 2>/dev/null || echo /usr/bin/containerd)"
  # 4. Leftover processes in this node's cgroups (e.g. if containerd was already gone).
  local h procs=()
  if cgroup_v2; then h=/sys/fs/cgroup; else h=/sys/fs/cgroup/pids; fi
  if [[ -d $h$NODE_CGROUP_ROOT ]]; then
    mapfile -t procs < <(find "$h$NODE_CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
    if ((${#procs[@]})); then
      log "killing leftover pod processes: ${procs[*]}"
      kill -KILL "${procs[@]}" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  # 5. Network namespaces, mounts under the node dir (kubelet volumes, container rootfs, shm),
  #    the bridge, the cgroups, kubelet's log symlinks, and the sysctls kubelet changed.
  local n m
  for n in "${netns[@]}"; do remove_netns "$n"; done
  for m in $(awk -v d="$NODE_DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  drop_bridge
  if cgroup_v2; then
    [[ -d /sys/fs/cgroup$NODE_CGROUP_ROOT ]] && find "/sys/fs/cgroup$NODE_CGROUP_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
  else
    while read -r h; do
      [[ -d $h$NODE_CGROUP_ROOT ]] && find "$h$NODE_CGROUP_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done < <(cgroup_v1_dirs)
  fi
  [[ -d /var/log/containers ]] && find /var/log/containers -maxdepth 1 -lname "$NODE_DIR/*" -delete 2>/dev/null || true
  # libcni caches each attachment's result in /var/lib/cni/results (not configurable in
  # containerd 1.6); a killed pod got no CNI DEL, so drop this node's entries.
  rm -f /var/lib/cni/results/"sealstack-$PORT_BASE"-* 2>/dev/null || true
  for id in "${ids[@]}"; do rm -f "/var/lib/cni/results/cni-loopback-$id-lo"; done
  drop_kubelet_host_state
  # (Kernel-wide settings, not per namespace: left as they are while another kubelet, which wants them, runs.)
  if [[ -s $NODE_DIR/sysctl.orig ]] && ! other_kubelet_running; then
    local s v
    while read -r s v; do echo "$v" >"/proc/sys/$s" 2>/dev/null || true; done <"$NODE_DIR/sysctl.orig"
  fi
  rm -rf "$NODE_DIR" 2>/dev/null || { log "warning: could not remove all of $NODE_DIR"; true; }
}

case ${1:-} in
  up) up ;;
  down)
    [[ -d $NODE_DIR ]] || [[ -f $PIDS/kubelet.pid || -f $PIDS/containerd.pid ]] ||
      [[ -f $PIDS/kube-proxy.pid || -f $PIDS/coredns.pid ]] || exit 0
    down_node ;;
  *) die "usage: $0 up|down" ;;
esac
