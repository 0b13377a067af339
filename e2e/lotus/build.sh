#!/usr/bin/env bash
# Builds the real Lotus oracle: Lotus v1.36.2 (from the Go module proxy) with filecoin-ffi v1.36.1 built from
# source (no GPU), the 2k build (builtin-actors devnet bundle), and e2e/lotus/oracle/oracle_test.go compiled as a
# test binary of Lotus's itests kit. Cached under ~/.cache/sealstack/lotus/ and rebuilt when missing or when its
# inputs changed (Lotus, ffi commit, the oracle source, the generated parameters.json).
#
#   e2e/lotus/build.sh          prints the oracle binary's path on the last line
#
# Needs: Go >= 1.25.7, Rust (stable), a C compiler, git, jq, curl; the filecoin-ffi source as a git checkout
# holding commit de13e6489d1b (tag v1.36.1) in SEALSTACK_FFI_SRC (default ~/.cache/sealstack/src/filecoin-ffi);
# the generated 2KiB parameters (scripts/params.sh). Cold on 2 cores: see e2e/lotus/README.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export GOMODCACHE=$LOTUS_GOMODCACHE GOCACHE=$LOTUS_GOCACHE GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false"
NICE=(nice -n "${SEALSTACK_LOTUS_NICE:-10}")

need_ffi() {
  cat >&2 <<EOF
[lotus] the filecoin-ffi source is needed: a git checkout holding commit $FFI_COMMIT (tag $FFI_TAG),
[lotus] in SEALSTACK_FFI_SRC or $SEALSTACK_CACHE/src/filecoin-ffi. Lotus replaces the ffi module with its
[lotus] extern/filecoin-ffi submodule, which the Go module proxy does not carry. For example:
[lotus]   git clone https://github.com/filecoin-project/filecoin-ffi $SEALSTACK_CACHE/src/filecoin-ffi
[lotus] (or from a local mirror of it). Its Rust dependencies come from crates.io.
EOF
  exit 1
}

for c in go cargo rustup git jq curl cc pkg-config; do
  command -v "$c" >/dev/null || die "$c is needed (see the header of $0)"
done
go_min=1.25.7 # the go directive of Lotus v1.36.2's go.mod
if [[ $(printf '%s\n%s\n' "$go_min" "$(go env GOVERSION | sed 's/^go//')" | sort -V | head -n1) != "$go_min" ]]; then
  die "Go >= $go_min is needed, found $(go env GOVERSION)"
fi
[[ -s $GENERATED_PARAMS/parameters.json ]] ||
  die "no generated parameters in $GENERATED_PARAMS: run scripts/params.sh first (the oracle embeds their parameters.json)"

if oracle_built; then
  log "the oracle is built and up to date"
  echo "$ORACLE_BIN"
  exit 0
fi
total_started=$SECONDS

# --- 1. the ffi source at the pinned commit ---
[[ -d $FFI_SRC ]] || need_ffi
git -C "$FFI_SRC" cat-file -e "$FFI_COMMIT^{commit}" 2>/dev/null || {
  log "$FFI_SRC does not hold commit $FFI_COMMIT"
  need_ffi
}
if [[ ! -d $FFI_BUILD/.git ]]; then
  lotus_step "ffi: clone $FFI_SRC at $FFI_TAG" git clone -q "$FFI_SRC" "$FFI_BUILD"
fi
if [[ $(git -C "$FFI_BUILD" rev-parse HEAD) != "$FFI_COMMIT" ]]; then
  git -C "$FFI_BUILD" fetch -q "$FFI_SRC" "$FFI_COMMIT" 2>/dev/null || true
  git -C "$FFI_BUILD" checkout -q "$FFI_COMMIT"
  rm -f "$FFI_BUILD/.sealstack-built"
fi

