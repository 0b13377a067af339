#!/usr/bin/env bash
# The compatibility check behind e2e/lotus/README.md's table: a fresh devnet (sealstack-devnet) and the running
# Lotus oracle (up.sh) get the same calls, every Lotus method sealstack calls plus the transport rules, each
# with a miner made by `sealstack-miner init`; compare.py prints both answers and their differences of shape.
#   e2e/lotus/compare.sh           output also in $SEALSTACK_LOTUS_TEST_DIR/compare.txt (and compare.json)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -x $ORACLE_BIN ]] || { echo "skipped: real Lotus oracle not built (e2e/lotus/build.sh)"; exit 0; }
source "$LOTUS_REPO_ROOT/scripts/target-dir.sh"
"$LOTUS_REPO_ROOT/scripts/build-binaries.sh" >/dev/null
"$LOTUS_HERE/up.sh" >/dev/null
W=${SEALSTACK_LOTUS_TEST_DIR:-$LOTUS_CACHE/test}/compare
rm -rf "$W"
mkdir -p "$W"
export FIL_PROOFS_PARAMETER_CACHE=$GENERATED_PARAMS

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The devnet as e2e/demo runs it, but with Lotus's challenge window (60 epochs).
"$CARGO_TARGET_DIR/debug/sealstack-devnet" run --repo "$W/devnet" --listen "127.0.0.1:$port" --block-time-ms 250 \
  --challenge-window 60 >"$W/devnet.log" 2>&1 &
devnet_pid=$!
trap 'kill $devnet_pid 2>/dev/null; wait $devnet_pid 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q FULLNODE_API_INFO= "$W/devnet.log" && break; sleep 0.2; done
devnet_info=$(sed -n 's/^FULLNODE_API_INFO=//p' "$W/devnet.log" | tail -n1)
lotus_info=$(<"$LOTUS_RUN/api-info")

init() { # API_INFO REPO
  FULLNODE_API_INFO=$1 "$CARGO_TARGET_DIR/debug/sealstack-miner" --repo "$2" init --create-worker-key \
    --sector-size 2KiB --confidence 1 --worker-funding 10 \
    --manifest "$GENERATED_PARAMS/parameters.json" >"$2.log" 2>&1 || { tail -n 20 "$2.log"; return 1; }
  jq -r .actor "$2/miner.json"
}
devnet_miner=$(init "$devnet_info" "$W/devnet-miner")
lotus_miner=$(init "$lotus_info" "$W/lotus-miner")
python3 "$LOTUS_HERE/compare.py" --devnet "$devnet_info" --devnet-miner "$devnet_miner" \
  --lotus "$lotus_info" --lotus-miner "$lotus_miner" --json "$W/compare.json" | tee "$W/compare.txt"
