#!/usr/bin/env bash
# `cargo test --workspace --features sealstack-crds/crdgen`, with the test binaries run side by side.
# Most of the suite's time is spent in integration tests that wait on a devnet's epochs (PoSt workers, faults,
# extension: minutes each, a fraction of a core), so running them one after another, as cargo does, leaves the
# cores idle; others (mining, batching, sealing) keep a core busy and miss their epochs when they share it.
# This builds every test target once, then runs the binaries (scripts/run-test-binaries.py): the longest first,
# as many at once as their measured demand of cores fits in $SEALSTACK_TEST_CORES (default: half the cores),
# each binary's output printed whole when it ends; then the doc tests. Fails when any binary fails, after all
# have run, naming them.
#   scripts/cargo-test.sh [-- TEST ARGS...]    (TEST ARGS go to every binary, e.g. a name filter)
# SEALSTACK_TEST_CORES=0 runs them one at a time (as cargo test would). Each binary's wall and CPU time of its
# last passing run are kept in ~/.cache/sealstack/test-times.tsv (scripts/test-times.tsv for a fresh machine).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

features=(--workspace --features sealstack-crds/crdgen)
[[ ${1:-} == -- ]] && shift
work="$(mktemp -d "${TMPDIR:-/tmp}/sealstack-cargo-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cargo test --locked "${features[@]}" --no-run --message-format=json-render-diagnostics >"$work/build.json"
rc=0
python3 scripts/run-test-binaries.py --build-messages "$work/build.json" --logs "$work" \
  --times "${SEALSTACK_TEST_TIMES:-$SEALSTACK_CACHE/test-times.tsv}" --default-times scripts/test-times.tsv \
  --cores "${SEALSTACK_TEST_CORES:-}" -- "$@" || rc=$?
step "doc tests" cargo test --locked "${features[@]}" --doc -- "$@"
exit "$rc"
