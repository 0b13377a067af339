#!/usr/bin/env bash
# Deletes the kind cluster and undoes what up.sh changed on this host, whatever it meets on the way: every step
# runs even when an earlier one failed (a mount a plain umount refuses is unmounted lazily), and what could not be
# undone is listed at the end (exit status 1 then). What is built (kind, the images, podman's storage with the
# node image) stays cached in $KIND_CACHE; the cluster's state dir goes.
#   e2e/kind/down.sh
# Steps: the cluster (kind delete, else its containers and volumes by label); the host routes to its pod and
# Service CIDRs; the engine's kind network if kind made it; netavark's iptables chains if there were none before;
# processes podman left for it (aardvark-dns, conmon); mounts under podman's storage and run dirs; what podman
# made in /var/lib/containers, /run/containers and the cgroup tree (when it was not there before); the kernel
# settings the kubelets changed (unless another kubelet runs here); /lib/modules if up.sh created it.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $ENGINE == podman ]] && kind_podman_config

# step NAME COMMAND...: runs one teardown step; its failure is recorded, never fatal.
step() {
  local what=$1; shift
  "$@" || warn "$what failed (exit $?)"
}

delete_cluster() {
  if [[ -x $KIND ]] && kind_exists; then
    log "deleting kind cluster $KIND_CLUSTER"
    "$KIND" delete cluster --name "$KIND_CLUSTER" --kubeconfig "$KIND_KUBECONFIG.delete" ||
      log "kind delete failed: removing the node containers directly"
    rm -f "$KIND_KUBECONFIG.delete"
  fi
  # What kind would have removed (or left after a failed create): the node containers and their /var volumes.
  local ids vols
  ids=$(engine ps -aq --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER" 2>/dev/null)
  if [[ -n $ids ]]; then
    log "removing node containers $(echo "$ids" | paste -sd' ')"
    # shellcheck disable=SC2086
    engine rm -f -v $ids >/dev/null || return 1
  fi
  if [[ $ENGINE == podman ]]; then
    # kind labels each node's /var volume with the node's name.
    local v labels
    vols=$(engine volume ls -q 2>/dev/null | while read -r v; do
      labels=$(engine volume inspect "$v" --format '{{range $k, $_ := .Labels}}{{$k}} {{end}}' 2>/dev/null)
      grep -qE "(^| )$KIND_CLUSTER-(control-plane|worker[0-9]*)( |$)" <<<"$labels" && echo "$v"
    done)
    # shellcheck disable=SC2086
    [[ -z $vols ]] || engine volume rm -f $vols >/dev/null || return 1
  fi
  [[ -z $(engine ps -aq --filter "label=io.x-k8s.kind.cluster=$KIND_CLUSTER" 2>/dev/null) ]]
}

drop_routes() {
  [[ -s $KIND_STATE/routes ]] || return 0
  local dst gw rc=0
  while read -r dst _ gw; do
    if [[ $(ip route show "$dst") == *"via $gw "* ]]; then
      as_root ip route del "$dst" via "$gw" || rc=1
    fi
  done <"$KIND_STATE/routes"
  return $rc
}

drop_network() {
  [[ $(cat "$KIND_STATE/network" 2>/dev/null) == created ]] || return 0
  engine network inspect kind >/dev/null 2>&1 || return 0
  if [[ -n $(engine ps -aq --filter network=kind 2>/dev/null) ]]; then
    warn "the $ENGINE network kind still has containers: left in place"
    return 0
  fi
  log "removing the $ENGINE network kind"
  engine network rm kind >/dev/null
}

# netavark (podman 4) leaves its chains and the rules jumping to them after the last network is gone.
drop_netavark_chains() {
  [[ $ENGINE == podman && $(cat "$KIND_STATE/netavark-chains" 2>/dev/null) == 0 ]] || return 0
  # Other podman containers on this machine (another storage) would still use them.
  if pgrep -x conmon >/dev/null; then
    warn "conmon processes run on this machine: netavark's iptables chains left in place"
    return 0
  fi
  local ipt t rule chain rc=0
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for t in filter nat mangle; do
      # (Read whole, not through grep -q: under pipefail an early grep exit fails the pipeline with SIGPIPE.)
      [[ $("$ipt" -w -t "$t" -S 2>/dev/null) == *NETAVARK* ]] || continue
      while read -r rule; do
        # shellcheck disable=SC2086
        eval "$ipt -w -t $t -D ${rule#-A }" || rc=1
      done < <("$ipt" -w -t "$t" -S | grep -E '^-A ' | grep -E -- '-j NETAVARK' | grep -vE '^-A NETAVARK')
      for chain in $("$ipt" -w -t "$t" -S | awk '/^-N NETAVARK/ {print $2}'); do "$ipt" -w -t "$t" -F "$chain" || rc=1; done
      for chain in $("$ipt" -w -t "$t" -S | awk '/^-N NETAVARK/ {print $2}'); do "$ipt" -w -t "$t" -X "$chain" || rc=1; done
    done
  done
  return $rc
}

# Processes podman started for the cluster's network or containers and left behind: aardvark-dns (DNS of the
# kind network) with its configuration in our run dir, conmon with our storage.
stop_leftovers() {
  local p args rc=0
  for p in $(pgrep -x aardvark-dns; pgrep -x conmon); do
    args=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
    [[ $args == *"$PODMAN_RUN"* || $args == *"$PODMAN_DIR"* ]] || continue
    log "stopping leftover $(awk '{print $1}' <<<"$args") (pid $p)"
    kill -TERM "$p" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.3; done
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || rc=1; fi
  done
  return $rc
}

# Mounts under podman's storage and run dirs (container rootfs, the storage's own bind mounts), deepest first.
unmount_podman() {
  [[ $ENGINE == podman ]] || return 0
  local m rc=0
  for m in $(awk -v a="$PODMAN_DIR/" -v b="$PODMAN_RUN/" -v c="$PODMAN_RUN" \
    'index($5, a) == 1 || index($5, b) == 1 || $5 == c {print $5}' /proc/self/mountinfo | sort -r | uniq); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || { warn "could not unmount $m"; rc=1; }
  done
  rm -rf "$PODMAN_RUN" 2>/dev/null || { warn "could not remove $PODMAN_RUN"; rc=1; }
  return $rc
}

# What rootful podman made on this host outside its configured dirs (lib.sh records what was missing before it
# first ran for e2e/kind): only podman's own files in them, and only when no podman container runs here.
drop_podman_host_paths() {
  [[ $ENGINE == podman && -s $PODMAN_DIR/host-paths ]] || return 0
  if pgrep -x conmon >/dev/null || pgrep -x aardvark-dns >/dev/null; then
    warn "podman containers run on this machine: left podman's shared paths ($(paste -sd' ' "$PODMAN_DIR/host-paths"))"
    return 0
  fi
  local p d rc=0
  while read -r p; do
    case $p in
      /var/lib/containers/cache) rm -f "$p/blob-info-cache-v1.boltdb" ;;
      /run/containers/networks)
        rm -f "$p/ipam.db" "$p/aardvark.lock"
        [[ ! -d $p/aardvark-dns ]] || rmdir "$p/aardvark-dns" 2>/dev/null ||
          { warn "$p/aardvark-dns is not empty: left"; rc=1; } ;;
      libpod_parent)
        for d in /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
          [[ -d $d ]] || continue
          find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || { warn "cgroup $d is in use: left"; rc=1; }
        done
        continue ;;
    esac
    [[ ! -d $p ]] || rmdir "$p" 2>/dev/null || { warn "$p holds more than podman's files for e2e/kind: left"; rc=1; }
  done <"$PODMAN_DIR/host-paths"
  return $rc
}

