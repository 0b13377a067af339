#!/usr/bin/env bash
# The e2e test of the main job (scripts/demo.sh) on the local cluster's real node, with disruptions:
#   1. the samples go to a Ready Miner whose 2KiB CC sector, sealed by a worker pod, is Proving on the devnet;
#   2. the operator pod is deleted while it creates the miner actor: exactly one actor is made;
#   3. the worker pod is deleted while it seals: the task's lease runs out, the sector is sealed all the same,
#      and no chain message is sent twice;
#   then, once the sector is proven: a lost sector file faulty and recovered, the deadline gate holding an eviction
#   and a rollout, and the Miner mining blocks (one of them with the worker pod's WinningPoSt);
#   4. `helm upgrade` with changed values rolls the operator and changes nothing on chain;
#   5. deleting the samples and `helm uninstall` leave no object behind but the claims that hold data.
# Needs a test cluster with the real node: e2e/cluster/test.sh runs it after the cargo e2e tests
# (SEALSTACK_KUBECONFIG and SEALSTACK_K8S_BIN set); by hand, without SEALSTACK_KUBECONFIG, it starts (or reuses)
# the test suite's own cluster (e2e/cluster/e2e-env.sh), never the demo's. A cluster without the test mark
# (the ConfigMap kube-system/sealstack-e2e) is refused: this script deletes and uninstalls what it finds.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../../scripts/lib.sh"
cd "$REPO_ROOT"

K8S=${SEALSTACK_K8S_BIN:-$(k8s_bin)}
if [[ -z ${SEALSTACK_KUBECONFIG:-} ]]; then
  source e2e/cluster/e2e-env.sh
  source e2e/cluster/lib.sh
  ensure_cluster_pkgs
  enter_cluster_netns --create "$@"
  SEALSTACK_KUBECONFIG=$(SEALSTACK_REAL_NODE=1 e2e/cluster/up.sh | tail -n 1)
fi
KUBECONFIG=$SEALSTACK_KUBECONFIG
export KUBECONFIG
if ! "$K8S/kubectl" -n kube-system get configmap sealstack-e2e >/dev/null 2>&1; then
  echo "refusing to run the demo's e2e test against $KUBECONFIG: its cluster was not started for tests" \
    "(no ConfigMap kube-system/sealstack-e2e); e2e/cluster/test.sh starts a test cluster of its own" >&2
  exit 1
fi
PARAMS=${SEALSTACK_GENERATED_PARAMS:-$(scripts/params.sh 2KiB | tail -n 1)}
source e2e/demo/lib.sh

assert() { # assert WHAT CONDITION-COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok    $what"; else fail "$what"; fi
}
jsonpath() { kd get "$1" "$2" -o jsonpath="$3"; }
# The devnet's miner actors as ID numbers (it prints testnet `t0` addresses, the operator's status `f0` ones).
miner_ids() { devnet_call StateListMiners '[null]' | jq -c 'map(.[2:])'; }

# A world from an earlier run (a kept cluster) goes first: one operator per cluster.
if helm_ status "$RELEASE" -n "$OPERATOR_NS" >/dev/null 2>&1; then
  k delete -n "$DEMO_NS" --ignore-not-found --wait=true sealingworkers,miners,paramcaches --all >/dev/null || true
  helm_ uninstall "$RELEASE" -n "$OPERATOR_NS" --wait >/dev/null
fi
k delete namespace "$DEMO_NS" --ignore-not-found --wait=true --timeout=120s >/dev/null

step "images" demo_images >/dev/null
step "storage" demo_storage
step "CRDs" k apply --server-side --force-conflicts -f manifests/crds.yaml >/dev/null
step "devnet pod" demo_devnet
step "parameter gateway" demo_gateway
step "helm install" demo_install_chart
step "samples" demo_apply_samples
# A second ParamCache whose manifest names a digest that the gateway's file does not have (as a corrupt file on
# the gateway would): checked at the end, it must fail and never go Ready.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jq '(keys | map(select(endswith(".vk"))) | .[0]) as $vk | .[$vk].digest = "00000000000000000000000000000000"' \
  "$PARAMS/parameters.json" >"$work/parameters.json"
kd create configmap corrupt-params --from-file=parameters.json="$work/parameters.json" \
  --from-file=srs-inner-product.json="$PARAMS/srs-inner-product.json" >/dev/null
sed 's/name: devnet-params$/name: corrupt-params/' manifests/samples/paramcache.yaml | kd apply -f - >/dev/null

