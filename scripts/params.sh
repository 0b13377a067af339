#!/usr/bin/env bash
# Makes sure this machine has locally generated proof parameters for devnet sector sizes, made once and
# cached outside the checkout: ~/.cache/sealstack/params/generated (parameters.json lists them).
#   scripts/params.sh [SIZE...]   (default: 2KiB; 8MiB takes ~18 min and 7 GiB of memory)
# Prints the directory on the last line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

dir="$SEALSTACK_CACHE/params/generated"
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(2KiB)
declare -A bytes=([2KiB]=2048 [8MiB]=8388608)
# Measured on 2 cores with nothing else running (shared/notes/proofs-measured.md, the demo's cold runs).
declare -A estimate=([2KiB]="8 minutes" [8MiB]="18 minutes")

# has_size SIZE: the manifest lists three .params files of that size and every listed file exists, and the
# aggregation SRS is listed in srs-inner-product.json and exists (caches made before it had an empty manifest).
has_size() {
  python3 - "$dir" "${bytes[$1]}" <<'PY'
import json, os, sys
dir, size = sys.argv[1], int(sys.argv[2])
try:
    manifest = json.load(open(os.path.join(dir, "parameters.json")))
    srs = json.load(open(os.path.join(dir, "srs-inner-product.json")))
except (OSError, ValueError):
    sys.exit(1)
names = [n for n, e in manifest.items() if e["sector_size"] == size]
ok = sum(n.endswith(".params") for n in names) == 3 and len(srs) == 1 and all(
    os.path.exists(os.path.join(dir, n)) for n in names + list(srs))
sys.exit(0 if ok else 1)
PY
}

for size in "${sizes[@]}"; do
  [[ -n "${bytes[$size]:-}" ]] || { echo "params.sh: only 2KiB and 8MiB can be generated, not $size" >&2; exit 2; }
  if has_size "$size"; then
    echo "generated $size parameters present in $dir"
    continue
  fi
  bin=$(scripts/build-binaries.sh | tail -n 1)
  # The library prints nothing while it works: a line a minute says it is alive.
  (while sleep 60; do echo "    ... still generating the $size parameters (${estimate[$size]} in all)"; done) &
  ticker=$!
  step "generate $size parameters (once per machine; about ${estimate[$size]} on 2 cores)" \
    "$bin/sealstack-miner" params generate "$size" --out "$dir" || { kill "$ticker"; exit 1; }
  kill "$ticker" 2>/dev/null || true
done
echo "$dir"
