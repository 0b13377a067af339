# A cluster in its own network namespace (sourced, not run). With SEALSTACK_CLUSTER_NETNS set, every process of
# the local cluster (control plane, kwok, containerd, kubelet, kube-proxy, CoreDNS, the pods' bridge) and every
# client of it (kubectl, the tests) runs in the namespace /run/netns/$SEALSTACK_CLUSTER_NETNS: its loopback ports,
# iptables rules, bridge, node IP and port 53 are its own. The test suite's cluster runs there (e2e-env.sh), so
# that it never meets a demo cluster on the same machine: kube-proxy's chains exist once per network namespace.
# Only the network is separate (nsenter --net): files, mounts, cgroups and processes are the machine's, so
# the scripts stop and clean up what they started exactly as they do without a namespace.

CLUSTER_NETNS=${SEALSTACK_CLUSTER_NETNS:-}

# in_cluster_netns: true when this shell already runs in $CLUSTER_NETNS (or none is asked for).
in_cluster_netns() {
  [[ -z $CLUSTER_NETNS ]] && return 0
  [[ -e /run/netns/$CLUSTER_NETNS ]] || return 1
  [[ $(stat -L -c %i /proc/self/ns/net) == "$(stat -L -c %i "/run/netns/$CLUSTER_NETNS")" ]]
}

# enter_cluster_netns [--create] ARGS...: re-runs the calling script ($0 ARGS...) inside $CLUSTER_NETNS unless it
# already runs there. --create makes the namespace (with loopback up) when it does not exist; without it, a
# missing namespace means no cluster runs there, and the script goes on where it is.
enter_cluster_netns() {
  local create=0
  [[ ${1:-} == --create ]] && { create=1; shift; }
  in_cluster_netns && return 0
  if [[ ! -e /run/netns/$CLUSTER_NETNS ]]; then
    ((create)) || return 0
    ip netns add "$CLUSTER_NETNS"
    ip -n "$CLUSTER_NETNS" link set lo up
    log "network namespace $CLUSTER_NETNS created"
  fi
  exec nsenter --net="/run/netns/$CLUSTER_NETNS" -- "$0" "$@"
}

# drop_cluster_netns: deletes $CLUSTER_NETNS (its iptables rules and bridge go with it). Processes still in it
# keep it alive until they exit; down.sh stops them first.
drop_cluster_netns() {
  [[ -n $CLUSTER_NETNS && -e /run/netns/$CLUSTER_NETNS ]] || return 0
  ip netns del "$CLUSTER_NETNS" 2>/dev/null || umount -l "/run/netns/$CLUSTER_NETNS" 2>/dev/null || true
  rm -f "/run/netns/$CLUSTER_NETNS" 2>/dev/null || true
}

# same_netns PID: true when process PID shares this shell's network namespace.
same_netns() {
  [[ $(stat -L -c %i "/proc/$1/ns/net" 2>/dev/null) == "$(stat -L -c %i /proc/self/ns/net)" ]]
}