# --- the ParamCache: fetched by its Job through the gateway and verified ---
step "ParamCache Ready" wait_for 600 "ParamCache Ready" is_true paramcache devnet-params Ready
fetch_job=$(jsonpath paramcache devnet-params '{.status.jobName}')
assert "the fetch Job $fetch_job succeeded" test "$(jsonpath job "$fetch_job" '{.status.succeeded}')" = 1

# --- 2: the operator pod deleted mid-creation ---
creation_started() { [[ -n $(jsonpath miner "$MINER" '{.status.creation.messages}') ]]; }
step "the operator starts creating the actor" wait_for 300 "a creation message recorded" creation_started
old_pod=$(k get pods -n "$OPERATOR_NS" -l app.kubernetes.io/component=operator -o jsonpath='{.items[0].metadata.name}')
echo "    deleting the operator pod $old_pod; recorded so far: $(jsonpath miner "$MINER" '{.status.creation.messages}')"
# Killed at once (no grace period to finish in): the new pod waits for the Lease to expire, then resumes.
k delete pod -n "$OPERATOR_NS" "$old_pod" --grace-period=0 --force >/dev/null 2>&1
new_leader() {
  local pod
  pod=$(k get pods -n "$OPERATOR_NS" -l app.kubernetes.io/component=operator \
    --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}')
  [[ -n $pod && $pod != "$old_pod" ]] && k logs -n "$OPERATOR_NS" "$pod" | grep 'leading' >/dev/null
}
step "a new operator pod leads" wait_for 180 "a new operator pod holding the Lease" new_leader
step "ActorCreated after the restart" wait_for 600 "ActorCreated" is_true miner "$MINER" ActorCreated
actor=$(jsonpath miner "$MINER" '{.status.actorAddress}')
owner=$(jsonpath miner "$MINER" '{.status.ownerAddress}')
assert "the devnet holds exactly one miner actor, $actor" test "$(miner_ids)" = "[\"${actor:2}\"]"
owner_nonce=$(devnet_call MpoolGetNonce "[\"$owner\"]")
assert "the owner sent exactly two messages (fund-worker, CreateMiner)" test "$owner_nonce" = 2

# --- 3: the worker pod deleted mid-seal ---
sealing() { [[ $(sector_state 0) =~ ^(PreCommit1|PreCommit2|Committing)$ ]]; }
step "the worker seals sector 0" wait_for 600 "sector 0 in PreCommit1, PreCommit2 or Committing" sealing
worker_pod=$(kd get pods -l app.kubernetes.io/component=sealing-worker -o jsonpath='{.items[0].metadata.name}')
echo "    deleting the worker pod $worker_pod with sector 0 in $(sector_state 0)"
kd delete pod "$worker_pod" --grace-period=0 --force >/dev/null 2>&1
step "Miner Ready" wait_for 600 "Miner Ready" is_true miner "$MINER" Ready
step "sector 0 Proving" wait_for 1200 "sector 0 Proving" is_proving 0
runtime_ip=$(kd get pod "$RUNTIME_POD" -o jsonpath='{.status.podIP}')
metrics=$(curl -sf "http://$runtime_ip:9100/metrics")
# The lost worker's files were on its scratch: the runtime handed its task out again (lease expired) or rebuilt
# the sector's files from AddPiece (holder gone); either way more tasks were handed out than the six stages.
handed=$(kd exec "$RUNTIME_POD" -c miner -- sealstack-miner sectors status 0 | grep -c 'handed to worker')
assert "sector 0's work lost with the worker was handed out again ($handed hand-outs for 6 stages)" \
  test "$handed" -gt 6
for s in pre-commit prove-commit; do
  landed=$(grep -E "^sealstack_miner_chain_messages_total\{[^}]*method=\"$s\"[^}]*outcome=\"ok\"" <<<"$metrics" |
    awk '{s += $2} END {print s + 0}')
  assert "one $s message landed ($landed)" test "$landed" = 1
done
# A new sector carries power from its first WindowPoSt on (builtin-actors), at its deadline within a period.
raw_power() { devnet_call StateMinerPower "[\"$actor\",null]" | jq -r '.MinerPower.RawBytePower'; }
has_power() { [[ $(raw_power) == 2048 ]]; }
step "the sector's first WindowPoSt" wait_for 600 "the devnet counting the sector's power" has_power
assert "the devnet counts the sector's 2048 bytes of power ($(raw_power))" has_power
# The Miner's status catches up with the proof (it reads the chain every few seconds while a sector is unproven
# or faulty): only then does a fault seen there belong to the file moved aside below.
proven_shown() {
  [[ $(jsonpath miner "$MINER" '{.status.sectors.faulty}') == 0 && $(condition miner "$MINER" Proving) == True ]]
}
step "the Miner's status shows the sector proven" wait_for 120 "Miner faulty 0, Proving True" proven_shown
# What the runtime saw before: a window it missed (the first proof of a new sector inside a worker's loss) shows
# here as a declaration; the demo goes on either way.
curl -sf "http://$runtime_ip:9100/metrics" | grep -E '^sealstack_miner_(declarations|window_posts)_total' |
  sed 's/^/    /' || true

