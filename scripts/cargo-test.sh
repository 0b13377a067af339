#!/usr/bin/env bash
# `cargo test --workspace --features sealstack-crds/crdgen`, with the test binaries run side by side in lanes.
# Most of the suite's time is spent in integration tests that wait on a devnet's epochs (mining, batching, PoSt
# workers: minutes each, a fraction of a core), so running them one after another, as cargo does, leaves the
# cores idle. This builds every test target once, then runs the binaries in $SEALSTACK_TEST_LANES lanes (default
# 3), the longest first (their last wall time on this machine, kept in ~/.cache/sealstack/test-times.tsv, else
# scripts/test-times.tsv's; a binary never measured goes first), each binary's output printed whole when it ends,
# then the doc tests. Fails when any binary fails, after all have run, naming them.
#   scripts/cargo-test.sh [-- TEST ARGS...]    (TEST ARGS go to every binary, e.g. a name filter)
# SEALSTACK_TEST_LANES=1 runs them one at a time (as cargo test would).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

features=(--workspace --features sealstack-crds/crdgen)
[[ ${1:-} == -- ]] && shift
test_args=("$@")
lanes="${SEALSTACK_TEST_LANES:-3}"
times_file="${SEALSTACK_TEST_TIMES:-$SEALSTACK_CACHE/test-times.tsv}"
work="$(mktemp -d "${TMPDIR:-/tmp}/sealstack-cargo-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Every test binary: "name<TAB>manifest dir<TAB>executable", from cargo's own build messages.
cargo test --locked "${features[@]}" --no-run --message-format=json-render-diagnostics >"$work/build.json"
python3 - "$work/build.json" >"$work/binaries.tsv" <<'EOF'
import json, os, sys
seen = set()
for line in open(sys.argv[1]):
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") != "compiler-artifact" or not msg.get("profile", {}).get("test") or not msg.get("executable"):
        continue
    target = msg["target"]
    package = os.path.basename(os.path.dirname(msg["manifest_path"]))
    kind = target["kind"][0]
    name = f"{package}/{'unittests ' + kind if kind in ('lib', 'bin') else target['name']}"
    if kind == "bin":
        name += f" {target['name']}"
    if msg["executable"] in seen:
        continue
    seen.add(msg["executable"])
    print(f"{name}\t{os.path.dirname(msg['manifest_path'])}\t{msg['executable']}")
EOF

# Longest first: each binary's last wall time on this machine, else scripts/test-times.tsv's (a binary in neither
# counts as the longest).
touch "$times_file"
python3 - "$work/binaries.tsv" scripts/test-times.tsv "$times_file" >"$work/order.tsv" <<'EOF'
import sys
times = {}
for path in sys.argv[2:]:
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 2 and not parts[0].startswith("#"):
            times[parts[0]] = float(parts[1])
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
rows.sort(key=lambda row: -times.get(row[0], float("inf")))
for row in rows:
    print("\t".join(row))
EOF

# run_one INDEX NAME DIR EXECUTABLE: one binary in its package's directory (as cargo runs it); its output, exit
# status and times go to $work/INDEX.*.
run_one() {
  local index=$1 name=$2 dir=$3 executable=$4 started=$SECONDS rc=0
  (cd "$dir" && CARGO_MANIFEST_DIR="$dir" /usr/bin/time -f '%U %S' -o "$work/$index.cpu" \
    "$executable" "${test_args[@]}") >"$work/$index.log" 2>&1 || rc=$?
  echo "$rc $((SECONDS - started))" >"$work/$index.done"
}

# report INDEX NAME: prints a finished binary's output and one summary line; records its wall time.
report() {
  local index=$1 name=$2 rc wall cpu
  read -r rc wall <"$work/$index.done"
  cpu="$(awk '{ printf "%.0f", $1 + $2 }' "$work/$index.cpu" 2>/dev/null || echo '?')"
  echo "---- $name"
  cat "$work/$index.log"
  if ((rc == 0)); then
    echo "---- $name: ok in $wall s (CPU $cpu s)"
    printf '%s\t%s\n' "$name" "$wall" >>"$work/times.tsv"
  else
    echo "---- $name: FAILED (exit $rc) in $wall s (CPU $cpu s)"
    echo "$name" >>"$work/failed"
  fi
}

index=0
declare -A running=()
while IFS=$'\t' read -r name dir executable; do
  while ((${#running[@]} >= lanes)); do
    wait -n || true
    for i in "${!running[@]}"; do
      if [[ -e $work/$i.done ]]; then
        report "$i" "${running[$i]}"
        unset "running[$i]"
      fi
    done
  done
  index=$((index + 1))
  running[$index]=$name
  run_one "$index" "$name" "$dir" "$executable" &
done <"$work/order.tsv"
wait
for i in "${!running[@]}"; do
  report "$i" "${running[$i]}"
done

# Keep the times of binaries that passed (a failed run's time says little), and the others' earlier times.
if [[ -s $work/times.tsv ]]; then
  awk -F '\t' 'NR == FNR { fresh[$1] = $2; next } !($1 in fresh) { print } END { for (n in fresh) print n "\t" fresh[n] }' \
    "$work/times.tsv" "$times_file" >"$work/times.new"
  mv "$work/times.new" "$times_file"
fi

step "doc tests" cargo test --locked "${features[@]}" --doc -- "${test_args[@]}"

if [[ -s $work/failed ]]; then
  die "test binaries failed: $(paste -sd, "$work/failed")"
fi
echo "all $index test binaries passed"
