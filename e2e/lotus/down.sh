#!/usr/bin/env bash
# Stops the oracle that e2e/lotus/up.sh started (its pid only) and removes its state, keeping its log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if oracle_running; then
  pid=$(<"$LOTUS_PID")
  log "stopping the oracle (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "still running after 60 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
fi
if [[ -d $LOTUS_RUN ]]; then
  rm -rf "$LOTUS_RUN/tmp"
  find "$LOTUS_RUN" -mindepth 1 -maxdepth 1 ! -name oracle.log -exec rm -rf {} +
fi
log "stopped"