# --- the long-term store: the sector was placed on it (weight 20 against the runtime's own 10) ---
# (grep reads the whole output: one that stopped at the match would fail the pipeline with SIGPIPE.)
kd exec "$RUNTIME_POD" -c miner -- sealstack-miner storage list | sed 's/^/    /'
on_store() {
  kd exec "$RUNTIME_POD" -c miner -- sealstack-miner storage list |
    grep -B3 'Local: /var/lib/sealstack/stores/archive$' | grep 'Sectors: 1 ' >/dev/null
}
assert "sealstack-miner storage list shows sector 0 on the store archive" on_store
capacity=$(jsonpath miner "$MINER" '{.status.storage.capacity}')
wide=$(kd get miner "$MINER" -o wide)
echo "$wide" | sed 's/^/    /'
wide_shows_capacity() { [[ -n $capacity && $wide == *STORAGE* && $wide == *" $capacity "* ]]; }
assert "kubectl get miner -o wide shows the storage's capacity ($capacity)" wide_shows_capacity
assert "status.storage has the store's claim Bound" \
  test "$(jsonpath miner "$MINER" '{.status.storage.stores[0].phase}')" = Bound

# --- a lost sector file: the fault shows in the Miner's status and goes once the file is back ---
# The store's claim is a local volume on the real node: the sealed file is moved aside there, as a lost disk
# would take it. The runtime finds it at its next check, declares the sector faulty (or skips it in the proof),
# and the operator's next read of the chain shows it; back in place, the recovery is declared and proven.
pv=$(kd get pvc "store-$MINER-archive" -o jsonpath='{.spec.volumeName}')
volume=$(k get pv "$pv" -o jsonpath='{.spec.local.path}')
sealed=$volume/sealed/s-t0${actor:2}-0
volumes_sh=${SEALSTACK_VOLUMES_SH:-e2e/cluster/volumes.sh}
assert "sector 0's sealed file moved aside on the store's volume ($sealed)" "$volumes_sh" --move "$sealed" "$sealed.aside"
faulty_shown() {
  [[ $(jsonpath miner "$MINER" '{.status.sectors.faulty}') == 1 && $(condition miner "$MINER" Proving) == False ]]
}
step "the lost sector shows as faulty in the Miner's status" wait_for 600 "Miner faulty 1, Proving False" faulty_shown
message=$(kd get miner "$MINER" -o jsonpath='{.status.conditions[?(@.type=="Proving")].message}')
deadline=$(devnet_call StateSectorPartition "[\"$actor\",0,null]" | jq -r '.Deadline')
assert "Proving names the sector's deadline $deadline: $message" grep -q "deadline $deadline" <<<"$message"
assert "Ready is False while a sector is faulty" test "$(condition miner "$MINER" Ready)" = False
no_power() { [[ $(raw_power) == 0 ]]; }
step "the devnet takes its power" wait_for 60 "the devnet's raw power 0" no_power
kd exec "$RUNTIME_POD" -c miner -- sealstack-miner proving faults | sed 's/^/    /'
assert "sector 0's sealed file back in place" "$volumes_sh" --move "$sealed.aside" "$sealed"
step "the restored sector is recovered" wait_for 900 "Miner faulty 0, Proving True" proven_shown
assert "the devnet counts its power again ($(raw_power))" has_power
step "Miner Ready again" wait_for 120 "Miner Ready" is_true miner "$MINER" Ready
kd exec "$RUNTIME_POD" -c miner -- sealstack-miner info | sed 's/^/    /'

# --- the deadline gate: an eviction and a rollout of the runtime wait for the sector's proof ---
source e2e/demo/drain-gate.sh
demo_drain_gate

