#!/usr/bin/env bash
# Builds sealstack's OCI images without a daemon or a registry, and imports them into the
# containerd of the local cluster's real node (namespace k8s.io), where pods use them with
# imagePullPolicy: IfNotPresent.
#
#   e2e/cluster/images.sh [--debug] [--no-import] [pause|operator|miner|devnet|netcheck ...]
#                                                                              (default: all)
#
#   docker.io/sealstack/pause:dev     the pod sandbox (pause/pause.c, gcc -static), no Rust needed
#   docker.io/sealstack/operator:dev  sealstack-operator  (Dockerfile target `operator`)
#   docker.io/sealstack/miner:dev     sealstack-miner     (Dockerfile target `runtime`)
#   docker.io/sealstack/devnet:dev    sealstack-devnet    (Dockerfile target `devnet`)
#   docker.io/sealstack/netcheck:dev  the network test helper (netcheck/main.go, static Go), tests only
#
# The Rust images hold the binary (`cargo build [--release] -p <crate>`, in $CARGO_TARGET_DIR,
# default ~/.cache/sealstack/target; release unless --debug), the shared libraries `ldd` names,
# CA certificates, /etc/passwd with the non-root user 65532, and the Dockerfile's entrypoint,
# cmd, env, user and ports. The Dockerfile stays the way to build images for real registries.
# Archives (OCI layout tars) are cached in ~/.cache/sealstack/images, keyed by their inputs.
# Prints one line per image: <name> <archive> <name with a content tag>; an imported image gets
# both tags. Needs umoci (installed with apt-get if missing)
# and, to import, the node's containerd (up.sh starts it).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
source "$ROOT/scripts/target-dir.sh"
CACHE=${SEALSTACK_IMAGE_CACHE:-$HOME/.cache/sealstack/images}
TAG=${SEALSTACK_IMAGE_TAG:-dev}

profile=release import=1 names=()
for a in "$@"; do
  case $a in
    --debug) profile=debug ;;
    --release) profile=release ;;
    --no-import) import=0 ;;
    pause | operator | miner | devnet | netcheck) names+=("$a") ;;
    *) die "images.sh: unknown argument $a (see the header of $0)" ;;
  esac
