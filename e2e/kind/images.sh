#!/usr/bin/env bash
# Our images on the kind cluster's nodes: built by e2e/cluster/images.sh (--no-import: no registry, no daemon),
# named, and loaded into every node with `kind load image-archive`. Same arguments and output as
# e2e/cluster/images.sh, so that the demo's scripts use either (SEALSTACK_IMAGES_SH):
#
#   e2e/kind/images.sh [--debug] [pause|operator|miner|devnet|netcheck|tools ...]   (default: all)
#
# Prints one line per image: <name> <archive> <name with a content tag>; the nodes get both names
# (docker.io/sealstack/<name>:dev and :dev-<key>). `tools` is docker.io/sealstack/tools:dev, built here: /bin/sh,
# true and sleep (Debian's, with their libraries), the image the workload tests run on kind's real kubelets
# (SEALSTACK_E2E_IMAGE; under kwok any name would do). Named archives are cached in $KIND_CACHE/load.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

flags=() names=()
for a in "$@"; do
  case $a in
    --debug | --release) flags+=("$a") ;;
    pause | operator | miner | devnet | netcheck | tools) names+=("$a") ;;
    *) die "images.sh: unknown argument $a (see the header of $0)" ;;
  esac
done
((${#names[@]})) || names=(pause operator miner devnet netcheck tools)
kind_exists || die "no kind cluster $KIND_CLUSTER: run e2e/kind/up.sh first"
LOAD=$KIND_CACHE/load
mkdir -p "$LOAD"

# The tools image: a few of this host's Debian binaries and the libraries they load (as images.sh installs ours).
tools_archive() {
  local r=$LOAD/.tools-$$ b lib k archive
  k=$( { sha256sum /bin/dash /bin/true /bin/sleep "$E2E_KIND_HERE/images.sh"; } | sha256sum | cut -c1-16)
  archive=$LOAD/tools-src-$k.tar
  if [[ ! -s $archive ]]; then
    rm -rf "$r"
    base_files "$r"
    for b in /bin/dash /bin/true /bin/sleep; do
      install -D -m 0755 "$(readlink -f "$b")" "$r$b"
      while read -r lib; do
        [[ -n $lib ]] && install -D -m 0755 "$(readlink -f "$lib")" "$r$lib"
      done < <(ldd "$b" 2>/dev/null | sed -nE 's#.*=> (/[^ ]+) .*#\1#p; s#^\s*(/[^ ]+) \(.*#\1#p')
    done
    ln -s dash "$r/bin/sh"
    pack "$r" "$archive" --config.user 65532:65532 --config.entrypoint /bin/sh \
      --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    find "$LOAD" -maxdepth 1 -name 'tools-src-*.tar' ! -name "$(basename "$archive")" -delete
  fi
  echo "sealstack/tools:dev $archive sealstack/tools:dev-$k"
}

lines=()
cluster=()
for n in "${names[@]}"; do [[ $n == tools ]] || cluster+=("$n"); done
if ((${#cluster[@]})); then
  mapfile -t lines < <(SEALSTACK_IMAGE_TAG=dev SEALSTACK_IMAGE_CACHE=$KIND_IMAGE_CACHE \
    "$KIND_ROOT/e2e/cluster/images.sh" "${flags[@]}" --no-import "${cluster[@]}")
  ((${#lines[@]} == ${#cluster[@]})) || die "e2e/cluster/images.sh built ${#lines[@]} of ${#cluster[@]} images"
fi
[[ " ${names[*]} " == *" tools "* ]] && lines+=("$(tools_archive)")

for line in "${lines[@]}"; do
  read -r name src content <<<"$line"
  base=${name%:*}
  loaded=$LOAD/${base#sealstack/}-${content##*:}.tar
  if [[ ! -s $loaded ]]; then
    name_archive "$src" "$loaded" "docker.io/$name" "docker.io/$content"
    find "$LOAD" -maxdepth 1 -name "${base#sealstack/}-dev-*.tar" ! -name "$(basename "$loaded")" -delete
  fi
  "$KIND" load image-archive --name "$KIND_CLUSTER" "$loaded" >&2
  log "loaded docker.io/$name (and docker.io/$content) into $(kind_nodes | paste -sd' ')"
  echo "$line"
done