# --- the store added to the running Miner (the rollout above): the next sector lands on it ---
# (Its weight, 1000 against 20 and 10, makes it the place of the next sector; it seals while the demo goes on, and
# is checked after the corrupt ParamCache.)
stores_bound() {
  [[ $(jsonpath miner "$MINER" '{.status.storage.stores[*].phase}') == "Bound Bound" ]]
}
step "status.storage has both stores' claims Bound" wait_for 120 "two stores Bound" stores_bound
pledged=$(kd exec "$RUNTIME_POD" -c miner -- sealstack-miner sectors pledge)
new_sector=$(awk '/Created CC sector:/ {print $NF}' <<<"$pledged")
assert "a second sector pledged ($pledged)" test "$new_sector" = 1

# --- blocks: the proven sector wins elections; the worker pod, with the WinningPoSt task, makes the SNARK ---
# (the devnet's rest of the network holds 16 times the sector's power: about one round in 4 is the Miner's)
step "the Miner mines a block" wait_for 900 "the Miner's status counting a block" has_mined
epoch=$(jsonpath miner "$MINER" '{.status.mining.lastBlockEpoch}')
miners_at() { devnet_call ChainGetTipSetByHeight "[$1,null]" | jq -c '[.Blocks[].Miner[2:]]'; }
assert "the devnet's tipset at epoch $epoch holds a block of $actor ($(miners_at "$epoch"))" \
  grep -q "\"${actor:2}\"" <<<"$(miners_at "$epoch")"
assert "a BlockMined Event on the Miner" \
  test -n "$(kd get events --field-selector "reason=BlockMined,involvedObject.name=$MINER" -o name)"
# The runtime's journal names who made each block's WinningPoSt SNARK (`sealstack-miner info`): the worker pod
# when it answers in time (the daemon proves itself when it does not, so a block is never lost to a slow worker).
# (grep reads the whole output: one that stopped at the match would fail the pipeline with SIGPIPE.)
by_worker() {
  kd exec "$RUNTIME_POD" -c miner -- sealstack-miner info |
    grep -E 'WinningPoSt SNARKs .*: [1-9][0-9]* by PoSt workers' >/dev/null
}
step "a block whose WinningPoSt the worker pod made" wait_for 900 "a block proven by the worker pod" by_worker
kd exec "$RUNTIME_POD" -c miner -- sealstack-miner info | grep -E '^(Blocks|WinningPoSt|Block rewards|Expected)' |
  sed 's/^/    /'

