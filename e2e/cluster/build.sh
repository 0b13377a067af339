#!/usr/bin/env bash
# Builds the pinned local-cluster components from their Go modules (wrapper modules in
# ./modules, go.mod/go.sum committed) into ~/.cache/sealstack/k8s/<version-key>/bin:
#   kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy (k8s.io/kubernetes)
#   etcd (go.etcd.io/etcd/server/v3), kwok (sigs.k8s.io/kwok), helm (helm.sh/helm/v3),
#   coredns (github.com/coredns/coredns with the plugins modules/coredns/main.go links)
# plus kwok-stages.yaml (the stages the standalone kwok controller runs).
# Idempotent: a binary already present is not rebuilt; a missing one is.
# Prints the bin directory on stdout (last line). Needs Go >= 1.25 (CoreDNS) and the Go module proxy.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
source "$HERE/versions.sh"

BIN=$SEALSTACK_K8S_BIN
mkdir -p "$BIN"
# shellcheck source=../../scripts/log.sh
source "$HERE/../../scripts/log.sh"
LOG_TAG=build.sh:

command -v go >/dev/null || die "go not found (Go >= 1.25 needed)"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local
# Go's module and build caches live with the other sealstack caches.
export GOMODCACHE="${GOMODCACHE_SEALSTACK:-$HOME/.cache/sealstack/go/mod}"
export GOCACHE="${GOCACHE_SEALSTACK:-$HOME/.cache/sealstack/go/build}"
# Other engineers compile on the same cores: build politely.
NICE=(nice -n 15)

missing() { local b; for b in "$@"; do [[ -x $BIN/$b ]] || return 0; done; return 1; }

start=$(date +%s)

# --- kubernetes -------------------------------------------------------------------
KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
if missing "${KUBE_CMDS[@]}"; then
  MINOR=${KUBE_VERSION#1.}; MINOR=${MINOR%%.*}
  BD=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  LDF="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDF+=" -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR"
    LDF+=" -X $p.gitTreeState=clean -X $p.buildDate=$BD"
    LDF+=" -X $p.gitCommit=0000000000000000000000000000000000000000"
  done
  pkgs=()
  for c in "${KUBE_CMDS[@]}"; do [[ -x $BIN/$c ]] || pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  log "building ${pkgs[*]} (k8s v$KUBE_VERSION)"
  (cd "$HERE/modules/kube" && "${NICE[@]}" go build -trimpath -tags selinux,notest,grpcnotrace \
    -ldflags "$LDF" -o "$BIN/" "${pkgs[@]}")
fi

# --- etcd -------------------------------------------------------------------------
if missing etcd; then
  log "building etcd v$ETCD_VERSION"
  (cd "$HERE/modules/etcd" && "${NICE[@]}" go build -trimpath \
    -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
fi

# --- kwok -------------------------------------------------------------------------
if missing kwok; then
  log "building kwok $KWOK_VERSION"
  (cd "$HERE/modules/kwok" && "${NICE[@]}" go build -trimpath \
    -ldflags "-s -w" -o "$BIN/kwok" sigs.k8s.io/kwok/cmd/kwok)
fi
if [[ ! -s $BIN/kwok-stages.yaml ]]; then
  KW="$(cd "$HERE/modules/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
  { for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"; cat "$KW/$f"; done; } > "$BIN/kwok-stages.yaml.tmp"
  mv "$BIN/kwok-stages.yaml.tmp" "$BIN/kwok-stages.yaml"
fi

# --- helm -------------------------------------------------------------------------
if missing helm; then
  log "building helm $HELM_VERSION"
  (cd "$HERE/modules/helm" && "${NICE[@]}" go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" -o "$BIN/helm" helm.sh/helm/v3/cmd/helm)
fi

# --- coredns (the real node's cluster DNS) -------------------------------------------
if missing coredns || [[ $("$BIN/coredns" -version 2>/dev/null) != *"CoreDNS-${COREDNS_VERSION#v}"* ]]; then
  log "building coredns $COREDNS_VERSION"
  (cd "$HERE/modules/coredns" && "${NICE[@]}" go build -trimpath \
    -ldflags "-s -w" -o "$BIN/coredns" .)
fi

log "done in $(( $(date +%s) - start ))s: $BIN"
echo "$BIN"