done
((${#names[@]})) || names=(pause operator miner devnet netcheck)

ensure_cmds umoci gcc sha256sum
mkdir -p "$CACHE"

# Writes the files every image shares into rootfs $1.
base_rootfs() {
  local r=$1
  install -d -m 0755 "$r"/{etc,usr/local/bin,var,root}
  install -d -m 1777 "$r/tmp" "$r/var/tmp"
  printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
    'sealstack:x:65532:65532:sealstack:/nonexistent:/usr/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >"$r/etc/passwd"
  printf '%s\n' 'root:x:0:' 'sealstack:x:65532:' 'nogroup:x:65534:' >"$r/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$r/etc/nsswitch.conf"
  if [[ -s /etc/ssl/certs/ca-certificates.crt ]]; then
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
  fi
}

# Copies binary $1 to $2/$3 and every shared library it loads (as ldd resolves them) to the
# same path in rootfs $2, so the image needs no distribution underneath.
install_binary() {
  local bin=$1 r=$2 dest=$3 lib
  install -D -m 0755 "$bin" "$r$dest"
  while read -r lib; do
    [[ -n $lib ]] || continue
    install -D -m 0755 "$(readlink -f "$lib")" "$r$lib"
  done < <(ldd "$bin" 2>/dev/null | sed -nE 's#.*=> (/[^ ]+) .*#\1#p; s#^\s*(/[^ ]+) \(.*#\1#p')
}

# Packs rootfs $1 into the OCI layout archive $1.tar with the umoci config args in "${@:2}";
# the index names the image by its tag only (ctr import adds the repository name).
pack() {
  local r=$1; shift
  local w=$r.oci
  rm -rf "$w" "$r.bundle"
  umoci init --layout "$w"
  umoci new --image "$w:$TAG"
  umoci unpack --image "$w:$TAG" "$r.bundle" >/dev/null
  cp -a "$r/." "$r.bundle/rootfs/"
  umoci repack --image "$w:$TAG" "$r.bundle"
  umoci config --image "$w:$TAG" --history.created_by "e2e/cluster/images.sh" "$@"
  umoci gc --layout "$w"
  tar -C "$w" -cf "$r.tar" .
  rm -rf "$w" "$r.bundle" "$r"
}

# The Rust binaries, built once per run by scripts/build-binaries.sh (one cargo invocation for all of them,
# sharing its dependencies with the test suite's build), before any image is packed.
BIN_DIR=""
if [[ " ${names[*]} " =~ \ (operator|miner|devnet)\  ]]; then
  build_flags=()
  [[ $profile == release ]] && build_flags=(--release)
  BIN_DIR=$("$ROOT/scripts/build-binaries.sh" "${build_flags[@]}" | tail -n 1)
fi
cargo_binary() { # crate -> path of its binary
  echo "$BIN_DIR/$1"
}

# Image definitions: binary, rootfs extras and config, mirroring the Dockerfile's targets.
build_image() {
  local name=$1 bin cfg=() extra_dirs=()
  local common=(--config.user 65532:65532 --config.workingdir /
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  case $name in
    pause)
      bin=$CACHE/pause.bin
      if [[ ! -x $bin || $HERE/pause/pause.c -nt $bin ]]; then
        gcc -Os -static -s -Wall -Wextra -o "$bin.tmp" "$HERE/pause/pause.c" && mv "$bin.tmp" "$bin"
      fi
      cfg=(--config.user 65535:65535 --config.workingdir / --config.entrypoint /pause) ;;
    operator)
      bin=$(cargo_binary sealstack-operator)
      cfg=("${common[@]}" --config.exposedports 8080/tcp
        --config.entrypoint /usr/local/bin/sealstack-operator --config.cmd run) ;;
    miner)
      bin=$(cargo_binary sealstack-miner)
      cfg=("${common[@]}" --config.env FIL_PROOFS_PARAMETER_CACHE=/var/tmp/filecoin-proof-parameters
        --config.exposedports 2345/tcp --config.exposedports 24001/tcp --config.exposedports 9100/tcp
        --config.entrypoint /usr/local/bin/sealstack-miner) ;;
    netcheck)
      bin=$CACHE/netcheck.bin
      if [[ ! -x $bin || $HERE/netcheck/main.go -nt $bin || $HERE/netcheck/go.mod -nt $bin ]]; then
        command -v go >/dev/null || die "images.sh: go is needed for the netcheck image"
        (cd "$HERE/netcheck" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
          GOCACHE="${GOCACHE_SEALSTACK:-$HOME/.cache/sealstack/go/build}" \
          nice -n 10 go build -trimpath -ldflags "-s -w" -o "$bin.tmp" .) && mv "$bin.tmp" "$bin"
      fi
      cfg=("${common[@]}" --config.entrypoint /usr/local/bin/sealstack-netcheck) ;;
    devnet)
      bin=$(cargo_binary sealstack-devnet)
      extra_dirs=(/devnet)
      cfg=("${common[@]}" --config.env SEALSTACK_DEVNET_REPO=/devnet
        --config.env FIL_PROOFS_PARAMETER_CACHE=/var/tmp/filecoin-proof-parameters
        --config.exposedports 1234/tcp --config.entrypoint /usr/local/bin/sealstack-devnet
        --config.cmd run --config.cmd --listen --config.cmd 0.0.0.0:1234) ;;
  esac
  [[ -x $bin ]] || die "images.sh: $bin missing"

  # Cache key: the binary, the libraries it loads (without their ASLR load addresses), this
  # script and the tag.
  local key
  key=$( { sha256sum "$bin" "$HERE/images.sh"; ldd "$bin" 2>/dev/null | sed "s/ (0x[0-9a-f]*)//"; echo "$TAG"; } |
    sha256sum | cut -c1-16)
  local archive=$CACHE/$name-$key.tar
  if [[ ! -s $archive ]]; then
    log "building image sealstack/$name:$TAG from $bin"
    local r=$CACHE/.build-$name-$$ d
    rm -rf "$r"
    if [[ $name == pause ]]; then
      install -d -m 0755 "$r"
      install -m 0755 "$bin" "$r/pause"
    else
      base_rootfs "$r"
      install_binary "$bin" "$r" "/usr/local/bin/sealstack-$name"
    fi
    for d in "${extra_dirs[@]}"; do install -d -m 0755 -o 65532 -g 65532 "$r$d"; done
    pack "$r" "${cfg[@]}"
    mv "$r.tar" "$archive"
    # Keep only the newest archive per image.
    find "$CACHE" -maxdepth 1 -name "$name-*.tar" ! -name "$(basename "$archive")" -delete
  fi
  if ((import)); then
    [[ -S $CTRD_SOCK ]] || die "images.sh: no containerd at $CTRD_SOCK (start the cluster with the real node: up.sh)"
    ctr --address "$CTRD_SOCK" -n k8s.io images import --base-name "docker.io/sealstack/$name" "$archive" >/dev/null
    # Also under a tag naming the content, for deployments that must roll when the image changes.
    ctr --address "$CTRD_SOCK" -n k8s.io images tag --force "docker.io/sealstack/$name:$TAG" \
      "docker.io/sealstack/$name:$TAG-$key" >/dev/null
    log "imported docker.io/sealstack/$name:$TAG (and :$TAG-$key)"
  fi
  echo "sealstack/$name:$TAG $archive sealstack/$name:$TAG-$key"
}

for n in "${names[@]}"; do build_image "$n"; done
