# Shared settings of the project's scripts (sourced, not run).
# Everything built or downloaded lives under ~/.cache/sealstack, outside the checkout, and is rebuilt when missing.

# The logging, dying and waiting helpers (log, die, fail, wait_for, step).
# shellcheck source=log.sh
source "$(dirname "${BASH_SOURCE[0]}")/log.sh"

SEALSTACK_CACHE="${SEALSTACK_CACHE:-$HOME/.cache/sealstack}"
export SEALSTACK_CACHE
# The cargo target dir (one per machine, guarded against another checkout's build).
# shellcheck source=target-dir.sh
source "$(dirname "${BASH_SOURCE[0]}")/target-dir.sh"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
mkdir -p "$SEALSTACK_CACHE" "$CARGO_TARGET_DIR"

# k8s_bin: prints the directory of the pinned kubectl and helm (and the local cluster's components), building
# them with e2e/cluster/build.sh when one is missing.
k8s_bin() {
  # shellcheck source=../e2e/cluster/versions.sh
  source "$REPO_ROOT/e2e/cluster/versions.sh"
  if [[ -x $SEALSTACK_K8S_BIN/helm && -x $SEALSTACK_K8S_BIN/kubectl ]]; then
    echo "$SEALSTACK_K8S_BIN"
  else
    "$REPO_ROOT/e2e/cluster/build.sh" | tail -n 1
  fi
}
