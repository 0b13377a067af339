# Shared settings of e2e/lotus (sourced, not run): the real Lotus oracle's versions, cache and run paths.
# shellcheck shell=bash

LOTUS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOTUS_REPO_ROOT=$(cd "$LOTUS_HERE/../.." && pwd)

# Lotus from the Go module proxy, and the filecoin-ffi commit its go.mod pins (tag v1.36.1): Lotus replaces the
# ffi module with extern/filecoin-ffi, a git submodule the proxy does not carry, so its source comes from a git
# checkout given as SEALSTACK_FFI_SRC.
LOTUS_VERSION=v1.36.2
LOTUS_MODULE=github.com/filecoin-project/lotus
FFI_COMMIT=de13e6489d1b54ceda04b13574ef01f57bda1875
FFI_TAG=v1.36.1

SEALSTACK_CACHE=${SEALSTACK_CACHE:-$HOME/.cache/sealstack}
LOTUS_CACHE=$SEALSTACK_CACHE/lotus
FFI_SRC=${SEALSTACK_FFI_SRC:-$SEALSTACK_CACHE/src/filecoin-ffi}
# Build: a private module and build cache (Lotus's and the ffi's Makefiles would clean the shared one), a
# writable copy of the Lotus module, the ffi checkout with libfilcrypto.a, the oracle test binary.
LOTUS_GOMODCACHE=$LOTUS_CACHE/go/mod
LOTUS_GOCACHE=$LOTUS_CACHE/go/build
LOTUS_SRC=$LOTUS_CACHE/src/lotus-$LOTUS_VERSION
FFI_BUILD=$LOTUS_CACHE/ffi
ORACLE_BIN=$LOTUS_CACHE/bin/lotus-oracle.test
ORACLE_STAMP=$LOTUS_CACHE/bin/lotus-oracle.stamp
# The locally generated devnet parameters (scripts/params.sh); the oracle embeds their parameters.json.
GENERATED_PARAMS=${SEALSTACK_GENERATED_PARAMS:-$SEALSTACK_CACHE/params/generated}

# Run: the oracle's state (API files, logs, temp dirs), its pid, its API port on loopback.
LOTUS_RUN=${SEALSTACK_LOTUS_DIR:-$LOTUS_CACHE/run}
LOTUS_PORT=${SEALSTACK_LOTUS_PORT:-37234}
LOTUS_PID=$LOTUS_RUN/oracle.pid
LOTUS_LOG=$LOTUS_RUN/oracle.log
# The parameter directory the oracle reads: links to the generated files, so that go-paramfetch's lock file
# (fetch.lock) is written here, not into the shared generated directory.
LOTUS_PARAMS=$LOTUS_CACHE/params

# log, die, fail, wait_for, step: the project's one set (scripts/log.sh, no side effects).
# shellcheck source=../../scripts/log.sh
source "$LOTUS_REPO_ROOT/scripts/log.sh"
LOG_TAG='[lotus]'
WAIT_EVERY=2

# lotus_step NAME COMMAND...: runs one step, printing its name and how long it took. Unlike scripts/log.sh's step,
# its lines are log lines (stderr), so that a caller can drop the command's output, and the command runs as a
# condition: its end line is printed when it fails too.
lotus_step() {
  local name=$1; shift
  local started=$SECONDS rc=0
  log "==> $name"
  "$@" || rc=$?
  log "<== $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $((SECONDS - started)) s"
  return $rc
}

# The stamp of what the oracle binary is built from: Lotus, the ffi commit, the oracle's source, the embedded
# parameters.json. A different stamp rebuilds it.
oracle_stamp() {
  {
    echo "lotus $LOTUS_VERSION ffi $FFI_COMMIT go $(go env GOVERSION)"
    sha256sum "$LOTUS_HERE/oracle/oracle_test.go" | cut -d' ' -f1
    if [[ -f $GENERATED_PARAMS/parameters.json ]]; then
      sha256sum "$GENERATED_PARAMS/parameters.json" | cut -d' ' -f1
    fi
  }
}

# Whether the oracle is built and up to date.
oracle_built() {
  [[ -x $ORACLE_BIN && -f $ORACLE_STAMP ]] && [[ $(cat "$ORACLE_STAMP") == "$(oracle_stamp)" ]]
}

# Whether the oracle started by up.sh is running (its pid alive and our binary).
oracle_running() {
  [[ -f $LOTUS_PID ]] || return 1
  local pid exe
  pid=$(<"$LOTUS_PID")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ ${exe% (deleted)} == "$ORACLE_BIN" ]]
}

# lotus_rpc METHOD [PARAMS_JSON]: one JSON-RPC call to the running oracle; prints the whole response.
lotus_rpc() {
  local token
  token=$(<"$LOTUS_RUN/token")
  curl -sS --max-time 60 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"Filecoin.$1\",\"params\":${2:-[]}}" \
    "http://127.0.0.1:$LOTUS_PORT/rpc/v1"
}
