# Shared settings of the project's scripts (sourced, not run).
# Everything built or downloaded lives under ~/.cache/sealstack, outside the checkout, and is rebuilt when missing.

SEALSTACK_CACHE="${SEALSTACK_CACHE:-$HOME/.cache/sealstack}"
export SEALSTACK_CACHE
# One cargo target dir per machine, shared by CI runs and developers, so a warm machine rebuilds only what changed.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SEALSTACK_CACHE/target}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
mkdir -p "$SEALSTACK_CACHE" "$CARGO_TARGET_DIR"

# step NAME COMMAND...: runs one step, printing its name and how long it took.
step() {
  local name=$1; shift
  local started=$SECONDS
  echo "==> $name"
  "$@"
  local rc=$?
  echo "<== $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - started)) s"
  return $rc
}
