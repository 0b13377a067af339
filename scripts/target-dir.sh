# Sourced (not run) by every script that runs cargo: exports CARGO_TARGET_DIR, by default one target dir per
# machine (~/.cache/sealstack/target) shared by CI runs and developers, so a warm machine rebuilds only what
# changed, and guards it against a build from another checkout.
#
# Why the guard: cargo decides that a workspace crate is up to date by comparing file times, and the crate's
# artifacts carry the path of the checkout that built them (env!("CARGO_MANIFEST_DIR") in the tests, crdgen).
# After another clone of the project (CI's, a second worktree) built into the shared dir, an older checkout
# would run that clone's binaries: tests that `cd` into a path that is gone, or code that is not its own.
# The dir records which checkout built into it last (.sealstack-checkout); when that changes, the workspace
# crates' fingerprints (sealstack-*) are dropped so cargo rebuilds them; the dependencies stay built.
# Two checkouts building at the same moment still share one dir: give one its own CARGO_TARGET_DIR.

# shellcheck shell=bash
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${SEALSTACK_CACHE:-$HOME/.cache/sealstack}/target}"
sealstack_claim_target_dir() {
  local checkout stamp previous
  checkout="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
  stamp="$CARGO_TARGET_DIR/.sealstack-checkout"
  mkdir -p "$CARGO_TARGET_DIR"
  previous="$(cat "$stamp" 2>/dev/null || true)"
  [[ $previous == "$checkout" ]] && return 0
  # Unrecorded (a dir from before this guard) counts as another checkout's.
  if compgen -G "$CARGO_TARGET_DIR/*/.fingerprint/sealstack-*" >/dev/null; then
    echo "cargo target dir $CARGO_TARGET_DIR was last built from ${previous:-another checkout}: rebuilding" \
      "this checkout's crates" >&2
    rm -rf "$CARGO_TARGET_DIR"/*/.fingerprint/sealstack-*
  fi
  echo "$checkout" >"$stamp"
}
sealstack_claim_target_dir
