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

# has_size SIZE: the manifest lists three .params files of that size and every listed file exists.
has_size() {
  python3 - "$dir/parameters.json" "${bytes[$1]}" <<'PY'
import json, os, sys
path, size = sys.argv[1], int(sys.argv[2])
try:
    manifest = json.load(open(path))
except (OSError, ValueError):
    sys.exit(1)
names = [n for n, e in manifest.items() if e["sector_size"] == size]
ok = sum(n.endswith(".params") for n in names) == 3 and all(
    os.path.exists(os.path.join(os.path.dirname(path), n)) for n in names)
sys.exit(0 if ok else 1)
PY
}

for size in "${sizes[@]}"; do
  [[ -n "${bytes[$size]:-}" ]] || { echo "params.sh: only 2KiB and 8MiB can be generated, not $size" >&2; exit 2; }
  if has_size "$size"; then
    echo "generated $size parameters present in $dir"
    continue
  fi
  step "build sealstack-miner" cargo build -p sealstack-miner
  step "generate $size parameters (once per machine)" "$CARGO_TARGET_DIR/debug/sealstack-miner" params generate "$size" --out "$dir"
done
echo "$dir"