# --- 2. libfilcrypto.a: the ffi's Rust library, built from source without GPU (FFI_USE_GPU=0) and without the
# multicore SDR (which links hwloc; 2KiB sectors gain nothing from it). install-filcrypto is called directly:
# the ffi's Makefile runs `go clean -cache`. Its rust-toolchain.toml pins a toolchain that may be missing:
# stable builds it.
ffi_flags="FFI_USE_GPU=0 FFI_USE_MULTICORE_SDR=0 commit=$FFI_COMMIT"
if [[ ! -s $FFI_BUILD/libfilcrypto.a || $(cat "$FFI_BUILD/.sealstack-built" 2>/dev/null) != "$ffi_flags" ]]; then
  build_ffi() {
    (cd "$FFI_BUILD" && env -u CARGO_TARGET_DIR RUSTUP_TOOLCHAIN=stable FFI_BUILD_FROM_SOURCE=1 FFI_USE_GPU=0 \
      FFI_USE_MULTICORE_SDR=0 "${NICE[@]}" ./install-filcrypto)
  }
  lotus_step "ffi: build libfilcrypto from source (Rust, long: 45-90 min on 2 cores)" build_ffi
  for f in libfilcrypto.a filcrypto.h filcrypto.pc; do
    [[ -s $FFI_BUILD/$f ]] || die "the ffi build made no $f"
  done
  echo "$ffi_flags" >"$FFI_BUILD/.sealstack-built"
  # The Rust target dir (4.5 GiB) is only needed to rebuild the same commit, which never happens: the library,
  # header and pkg-config file are copied out of it.
  [[ ${SEALSTACK_LOTUS_KEEP_TARGET:-0} == 1 ]] || rm -rf "$FFI_BUILD/rust/target"
fi

# --- 3. a writable copy of the Lotus module, with the ffi and the devnet parameters ---
if [[ ! -f $LOTUS_SRC/.sealstack-source || $(cat "$LOTUS_SRC/.sealstack-source") != "$LOTUS_MODULE@$LOTUS_VERSION" ]]; then
  copy_lotus() {
    local dir
    dir=$(go mod download -json "$LOTUS_MODULE@$LOTUS_VERSION" | jq -r .Dir)
    [[ -d $dir ]] || return 1
    rm -rf "$LOTUS_SRC"
    mkdir -p "$(dirname "$LOTUS_SRC")"
    cp -r "$dir" "$LOTUS_SRC"
    chmod -R u+w "$LOTUS_SRC"
    echo "$LOTUS_MODULE@$LOTUS_VERSION" >"$LOTUS_SRC/.sealstack-source"
  }
  lotus_step "lotus: $LOTUS_MODULE@$LOTUS_VERSION from the module proxy" copy_lotus
fi
(cd "$LOTUS_SRC" && go mod edit -replace "github.com/filecoin-project/filecoin-ffi=$FFI_BUILD")
lotus_step "lotus: download its modules" bash -c "cd '$LOTUS_SRC' && go mod download"
# The parameters the oracle's proofs use are embedded (build/proof-params): go-paramfetch checks the files in
# FIL_PROOFS_PARAMETER_CACHE against them, and would try to download any that differ.
cp "$GENERATED_PARAMS/parameters.json" "$LOTUS_SRC/build/proof-params/parameters.json"
echo '{}' >"$LOTUS_SRC/build/proof-params/srs-inner-product.json"
mkdir -p "$LOTUS_SRC/sealstack/oracle"
cp "$LOTUS_HERE/oracle/oracle_test.go" "$LOTUS_SRC/sealstack/oracle/oracle_test.go"

# --- 4. the oracle: Lotus's itests kit with the 2k build tag ---
mkdir -p "$(dirname "$ORACLE_BIN")"
build_oracle() {
  (cd "$LOTUS_SRC" && "${NICE[@]}" go test -c -tags 2k -vet=off -o "$ORACLE_BIN.tmp" ./sealstack/oracle)
  mv "$ORACLE_BIN.tmp" "$ORACLE_BIN"
}
lotus_step "lotus: build the oracle (Go, 15-30 min cold on 2 cores)" build_oracle
oracle_stamp >"$ORACLE_STAMP"
log "built in $((SECONDS - total_started)) s"
echo "$ORACLE_BIN"
