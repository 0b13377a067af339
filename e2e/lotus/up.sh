#!/usr/bin/env bash
# Starts the real Lotus oracle (e2e/lotus/build.sh builds it) in the background on loopback: a Lotus v1.36.2
# full node (2k build, builtin-actors devnet bundle, real proofs with the generated 2KiB parameters) and a
# genesis miner with pre-sealed sectors mining a block every SEALSTACK_ORACLE_BLOCKTIME (default 250ms), so the
# chain advances. The chain lives in memory: every start is a new chain from genesis.
# Idempotent: a running oracle is reused. Prints FULLNODE_API_INFO=<admin token>:<multiaddr> on the last line.
#   SEALSTACK_LOTUS_PORT  API port on 127.0.0.1 (default 37234)
#   SEALSTACK_LOTUS_DIR   state dir: api, token, api-info, genesis-miner, wallet, oracle.log (default
#                         ~/.cache/sealstack/lotus/run)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -x $ORACLE_BIN ]] || die "the oracle is not built: run e2e/lotus/build.sh"
oracle_built || die "the oracle is out of date (its source or the generated parameters changed): run e2e/lotus/build.sh"

if oracle_running && [[ -s $LOTUS_RUN/ready ]]; then
  log "reusing the running oracle (pid $(<"$LOTUS_PID"), $LOTUS_RUN)"
  tail -n 1 "$LOTUS_RUN/ready"
  exit 0
fi
if oracle_running; then
  log "an oracle is starting or stuck: stopping it first"
  "$LOTUS_HERE/down.sh"
fi

# The parameters: links to the generated ones (go-paramfetch writes its lock file next to them).
mkdir -p "$LOTUS_PARAMS" "$LOTUS_CACHE/parents"
find "$LOTUS_PARAMS" -maxdepth 1 -type l -delete
for f in "$GENERATED_PARAMS"/*; do
  case $f in *.params | *.vk | *.meta | *.json) ln -s "$f" "$LOTUS_PARAMS/$(basename "$f")" ;; esac
done

rm -rf "$LOTUS_RUN"
mkdir -p "$LOTUS_RUN/tmp"
chmod 700 "$LOTUS_RUN"
log "starting the oracle on 127.0.0.1:$LOTUS_PORT (log: $LOTUS_LOG)"
(
  cd "$LOTUS_RUN"
  SEALSTACK_ORACLE_DIR=$LOTUS_RUN SEALSTACK_ORACLE_LISTEN=127.0.0.1:$LOTUS_PORT \
    FIL_PROOFS_PARAMETER_CACHE=$LOTUS_PARAMS FIL_PROOFS_PARENT_CACHE=$LOTUS_CACHE/parents \
    TMPDIR=$LOTUS_RUN/tmp LOTUS_DISABLE_WATCHDOG=1 \
    exec nohup setsid "$ORACLE_BIN" -test.run '^TestOracle$' -test.timeout 0 -test.v >"$LOTUS_LOG" 2>&1 </dev/null
) &
echo $! >"$LOTUS_PID"

started=$SECONDS
timeout=${SEALSTACK_LOTUS_START_TIMEOUT:-900}
until [[ -s $LOTUS_RUN/ready ]]; do
  if ! kill -0 "$(<"$LOTUS_PID")" 2>/dev/null; then
    tail -n 40 "$LOTUS_LOG" >&2
    die "the oracle exited during start-up (log: $LOTUS_LOG)"
  fi
  ((SECONDS - started < timeout)) || { tail -n 40 "$LOTUS_LOG" >&2; die "the oracle was not ready within $timeout s"; }
  sleep 1
done
log "the node is up after $((SECONDS - started)) s; waiting for the chain to advance"
height() { lotus_rpc ChainHead | jq -r '.result.Height // empty'; }
first=$(height)
until [[ -n $first && $(height) -gt $((first + 1)) ]]; do
  ((SECONDS - started < timeout)) || die "the chain does not advance (log: $LOTUS_LOG)"
  [[ -n $first ]] || first=$(height)
  sleep 1
done
log "ready after $((SECONDS - started)) s: head $(height), genesis miner $(<"$LOTUS_RUN/genesis-miner"), wallet $(<"$LOTUS_RUN/wallet")"
tail -n 1 "$LOTUS_RUN/ready"