# Whether a kubelet other than the cluster's (gone by now) runs on this machine.
other_kubelet_running() {
  local p
  for p in /proc/[0-9]*; do [[ $(readlink "$p/exe" 2>/dev/null) == */kubelet ]] && return 0; done
  return 1
}
restore_sysctls() {
  [[ -s $KIND_STATE/sysctl.orig ]] || return 0
  if other_kubelet_running; then
    log "another kubelet runs here: leaving the kernel settings kubelets set as they are"
    return 0
  fi
  local s v rc=0
  while read -r s v; do
    [[ $(<"/proc/sys/$s") == "$v" ]] || echo "$v" | as_root tee "/proc/sys/$s" >/dev/null || rc=1
  done <"$KIND_STATE/sysctl.orig"
  return $rc
}

drop_lib_modules() {
  [[ -f $KIND_STATE/created-lib-modules ]] || return 0
  log "removing /lib/modules (created by up.sh)"
  as_root rmdir /lib/modules
}

step "deleting the cluster" delete_cluster
step "removing the host routes" drop_routes
step "removing the kind network" drop_network
step "stopping leftover processes" stop_leftovers
step "removing netavark's iptables chains" drop_netavark_chains
step "unmounting podman's storage" unmount_podman
step "removing podman's host paths" drop_podman_host_paths
step "restoring the kernel settings" restore_sysctls
step "removing /lib/modules" drop_lib_modules
if ((${#KIND_WARNINGS[@]})); then
  log "kept $KIND_STATE (records of what is left): could not undo ${#KIND_WARNINGS[@]} thing(s):"
  for w in "${KIND_WARNINGS[@]}"; do log "  - $w"; done
  exit 1
fi
rm -rf "$KIND_STATE"
log "kind cluster $KIND_CLUSTER deleted; nothing of it left on this host"
