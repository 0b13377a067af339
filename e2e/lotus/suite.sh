#!/usr/bin/env bash
# The test suite's step for the real Lotus oracle (scripts/test.sh): test.sh's three stages, then the oracle and the
# operator stage's cluster stopped again whatever the outcome, so the suite leaves nothing running. Without a built
# oracle it is test.sh's one "skipped" line.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$LOTUS_HERE/test.sh"
rc=$?
if [[ -x $ORACLE_BIN ]]; then
  "$LOTUS_HERE/down.sh" || log "the oracle did not stop cleanly"
  SEALSTACK_CLUSTER_DIR="${SEALSTACK_LOTUS_CLUSTER_DIR:-$SEALSTACK_CACHE/cluster-lotus}" \
    SEALSTACK_CLUSTER_PORT_BASE="${SEALSTACK_LOTUS_CLUSTER_PORT_BASE:-38000}" \
    "$LOTUS_REPO_ROOT/e2e/cluster/down.sh" --keep-logs >/dev/null 2>&1 || log "the operator stage's cluster did not stop cleanly"
fi
exit "$rc"
