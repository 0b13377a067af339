#!/usr/bin/env bash
# Builds sealstack's binaries (sealstack-miner, sealstack-operator, sealstack-devnet, crdgen) in one cargo
# invocation with the workspace's features, the same ones `cargo test --workspace --features
# sealstack-crds/crdgen` resolves (no dev-dependency adds a feature to a shared crate), so every script and the
# test suite share one build of the dependencies instead of one per binary and feature set.
#   scripts/build-binaries.sh [--release]
# Prints the directory of the binaries on the last line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

profile=debug flags=()
if [[ ${1:-} == --release ]]; then
  profile=release flags=(--release)
fi
nice -n 10 cargo build --locked "${flags[@]}" --workspace --features sealstack-crds/crdgen --bins >&2
echo "$CARGO_TARGET_DIR/$profile"