# --- the addresses on chain: the p2p NodePort on the runtime pod's node ---
node_ip=$(kd get pod "$RUNTIME_POD" -o jsonpath='{.status.hostIP}')
node_port=$(kd get service "$MINER-p2p" -o jsonpath='{.spec.ports[0].nodePort}')
# StateMinerInfo's Multiaddrs are the binary multiaddrs, base64 (Lotus's []byte): /ip4 (4) and /tcp (6) here.
on_chain=$(devnet_call StateMinerInfo "[\"$actor\",null]" | jq -r '.Multiaddrs[]' | python3 -c '
import base64, sys
for line in sys.stdin:
    b = base64.b64decode(line)
    assert b[0] == 4 and b[5] == 6, b.hex()
    print("/ip4/%d.%d.%d.%d/tcp/%d" % (*b[1:5], int.from_bytes(b[6:8], "big")))')
assert "the devnet's multiaddr for $actor is the NodePort on the runtime's node: $on_chain" \
  test "$on_chain" = "/ip4/$node_ip/tcp/$node_port"
assert "the Miner's status shows it" test "$(jsonpath miner "$MINER" '{.status.onChainMultiaddrs[*]}')" = "$on_chain"

# --- 4: helm upgrade with changed values ---
step "helm upgrade (log level, resources)" demo_install_chart --reuse-values \
  --set logLevel=debug --set resources.requests.cpu=60m
assert "the operator runs with the new values" test "$(k get deployment -n "$OPERATOR_NS" "$RELEASE-operator" \
  -o jsonpath='{.spec.template.spec.containers[0].resources.requests.cpu}')" = 60m
step "Miner Ready after the upgrade" wait_for 120 "Miner Ready" is_true miner "$MINER" Ready
sleep 10
assert "no new message from the owner after the upgrade" \
  test "$(devnet_call MpoolGetNonce "[\"$owner\"]")" = "$owner_nonce"
assert "still one miner actor" test "$(miner_ids)" = "[\"${actor:2}\"]"
assert "sector 0 still Proving" is_proving 0

demo_report >/dev/null

# --- the ParamCache with the corrupt file ---
# (Its failed Job is replaced after a backoff, so its phase goes from Failed to Fetching and back; the count of
# failed fetches stays, and the wait does not depend on where in that cycle the demo finds it.)
fetch_failed() {
  local failed
  failed=$(kd get paramcache corrupt-params -o jsonpath='{.status.failedFetches}') && ((${failed:-0} >= 1))
}
step "the corrupt ParamCache's fetch fails" wait_for 420 "ParamCache corrupt-params status.failedFetches >= 1" \
  fetch_failed
assert "it is not Ready: $(condition paramcache corrupt-params Ready) ($(kd get paramcache corrupt-params \
  -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'))" \
  test "$(condition paramcache corrupt-params Ready)" = False
# The operator replaces a failed Job (same name, new pods), so the Job's pod may be starting when it is read: its
# log is awaited, not read once.
job_log_names_mismatch() {
  local log
  job=$(kd get paramcache corrupt-params -o jsonpath='{.status.jobName}')
  [[ -n $job ]] && log=$(kd logs "job/$job" --tail=-1 2>/dev/null) && grep -q 'wrong digest' <<<"$log"
}
wait_for 180 "a log of the corrupt ParamCache's Job naming the digest mismatch" job_log_names_mismatch
assert "its Job $job's log names the digest mismatch" job_log_names_mismatch
assert "the good ParamCache stayed Ready" is_true paramcache devnet-params Ready
kd delete paramcache corrupt-params --wait=true >/dev/null
kd delete pvc corrupt-params-params --wait=false >/dev/null
kd delete configmap corrupt-params >/dev/null

# --- the sector pledged after the store was added: on the new store ---
step "sector 1 Proving" wait_for 900 "sector 1 Proving" is_proving 1
kd exec "$RUNTIME_POD" -c miner -- sealstack-miner storage list | sed 's/^/    /'
# (grep reads the whole output: one that stopped at the match would fail the pipeline with SIGPIPE.)
on_new_store() {
  kd exec "$RUNTIME_POD" -c miner -- sealstack-miner storage list |
    grep -B3 'Local: /var/lib/sealstack/stores/archive-2$' | grep 'Sectors: 1 ' >/dev/null
}
assert "sealstack-miner storage list shows sector 1 on the added store archive-2" on_new_store
assert "sector 0 stayed on the store archive" on_store

# --- 5: the samples deleted, the chart uninstalled ---
step "delete the samples" kd delete -f manifests/samples/ --wait=true --timeout=180s
step "helm uninstall" helm_ uninstall "$RELEASE" -n "$OPERATOR_NS" --wait
operator_leftovers() {
  k get all,secrets,configmaps,jobs,leases,serviceaccounts,roles,rolebindings -n "$OPERATOR_NS" -o name |
    grep -v -e '^configmap/kube-root-ca.crt$' -e '^serviceaccount/default$' || true
}
no_operator_pod() { [[ -z $(k get pods -n "$OPERATOR_NS" -o name) ]]; }
# (The operator pod goes a moment after its Deployment: the garbage collector deletes it.)
wait_for 120 "the operator's pod gone" no_operator_pod || true
left=$(operator_leftovers)
assert "nothing of the operator left in $OPERATOR_NS${left:+: $left}" test -z "$left"
left=$(k get clusterroles,clusterrolebindings -l app.kubernetes.io/instance="$RELEASE" -o name)
assert "no ClusterRole or binding left${left:+: $left}" test -z "$left"
# What the operator made that is still there, the claims aside.
made_by_operator_but_claims() {
  k get all,secrets,configmaps,jobs,pvc -n "$DEMO_NS" -l app.kubernetes.io/managed-by=sealstack-operator -o name |
    grep -v '^persistentvolumeclaim/' || true
}
only_claims_left() { [[ -z $(made_by_operator_but_claims) ]]; }
wait_for 120 "the operator's objects garbage-collected" only_claims_left
left=$(made_by_operator_but_claims)
assert "only claims are left of what the operator made${left:+: $left}" test -z "$left"
kept=$(kd get pvc -o name | sort | paste -sd' ')
assert "the claims holding data are kept: $kept" \
  test "$kept" = "persistentvolumeclaim/devnet-chain persistentvolumeclaim/devnet-params-params persistentvolumeclaim/storage-$MINER-runtime-0 persistentvolumeclaim/store-$MINER-archive persistentvolumeclaim/store-$MINER-archive-2"
assert "the CRDs stay" bash -c "'$K8S/kubectl' get crd miners.sealstack.io >/dev/null"

k delete namespace "$DEMO_NS" --wait=true --timeout=180s >/dev/null
# The storage class back to non-default, the released volumes wiped.
"$volumes_sh" >/dev/null
echo "demo e2e: all checks passed"
