# shellcheck shell=bash
# The logging, dying and waiting helpers of every script of the project (sourced, not run). Only definitions: no
# side effects, so that any script or lib can source it, the cluster's inside its network namespace too.
# scripts/lib.sh sources it; e2e/cluster/lib.sh, e2e/kind/lib.sh and e2e/lotus/lib.sh source it and set:
#   LOG_TAG     what each log line starts with: [cluster], [kind], [lotus], --- for the demo (default: [$0's name]);
#               the lib sourced last sets it
#   WAIT_EVERY  seconds between two tries of wait_for (default 1); also per call: WAIT_EVERY=0.1 wait_for ...
# A script that counts failures instead of stopping defines its own fail after sourcing (e2e/lotus/test.sh):
# wait_for calls whichever fail is defined.

# log MESSAGE...: one line on stderr (stdout stays for what a script prints for its caller).
log() { echo "${LOG_TAG:-[${0##*/}]} $*" >&2; }

# die MESSAGE...: logs an error and exits 1.
die() {
  log "ERROR: $*"
  exit 1
}

# fail MESSAGE...: logs a failed check and returns 1 (`check || fail "what"` in a function that goes on or returns).
fail() {
  log "FAILED: $*"
  return 1
}

# wait_for SECONDS WHAT COMMAND...: runs COMMAND (its output discarded) every $WAIT_EVERY s until it succeeds;
# after SECONDS, calls fail "WHAT (not within SECONDS s)" and returns 1.
wait_for() {
  local _wait_seconds=$1 _wait_what=$2 _wait_deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= _wait_deadline)); then
      fail "$_wait_what (not within $_wait_seconds s)" || true
      return 1
    fi
    sleep "${WAIT_EVERY:-1}"
  done
}

# step NAME COMMAND...: runs one step, printing its name and how long it took (on stdout). Under set -e a failed
# step ends the script, unless the step is itself a condition (`step ... || ...`).
step() {
  local name=$1; shift
  local started=$SECONDS
  echo "==> $name"
  "$@"
  local rc=$?
  echo "<== $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - started)) s"
  return $rc
}
