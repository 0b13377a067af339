#!/usr/bin/env bash
# sealstack's chain-facing paths against the real Lotus oracle (e2e/lotus/build.sh, up.sh). Without a built
# oracle it prints one line, "skipped: real Lotus oracle not built (e2e/lotus/build.sh)", and passes.
#
#   e2e/lotus/test.sh [init] [seal] [operator]     (default: all three, in that order)
#
#   init      `sealstack-miner init` creates a 2KiB miner (CreateMiner with the creation deposit, a BLS worker
#             made by WalletNew); `actor set-addrs` and `set-peer-id` land and StateMinerInfo shows them; an init
#             killed right after pushing CreateMiner, run again, makes exactly one actor.
#   seal      `sealstack-miner run` + `worker` seal a 2KiB CC sector: PreCommitSectorBatch2 and ProveCommitSectors3
#             accepted by the real miner actor, the sector active, and WindowPoSts accepted with no fault over a
#             whole proving period (2880 epochs: 10-20 minutes at the oracle's pace).
#   operator  the operator, a host process on a control-plane-only local cluster (its own dir and ports), creates
#             a Miner's actor through a Secret pointing at the oracle and publishes its multiaddrs; killed right
#             after pushing CreateMiner and restarted, it still makes exactly one actor.
#
# The oracle is started with up.sh when it is not running, and left running (down.sh stops it).
# Binaries: cargo builds sealstack-miner and sealstack-operator into $CARGO_TARGET_DIR (default
# ~/.cache/sealstack/target). Work files and logs: $SEALSTACK_LOTUS_TEST_DIR (default ~/.cache/sealstack/lotus/test).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -x $ORACLE_BIN ]]; then
  echo "skipped: real Lotus oracle not built (e2e/lotus/build.sh)"
  exit 0
fi

