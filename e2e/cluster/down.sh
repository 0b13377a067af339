#!/usr/bin/env bash
# Stops every process up.sh started (by recorded pid, checked against our binaries) and
# removes the cluster state dir. `down.sh --keep-logs` keeps $SEALSTACK_CLUSTER_DIR/logs. A cluster in a
# network namespace of its own (SEALSTACK_CLUSTER_NETNS) is stopped from inside it, and the namespace deleted.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
enter_cluster_netns "$@"

keep_logs=0
[[ ${1:-} == --keep-logs ]] && keep_logs=1

# What could not be undone, reported at the end (exit status 1): every step runs whatever an earlier one met.
failed=()

# The real node first (containers, mounts, netns, bridge, cgroups), whatever SEALSTACK_REAL_NODE says.
"$E2E_CLUSTER_HERE/node.sh" down || failed+=("the real node's teardown (node.sh down, above)")

for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  c=${COMPONENTS[i]}
  if component_alive "$c"; then
    pid=$(<"$PIDS/$c.pid")
    log "stopping $c (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    # (A zombie is gone but for its parent's reaping.)
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z) == Z ]] || failed+=("$c (pid $pid) still runs")
  fi
  rm -f "$PIDS/$c.pid"
done

drop_cluster_netns

if [[ -d $D ]]; then
  if ((keep_logs)); then
    find "$D" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + || failed+=("removing $D but its logs")
    log "stopped; logs kept in $LOGS"
  else
    rm -rf "$D" || failed+=("removing $D")
    log "stopped; removed $D"
  fi
fi
if ((${#failed[@]})); then
  log "could not undo everything:"
  for f in "${failed[@]}"; do log "  - $f"; done
  exit 1
fi