stages=("$@")
[[ ${#stages[@]} -gt 0 ]] || stages=(init seal operator)
for s in "${stages[@]}"; do
  case $s in init | seal | operator) ;; *) die "unknown stage $s (init, seal, operator)" ;; esac
done

oracle_built || lotus_step "rebuild the oracle (its inputs changed)" "$LOTUS_HERE/build.sh" >/dev/null
source "$LOTUS_REPO_ROOT/scripts/target-dir.sh"
# The suite's one build of every binary (the same features as `cargo test`, so nothing is rebuilt twice).
build_bins() { "$LOTUS_REPO_ROOT/scripts/build-binaries.sh" >/dev/null; }
lotus_step "build sealstack-miner and sealstack-operator" build_bins
MINER_BIN=$CARGO_TARGET_DIR/debug/sealstack-miner
OPERATOR_BIN=$CARGO_TARGET_DIR/debug/sealstack-operator

lotus_step "the oracle up" "$LOTUS_HERE/up.sh" >/dev/null
FULLNODE_API_INFO=$(<"$LOTUS_RUN/api-info")
WALLET=$(<"$LOTUS_RUN/wallet")
export FULLNODE_API_INFO FIL_PROOFS_PARAMETER_CACHE=$GENERATED_PARAMS RUST_LOG=${RUST_LOG:-info}

W=${SEALSTACK_LOTUS_TEST_DIR:-$LOTUS_CACHE/test}
rm -rf "$W"
mkdir -p "$W"
log "work files and logs: $W"

# --- helpers ---
failures=0
pass() { echo "PASS: $*"; }
# (scripts/log.sh's wait_for calls this fail when it gives up: a wait that times out counts as a failure.)
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# check DESCRIPTION ACTUAL EXPECTED
check() { if [[ $2 == "$3" ]]; then pass "$1 ($2)"; else fail "$1: got '$2', expected '$3'"; fi; }
# rpc METHOD PARAMS_JSON: the call's result as compact JSON; an error is printed and fails.
rpc() {
  local out
  out=$(lotus_rpc "$1" "${2:-[]}")
  if [[ $(jq -r 'has("error")' <<<"$out") == true ]]; then
    echo "rpc $1 $2: $(jq -c .error <<<"$out")" >&2
    return 1
  fi
  jq -c .result <<<"$out"
}
head_height() { rpc ChainHead | jq -r .Height; }
nonce() { rpc MpoolGetNonce "[\"$1\"]"; }
miners() { rpc StateListMiners '[[]]' | jq -r '.[]' | sort; }
# The number of set bits of a Lotus RLE bitfield (JSON run lengths, starting with a run of zeros).
bits() { jq '[to_entries[] | select(.key % 2 == 1) | .value] | add // 0'; }
# lookup CID: the message's receipt exit code and execution height, "exit@height".
lookup() { rpc StateSearchMsg "[[], {\"/\":\"$1\"}, -1, true]" | jq -r '"\(.Receipt.ExitCode)@\(.Height)"'; }
message_method() { rpc ChainGetMessage "[{\"/\":\"$1\"}]" | jq -r .Method; }
miner() { "$MINER_BIN" "$@"; }
# The binary multiaddr /ip4/203.0.113.9/tcp/24001 as Lotus's JSON writes it (base64 of 04 cb007109 06 5dc1).
ANNOUNCE=/ip4/203.0.113.9/tcp/24001
ANNOUNCE_B64=$(printf '\x04\xcb\x00\x71\x09\x06\x5d\xc1' | base64)

INIT=(init --create-worker-key --sector-size 2KiB --confidence 1 --worker-funding 10
  --manifest "$GENERATED_PARAMS/parameters.json")

# --- init: CreateMiner, set-addrs, set-peer-id, a crashed init ---
stage_init() {
  echo "=== init against Lotus $(rpc Version | jq -r .Version) ==="
  local before_nonce before_miners
  before_nonce=$(nonce "$WALLET")
  before_miners=$(miners)
  if ! miner --repo "$W/miner" "${INIT[@]}" >"$W/init.log" 2>&1; then
    fail "sealstack-miner init (log: $W/init.log)"; tail -n 20 "$W/init.log"; return 1
  fi
  local actor info create_cid
  actor=$(jq -r .actor "$W/miner/miner.json")
  pass "sealstack-miner init created $actor"
  info=$(rpc StateMinerInfo "[\"$actor\", []]")
  echo "    StateMinerInfo: $info"
  check "the owner is the node's default wallet" "$(jq -r .Owner <<<"$info")" "$(rpc StateLookupID "[\"$WALLET\", []]" | jq -r .)"
  check "the worker is a BLS key (StateAccountKey protocol)" "$(rpc StateAccountKey "[$(jq .Worker <<<"$info"), []]" | jq -r '.[0:2]')" t3
  check "sector size" "$(jq -r .SectorSize <<<"$info")" 2048
  check "WindowPoSt proof type (2KiB V1_1)" "$(jq -r .WindowPoStProofType <<<"$info")" 10
  check "the on-chain peer ID is the repo's" "$(jq -r .PeerId <<<"$info")" "$(sed -n 's/^libp2p peer ID //p' "$W/init.log")"
  create_cid=$(jq -r '.messages["create-miner"].cid' "$W/miner/init.json")
  check "CreateMiner (power actor method 2) landed with exit 0" "$(message_method "$create_cid"):$(lookup "$create_cid" | cut -d@ -f1)" 2:0
  echo "    CreateMiner value $(rpc ChainGetMessage "[{\"/\":\"$create_cid\"}]" | jq -r .Value) attoFIL; StateMinerCreationDeposit now $(rpc StateMinerCreationDeposit '[[]]' | jq -r .)"
  check "the owner sent two messages (worker funding, CreateMiner)" "$(nonce "$WALLET")" $((before_nonce + 2))
  check "one new miner actor" "$(comm -13 <(echo "$before_miners") <(miners) | tr '\n' ' ')" "$actor "

  if miner --repo "$W/miner" actor set-addrs "$ANNOUNCE" >"$W/set-addrs.log" 2>&1; then
    check "set-addrs: StateMinerInfo.Multiaddrs" "$(rpc StateMinerInfo "[\"$actor\", []]" | jq -c .Multiaddrs)" "[\"$ANNOUNCE_B64\"]"
  else
    fail "actor set-addrs (log: $W/set-addrs.log)"; tail -n 20 "$W/set-addrs.log"
  fi
  local own_peer other_peer
  own_peer=$(jq -r .PeerId <<<"$info")
  other_peer=$(rpc NetAddrsListen | jq -r .ID)
  if miner --repo "$W/miner" actor set-peer-id "$other_peer" >"$W/set-peer-id.log" 2>&1; then
    check "set-peer-id: StateMinerInfo.PeerId" "$(rpc StateMinerInfo "[\"$actor\", []]" | jq -r .PeerId)" "$other_peer"
  else
    fail "actor set-peer-id (log: $W/set-peer-id.log)"; tail -n 20 "$W/set-peer-id.log"
  fi
  if miner --repo "$W/miner" actor set-peer-id "$own_peer" >>"$W/set-peer-id.log" 2>&1; then
    check "set-peer-id back to the repo's own" "$(rpc StateMinerInfo "[\"$actor\", []]" | jq -r .PeerId)" "$own_peer"
  else
    fail "actor set-peer-id back (log: $W/set-peer-id.log)"
  fi
  echo "    sealstack-miner info:"; miner --repo "$W/miner" info 2>&1 | sed 's/^/      /'

  # A crash right after the CreateMiner push, before its CID is saved; the rerun resumes from the journal.
  before_nonce=$(nonce "$WALLET")
  before_miners=$(miners)
  if SEALSTACK_CRASH_BEFORE_SAVING=create-miner miner --repo "$W/miner-crash" "${INIT[@]}" >"$W/init-crash.log" 2>&1; then
    fail "the init with an injected crash succeeded"
  else
    grep -q "injected crash" "$W/init-crash.log" && pass "init killed right after pushing CreateMiner" ||
      { fail "init failed without the injected crash (log: $W/init-crash.log)"; tail -n 20 "$W/init-crash.log"; }
  fi
  if miner --repo "$W/miner-crash" "${INIT[@]}" >"$W/init-resumed.log" 2>&1; then
    local again
    again=$(jq -r .actor "$W/miner-crash/miner.json")
    pass "the resumed init finished with $again"
    check "one new miner actor after the crash and the rerun" "$(comm -13 <(echo "$before_miners") <(miners) | tr '\n' ' ')" "$again "
    check "the owner sent two messages, none twice" "$(nonce "$WALLET")" $((before_nonce + 2))
  else
    fail "the resumed init (log: $W/init-resumed.log)"; tail -n 20 "$W/init-resumed.log"
  fi
}

# --- seal: a CC sector to Proving, WindowPoSts over a proving period ---
DAEMON_PID=
WORKER_PID=
stop_runtime() {
  local p
  for p in $WORKER_PID $DAEMON_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  DAEMON_PID= WORKER_PID=
  return 0
}
sector_state() { jq -r .state "$W/miner/sectors/0.json" 2>/dev/null; }
sector_in() { local s; s=$(sector_state); [[ $s == FailedUnrecoverable ]] && return 0; [[ " $* " == *" $s "* ]]; }

stage_seal() {
  echo "=== seal a 2KiB CC sector, prove it over a proving period ==="
  [[ -f $W/miner/miner.json ]] || { fail "no miner repo: the seal stage needs the init stage first"; return 1; }
  local actor api_port metrics_port
  actor=$(jq -r .actor "$W/miner/miner.json")
  api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # The binary itself in the background (not the `miner` function: its subshell's pid would be killed, the
  # daemon left running).
  "$MINER_BIN" --repo "$W/miner" run --api-listen "127.0.0.1:$api_port" --metrics-addr "127.0.0.1:$metrics_port" \
    --p2p-listen /ip4/127.0.0.1/tcp/0 --poll-ms 200 --pledge 1 >"$W/daemon.log" 2>&1 &
  DAEMON_PID=$!
  wait_for 60 "the daemon writes its api file" test -s "$W/miner/api" || { stop_runtime; return 1; }
  MINER_API_INFO="$(<"$W/miner/token"):$(<"$W/miner/api")" "$MINER_BIN" worker --scratch "$W/scratch" --name lotus-oracle \
    >"$W/worker.log" 2>&1 &
  WORKER_PID=$!
  local started=$SECONDS
  wait_for 1800 "sector 0 reaches Proving" sector_in Proving || true
  local state
  state=$(sector_state)
  if [[ $state != Proving ]]; then
    fail "sector 0 is $state (daemon log: $W/daemon.log)"
    jq -c '{state, last_error, log: .log[-5:]}' "$W/miner/sectors/0.json" 2>/dev/null
    tail -n 20 "$W/daemon.log"
    stop_runtime
    return 1
  fi
  pass "sector 0 sealed and proven in $((SECONDS - started)) s"
  jq -r '.log[] | "      \(.Kind): \(.Message)"' "$W/miner/sectors/0.json" 2>/dev/null | tail -n 15 || true
  local pre prove
  pre=$(jq -r '.messages["pre-commit"].cid' "$W/miner/sectors/0.json")
  prove=$(jq -r '.messages["prove-commit"].cid' "$W/miner/sectors/0.json")
  check "PreCommitSectorBatch2 (method 28) accepted" "$(message_method "$pre"):$(lookup "$pre" | cut -d@ -f1)" 28:0
  check "ProveCommitSectors3 (method 34) accepted" "$(message_method "$prove"):$(lookup "$prove" | cut -d@ -f1)" 34:0
  local activated location dl
  activated=$(lookup "$prove" | cut -d@ -f2)
  echo "    on chain: $(rpc StateMinerSectors "[\"$actor\", [0, 1], []]" | jq -c '.[0] | {SectorNumber, SealProof, Activation, Expiration, InitialPledge}')"
  location=$(rpc StateSectorPartition "[\"$actor\", 0, []]")
  dl=$(jq -r .Deadline <<<"$location")
  echo "    sector 0 is in deadline $dl, partition $(jq -r .Partition <<<"$location"); ProveCommit executed at $activated"
  check "the sector is on chain" "$(rpc StateMinerSectors "[\"$actor\", [0, 1], []]" | jq -r 'length')" 1

  # A whole proving period after activation, with no fault at any time.
  local period window end faults power
  period=$(rpc StateMinerProvingDeadline "[\"$actor\", []]" | jq -r .WPoStProvingPeriod)
  window=$(rpc StateMinerProvingDeadline "[\"$actor\", []]" | jq -r .WPoStChallengeWindow)
  end=$((activated + period + window))
  echo "    watching faults until epoch $end (proving period $period, challenge window $window)"
  local last_report=0 h shown=
  while true; do
    h=$(head_height)
    # When the sector's deadline is open: what the real actor says of its partition (the daemon proves from it).
    if [[ -z $shown && $(rpc StateMinerProvingDeadline "[\"$actor\", []]" | jq -r .Index) == "$dl" ]]; then
      echo "    deadline $dl open at epoch $h: partitions $(rpc StateMinerPartitions "[\"$actor\", $dl, []]")"
      shown=1
    fi
    faults=$(rpc StateMinerFaults "[\"$actor\", []]" | bits)
    if [[ $faults != 0 ]]; then
      fail "sector faulty at epoch $h (deadline $dl; daemon log: $W/daemon.log)"
      grep -iE "windowpost|post" "$W/daemon.log" | tail -n 10
      break
    fi
    ((h >= end)) && break
    if ((SECONDS - last_report >= 60)); then
      echo "    epoch $h / $end: faults 0, power $(rpc StateMinerPower "[\"$actor\", []]" | jq -c '.MinerPower.RawBytePower'), deadline $(rpc StateMinerProvingDeadline "[\"$actor\", []]" | jq -r .Index)"
      last_report=$SECONDS
    fi
    sleep 5
  done
  if ((faults == 0)); then
    pass "no fault from activation ($activated) to epoch $(head_height), a whole proving period"
  fi
  power=$(rpc StateMinerPower "[\"$actor\", []]" | jq -r .MinerPower.RawBytePower)
  check "the miner's raw power (the sector proven and active)" "$power" 2048
  local posts=0 accepted=0 f cid r
  # The daemon's journal of a deadline (posts/<challenge epoch>.json): one "window-post-p<first partition>" entry
  # per message (at most 3 partitions each), beside its fault and recovery declarations.
  for f in "$W"/miner/posts/*.json; do
    [[ -f $f ]] || continue
    for cid in $(jq -r 'to_entries[] | select(.key | startswith("window-post")) | .value.cid // empty' "$f"); do
      posts=$((posts + 1))
      r=$(lookup "$cid")
      echo "    SubmitWindowedPoSt $(basename "$f" .json): method $(message_method "$cid"), exit@height $r"
      [[ ${r%@*} == 0 ]] && accepted=$((accepted + 1))
    done
  done
  if ((accepted > 0 && accepted == posts)); then
    pass "$accepted WindowPoSt message(s) accepted by the miner actor"
  else
    fail "WindowPoSts: $accepted of $posts accepted"
  fi
  # The actor accepts a WindowPoSt optimistically (builtin-actors submit_windowed_post verifies only when power
  # is recovered) and keeps it for disputes until two finalities after its deadline closed. A dispute, run with
  # StateCall (nothing sent), makes the real actor verify it with filecoin-ffi: "failed to dispute valid post".
  if ((accepted > 0)); then
    local dispute
    dispute=$(rpc StateCall "[{\"Version\":0,\"To\":\"$actor\",\"From\":\"$WALLET\",\"Nonce\":0,\"Value\":\"0\",
      \"GasLimit\":10000000000,\"GasFeeCap\":\"0\",\"GasPremium\":\"0\",\"Method\":24,\"Params\":\"$(python3 -c 'import base64, sys; d = int(sys.argv[1]); print(base64.b64encode(bytes([0x82] + ([d] if d < 24 else [0x18, d]) + [0])).decode())' "$dl")\"}, []]")
    echo "    DisputeWindowedPoSt(deadline $dl, proof 0) by StateCall: exit $(jq -r .MsgRct.ExitCode <<<"$dispute"): $(jq -r '.Error // "" | .[0:200]' <<<"$dispute")"
    if [[ $(jq -r .Error <<<"$dispute") == *"failed to dispute valid post"* ]]; then
      pass "the real actor verified the WindowPoSt when disputed: valid"
    else
      fail "the dispute did not find the WindowPoSt valid"
    fi
  fi
  stop_runtime
}

# --- operator: a Miner's actor through a Secret, the operator killed after the push ---
CLUSTER_ENV=(SEALSTACK_CLUSTER_DIR="${SEALSTACK_LOTUS_CLUSTER_DIR:-$SEALSTACK_CACHE/cluster-lotus}"
  SEALSTACK_CLUSTER_PORT_BASE="${SEALSTACK_LOTUS_CLUSTER_PORT_BASE:-38000}" SEALSTACK_REAL_NODE=0)
OPERATOR_PID=
start_operator() {
  "$OPERATOR_BIN" run --metrics-addr "127.0.0.1:0" --namespace "$NS" --leader-lease "" --controllers miner \
    --runtime-image sealstack/miner:lotus-oracle >>"$W/operator.log" 2>&1 &
  OPERATOR_PID=$!
}
# SIGTERM, then SIGKILL after 30 s as a kubelet would (a graceful shutdown once hung here for minutes).
stop_operator() {
  [[ -n $OPERATOR_PID ]] || return 0
  kill "$OPERATOR_PID" 2>/dev/null
  local i
  for i in $(seq 30); do kill -0 "$OPERATOR_PID" 2>/dev/null || break; sleep 1; done
  if kill -0 "$OPERATOR_PID" 2>/dev/null; then
    echo "    the operator did not stop within 30 s of SIGTERM: killed"
    kill -KILL "$OPERATOR_PID" 2>/dev/null
  fi
  wait "$OPERATOR_PID" 2>/dev/null
  OPERATOR_PID=
  return 0
}
kc() { "$KUBECTL" --kubeconfig="$KUBECONFIG" "$@"; }
condition() { kc -n "$NS" get miner m1 -o jsonpath="{.status.conditions[?(@.type==\"$1\")].status}"; }

stage_operator() {
  echo "=== the operator creates a Miner's actor on Lotus ==="
  KUBECONFIG=$(env "${CLUSTER_ENV[@]}" "$LOTUS_REPO_ROOT/e2e/cluster/up.sh" 2>"$W/cluster-up.log" | tail -n 1) ||
    { fail "the local cluster did not start (log: $W/cluster-up.log)"; return 1; }
  export KUBECONFIG # the operator reads it
  # shellcheck source=../cluster/versions.sh
  KUBECTL=$(source "$LOTUS_REPO_ROOT/e2e/cluster/versions.sh" && echo "$SEALSTACK_K8S_BIN/kubectl")
  NS=lotus-oracle-$RANDOM
  kc apply --server-side -f "$LOTUS_REPO_ROOT/manifests/crds.yaml" >/dev/null
  kc create namespace "$NS" >/dev/null
  kc -n "$NS" create secret generic lotus --from-literal=FULLNODE_API_INFO="$FULLNODE_API_INFO" >/dev/null
  # The ParamCache marked Ready by hand: this stage is about the chain (no fetch Job runs here).
  kc -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: sealstack.io/v1alpha1
kind: ParamCache
metadata: {name: params}
spec: {sectorSizes: ["2KiB"], gateway: "http://127.0.0.1:9/ipfs/", storage: {size: 1Gi}}
EOF
  kc -n "$NS" patch paramcache params --subresource=status --type=merge -p \
    '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Verified","message":"set by e2e/lotus/test.sh","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' >/dev/null
  local before_nonce before_miners
  before_nonce=$(nonce "$WALLET")
  before_miners=$(miners)
  start_operator
  kc -n "$NS" apply -f - >/dev/null <<EOF
apiVersion: sealstack.io/v1alpha1
kind: Miner
metadata: {name: m1}
spec:
  fullNode: {apiInfoSecretRef: {name: lotus}}
  worker: {create: bls}
  workerFunding: "10000000000000000000"
  sectorSize: 2KiB
  confidence: 1
  paramCacheRef: {name: params}
  storage: {size: 1Gi}
  p2p: {service: {type: LoadBalancer}, announceAddresses: ["$ANNOUNCE"]}
EOF
  # Killed as soon as Lotus's mempool holds CreateMiner (the owner's second message), before the operator can
  # see it land.
  # shellcheck disable=SC2317 # (called by wait_for)
  pushed() { [[ $(nonce "$WALLET") -ge $((before_nonce + 2)) ]]; }
  if ! WAIT_EVERY=0.1 wait_for 300 "CreateMiner pushed by the operator (log: $W/operator.log)" pushed; then
    stop_operator
    return 1
  fi
  kill -KILL "$OPERATOR_PID"; wait "$OPERATOR_PID" 2>/dev/null || true; OPERATOR_PID=
  pass "operator killed (SIGKILL) once CreateMiner was in Lotus's mempool; its journal then: $(kc -n "$NS" get miner m1 -o jsonpath='{.status.creation.messages}')"
  start_operator
  # shellcheck disable=SC2317 # (called by wait_for)
  chain_done() { [[ $(condition ActorCreated) == True && $(condition AddressesPublished) == True ]]; }
  if ! wait_for 300 "ActorCreated and AddressesPublished after the restart" chain_done; then
    kc -n "$NS" get miner m1 -o yaml | sed -n '/^status:/,$p'
    tail -n 20 "$W/operator.log"
    stop_operator
    return 1
  fi
  local actor status info
  status=$(kc -n "$NS" get miner m1 -o json | jq -c .status)
  actor=$(jq -r .actorAddress <<<"$status")
  pass "the restarted operator finished: actor $actor, conditions $(jq -c '[.conditions[] | "\(.type)=\(.status)"]' <<<"$status")"
  info=$(rpc StateMinerInfo "[\"$actor\", []]")
  check "one new miner actor on Lotus" "$(comm -13 <(echo "$before_miners") <(miners) | sed 's/^t/f/' | tr '\n' ' ')" "${actor/#t/f} "
  check "the owner sent two messages (worker funding, CreateMiner), none twice" "$(nonce "$WALLET")" $((before_nonce + 2))
  check "on-chain multiaddrs (published by the operator)" "$(jq -c .Multiaddrs <<<"$info")" "[\"$ANNOUNCE_B64\"]"
  check "the status's on-chain multiaddrs" "$(jq -c .onChainMultiaddrs <<<"$status")" "[\"$ANNOUNCE\"]"
  check "on-chain peer ID = the status's" "$(jq -r .PeerId <<<"$info")" "$(jq -r .peerId <<<"$status")"
  check "the worker is a BLS key" "$(rpc StateAccountKey "[$(jq .Worker <<<"$info"), []]" | jq -r '.[0:2]')" t3
  stop_operator
  kc delete namespace "$NS" --wait=false >/dev/null
}

trap 'stop_runtime; stop_operator' EXIT
for s in "${stages[@]}"; do
  "stage_$s" || true
done
if ((failures > 0)); then
  echo "e2e/lotus: $failures check(s) failed (logs in $W; oracle log $LOTUS_LOG)"
  exit 1
fi
echo "e2e/lotus: all checks passed (${stages[*]})"
