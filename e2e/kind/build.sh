#!/usr/bin/env bash
# Builds everything a kind cluster needs, offline (the Go module proxy and the Debian mirror only), cached under
# ~/.cache/sealstack/kind and rebuilt when missing:
#   - kind, kubeadm, crictl and CoreDNS from the Go modules in ./modules (kubeadm: the same k8s.io/kubernetes as
#     e2e/cluster; CoreDNS with the plugins of kubeadm's Corefile) into bin/<version key>; kubelet, kubectl and the
#     control plane come from e2e/cluster/build.sh;
#   - the images kubeadm asks for (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, etcd,
#     coredns, pause), as OCI archives built with umoci like e2e/cluster/images.sh builds ours, into images/;
#   - the node's base image: a Debian rootfs (mmdebstrap) with kind's own base files (entrypoint, systemd
#     units, /kind) from its module source and the steps of kind's base Dockerfile;
#   - the node image: the base with kubeadm, kubelet, kubectl and the images preloaded into its containerd, made
#     as `kind build node-image` makes it (a build container, `ctr images import`, commit), which cannot be used
#     here: it pulls its images from registries.
# Images go to the container engine lib.sh picks (Docker when one answers, podman otherwise; podman's storage
# is $KIND_CACHE/podman). Prints the node image's name on the last line.
#   e2e/kind/build.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start=$SECONDS
ensure_pkgs mmdebstrap debian-archive-keyring umoci jq python3 gcc libc6-dev
[[ $ENGINE == docker ]] || ensure_pkgs podman
kind_podman_config
command -v go >/dev/null || die "go not found (Go >= 1.25 needed)"
mkdir -p "$KIND_BIN" "$KIND_CACHE/images"

# --- the components e2e/cluster builds (kubelet, kubectl, the control plane, etcd) ---------------------------
K8S=$("$KIND_ROOT/e2e/cluster/build.sh" | tail -n 1)
export SEALSTACK_K8S_BIN=$K8S

# --- Go binaries of our own: kind, kubeadm, crictl, coredns -------------------------------------------------
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local
export GOMODCACHE="${GOMODCACHE_SEALSTACK:-$HOME/.cache/sealstack/go/mod}"
export GOCACHE="${GOCACHE_SEALSTACK:-$HOME/.cache/sealstack/go/build}"
NICE=(nice -n 15)
M=$E2E_KIND_HERE/modules
pinned() { # module-dir module: the version its go.mod pins
  (cd "$M/$1" && go list -m -f '{{.Version}}' "$2")
}
[[ $(pinned kind sigs.k8s.io/kind) == "$KIND_VERSION" ]] || die "modules/kind does not pin kind $KIND_VERSION"
[[ $(pinned crictl sigs.k8s.io/cri-tools) == "$CRICTL_VERSION" ]] || die "modules/crictl does not pin $CRICTL_VERSION"
[[ $(pinned kubeadm k8s.io/kubernetes) == "v$KUBE_VERSION" ]] || die "modules/kubeadm does not pin k8s v$KUBE_VERSION"
[[ $(pinned coredns github.com/coredns/coredns) == "$COREDNS_VERSION" ]] || die "modules/coredns does not pin $COREDNS_VERSION"

if [[ ! -x $KIND_BIN/kind ]]; then
  log "building kind $KIND_VERSION"
  (cd "$M/kind" && "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$KIND_BIN/kind" sigs.k8s.io/kind)
fi
if [[ ! -x $KIND_BIN/crictl ]]; then
  log "building crictl $CRICTL_VERSION"
  (cd "$M/crictl" && "${NICE[@]}" go build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    -o "$KIND_BIN/crictl" sigs.k8s.io/cri-tools/cmd/crictl)
fi
if [[ ! -x $KIND_BIN/kubeadm ]]; then
  log "building kubeadm v$KUBE_VERSION"
  # The version stamp e2e/cluster/build.sh gives the other components: kubeadm checks the kubelet's against it.
  MINOR=${KUBE_VERSION#1.}; MINOR=${MINOR%%.*}
  LDF="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDF+=" -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR"
    LDF+=" -X $p.gitTreeState=clean -X $p.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    LDF+=" -X $p.gitCommit=0000000000000000000000000000000000000000"
  done
  (cd "$M/kubeadm" && "${NICE[@]}" go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$LDF" \
    -o "$KIND_BIN/kubeadm" k8s.io/kubernetes/cmd/kubeadm)
fi
if [[ ! -x $KIND_BIN/coredns ]]; then
  log "building coredns $COREDNS_VERSION (kubeadm's plugins)"
  (cd "$M/coredns" && "${NICE[@]}" go build -trimpath -ldflags "-s -w" -o "$KIND_BIN/coredns" .)
fi
KIND_SRC=$(cd "$M/kind" && go list -m -f '{{.Dir}}' sigs.k8s.io/kind)

# --- the images kubeadm asks for --------------------------------------------------------------------------
# kubeadm's defaults for etcd and CoreDNS are other versions than the ones built here: the cluster's kubeadm
# configuration (up.sh) asks for these tags instead. The pause image is the sandbox image of the node's
# containerd, under the tag kubeadm names.
PAUSE_TAG=$("$KIND_BIN/kubeadm" config images list --kubernetes-version "v$KUBE_VERSION" 2>/dev/null |
  sed -n 's#^registry.k8s.io/pause:##p')
[[ -n $PAUSE_TAG ]] || die "kubeadm names no pause image"
ETCD_TAG=$ETCD_VERSION
COREDNS_TAG=$COREDNS_VERSION
PAUSE_IMAGE=registry.k8s.io/pause:$PAUSE_TAG

# A Debian rootfs (minbase with the packages in "${@:2}") in directory $1, for images that need a distribution:
# kube-proxy (iptables) and the node's base.
debian_rootfs() {
  local r=$1; shift
  local include; include=$(IFS=,; echo "$*")
  rm -rf "$r"
  # No documentation, manuals or translations: the kind base Dockerfile's clean-install drops them too.
  "${NICE[@]}" mmdebstrap --quiet --variant=minbase --include="$include" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    "$KIND_DEBIAN_SUITE" "$r" "$KIND_DEBIAN_MIRROR" >&2
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log
  # The runtime makes /dev: device nodes in the image are of no use, and umoci would carry them.
  find "$r/dev" -mindepth 1 -delete
}

# The iptables mode kube-proxy uses must be the node's (the kubelet's and the entrypoint's choice, legacy or
# nft): picked at the first call, as upstream's image does (kubernetes-sigs/iptables-wrappers).
write_iptables_wrapper() {
  cat >"$1" <<'EOF'
#!/bin/sh
# iptables-wrapper (e2e/kind/build.sh, after kubernetes-sigs/iptables-wrappers): the iptables, ip6tables and their
# -save/-restore links point here until the first call picks the mode the node uses (the kubelet's chains tell)
# and points them at it.
set -e
nft_kubelet=$( (iptables-nft-save -t mangle || true; ip6tables-nft-save -t mangle || true) 2>/dev/null |
  grep -cE '^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)' || true)
if [ "$nft_kubelet" -ne 0 ]; then
  mode=nft
else
  legacy_kubelet=$( (iptables-legacy-save || true; ip6tables-legacy-save || true) 2>/dev/null |
    grep -cE '^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)' || true)
  if [ "$legacy_kubelet" -ne 0 ]; then
    mode=legacy
  else
    legacy=$( (iptables-legacy-save || true; ip6tables-legacy-save || true) 2>/dev/null | grep -c '^-' || true)
    nft=$( (timeout 5 sh -c "iptables-nft-save; ip6tables-nft-save" || true) 2>/dev/null | grep -c '^-' || true)
    if [ "$legacy" -gt "$nft" ]; then mode=legacy; else mode=nft; fi
  fi
fi
update-alternatives --set iptables "/usr/sbin/iptables-$mode" >/dev/null
update-alternatives --set ip6tables "/usr/sbin/ip6tables-$mode" >/dev/null
exec "$0" "$@"
EOF
  chmod 0755 "$1"
}

# Cache keys: digests of what goes in, file contents and the code of the functions that build, so that a change
# of either (and nothing else) rebuilds. contents FILE...: the files' digests, without their paths.
digest() { sha256sum | cut -c1-16; }
contents() { local f; for f in "$@"; do sha256sum <"$f"; done; }

# image NAME TAG...: builds (or reuses) the archive of image NAME, named registry.k8s.io/NAME:TAG for each TAG;
# prints its path.
image() {
  local name=$1; shift
  local bin cfg=() r archive k
  local env=(--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  case $name in
    kube-apiserver | kube-controller-manager | kube-scheduler | kube-proxy) bin=$K8S/$name ;;
    etcd) bin=$K8S/etcd ;;
    coredns/coredns) bin=$KIND_BIN/coredns ;;
    pause)
      bin=$(SEALSTACK_IMAGE_TAG=dev SEALSTACK_IMAGE_CACHE=$KIND_IMAGE_CACHE "$KIND_ROOT/e2e/cluster/images.sh" \
        --no-import pause | awk '{print $2}') ;;
  esac
  [[ -s $bin ]] || die "$bin missing"
  k=$( { contents "$bin"; echo "$name $*"; declare -f image base_files pack debian_rootfs write_iptables_wrapper \
    name_archive; } | digest)
  archive=$KIND_CACHE/images/${name//\//-}-$k.tar
  if [[ ! -s $archive ]]; then
    log "building image registry.k8s.io/$name:$1"
    r=$KIND_CACHE/.build-${name//\//-}-$$
    rm -rf "$r"
    case $name in
      pause)
        # e2e/cluster/images.sh's image (pause/pause.c), under the names kubeadm and the node's containerd use.
        cp "$bin" "$archive.src" ;;
      kube-proxy)
        debian_rootfs "$r" iptables conntrack
        install -D -m 0755 "$bin" "$r/usr/local/bin/kube-proxy"
        write_iptables_wrapper "$r/usr/sbin/iptables-wrapper"
        local t
        for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
          ln -sf iptables-wrapper "$r/usr/sbin/$t"
        done
        cfg=("${env[@]}" --config.entrypoint /usr/local/bin/kube-proxy) ;;
      coredns/coredns)
        base_files "$r"
        install -D -m 0755 "$bin" "$r/coredns"
        cfg=("${env[@]}" --config.entrypoint /coredns --config.exposedports 53/tcp --config.exposedports 53/udp) ;;
      *)
        # kubeadm's static pods run them by name (command: [etcd, ...]): on the PATH.
        base_files "$r"
        install -D -m 0755 "$bin" "$r/usr/local/bin/$name"
        cfg=("${env[@]}" --config.entrypoint "/usr/local/bin/$name") ;;
    esac
    [[ $name == pause ]] || pack "$r" "$archive.src" "${cfg[@]}"
    local names=() t
    for t in "$@"; do names+=("registry.k8s.io/$name:$t"); done
    [[ $name != pause ]] || names+=(docker.io/sealstack/pause:dev)
    name_archive "$archive.src" "$archive" "${names[@]}"
    rm -f "$archive.src"
    find "$KIND_CACHE/images" -maxdepth 1 -name "${name//\//-}-*.tar" ! -name "$(basename "$archive")" -delete
  fi
  echo "$archive"
}

ARCHIVES=(
  "$(image kube-apiserver "v$KUBE_VERSION")"
  "$(image kube-controller-manager "v$KUBE_VERSION")"
  "$(image kube-scheduler "v$KUBE_VERSION")"
  "$(image kube-proxy "v$KUBE_VERSION")"
  "$(image etcd "$ETCD_TAG")"
  "$(image coredns/coredns "$COREDNS_TAG")"
  "$(image pause "$PAUSE_TAG")"
)

# --- the node's base image --------------------------------------------------------------------------------
# Every package kind's base Dockerfile installs, from Debian (containerd, runc and the CNI plugins too, which kind
# builds from source), but the network storage clients (nfs-common, open-iscsi) no test here uses.
BASE_PKGS=(systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod libseccomp2 pigz fuse-overlayfs
  e2fsprogs bash ca-certificates curl jq procps containerd runc containernetworking-plugins)

# The CNI configuration: ptp (a veth per pod, routes on the node) with host-local addresses from the node's pod
# CIDR, which containerd writes from this template once the kubelet hands it the CIDR (kind's kindnet would
# write the same, but its image comes from a registry). Routes between the nodes' pod CIDRs: up.sh.
cni_template() {
  cat <<'EOF'
{
  "cniVersion": "0.4.0",
  "name": "sealstack-kind",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "ranges": [{{range $i, $range := .PodCIDRRanges}}{{if $i}}, {{end}}[{"subnet": "{{$range}}"}]{{end}}],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
}

build_base() {
  local r=$KIND_CACHE/.base-$$ f=$KIND_SRC/images/base/files
  log "building the node's base image $BASE_IMAGE (Debian $KIND_DEBIAN_SUITE + kind $KIND_VERSION's base files)"
  debian_rootfs "$r" "${BASE_PKGS[@]}"
  # kind's files, with the modes its Dockerfile gives them.
  install -m 0755 "$f"/usr/local/bin/* "$r/usr/local/bin/"
  install -d -m 0755 "$r/kind" "$r/kind/bin" "$r/LICENSES" "$r/etc/containerd" "$r/etc/default" \
    "$r/etc/sysctl.d" "$r/etc/systemd/system/kubelet.service.d"
  install -m 0644 "$f"/kind/README.txt "$r/kind/"
  install -m 0755 "$f"/kind/bin/* "$r/kind/bin/"
  install -m 0644 "$f"/LICENSES/* "$r/LICENSES/"
  install -m 0644 "$f"/etc/crictl.yaml "$r/etc/"
  install -m 0644 "$f"/etc/containerd/* "$r/etc/containerd/"
  install -m 0644 "$f"/etc/default/* "$r/etc/default/"
  install -m 0644 "$f"/etc/sysctl.d/* "$r/etc/sysctl.d/"
  install -m 0644 "$f"/etc/systemd/system/*.service "$f"/etc/systemd/system/*.slice "$r/etc/systemd/system/"
  install -m 0644 "$f"/etc/systemd/system/kubelet.service.d/* "$r/etc/systemd/system/kubelet.service.d/"
  # The Dockerfile's RUN steps: no services but kind's, no kmsg in journald, systemd as /sbin/init.
  find "$r/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$r"/lib/systemd/system/multi-user.target.wants/* "$r"/etc/systemd/system/*.wants/* \
    "$r"/lib/systemd/system/local-fs.target.wants/* "$r"/lib/systemd/system/sockets.target.wants/*udev* \
    "$r"/lib/systemd/system/sockets.target.wants/*initctl* "$r"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$r/etc/systemd/journald.conf"
  ln -sf /usr/lib/systemd/systemd "$r/sbin/init"
  chroot "$r" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
  chroot "$r" systemctl mask systemd-binfmt.service >/dev/null 2>&1
  mkdir -p "$r/etc/kubernetes/manifests"
  # Debian's containerd, runc and CNI plugins where kind's units, config and scripts expect its own builds.
  local b
  for b in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$b" "$r/usr/local/bin/$b"; done
  install -d -m 0755 "$r/usr/local/sbin" "$r/opt/cni"
  ln -sf /usr/sbin/runc "$r/usr/local/sbin/runc"
  ln -sfn /usr/lib/cni "$r/opt/cni/bin"
  install -m 0755 "$KIND_BIN/crictl" "$r/usr/local/bin/crictl"
  chroot "$r" ctr oci spec |
    jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
    jq 'del(.process.rlimits)' >"$r/etc/containerd/cri-base.json"
  # containerd: the pause image kubeadm names, and the CNI template above.
  sed -i "s#^\(\s*sandbox_image = \).*#\1\"$PAUSE_IMAGE\"#" "$r/etc/containerd/config.toml"
  grep -q "sandbox_image = \"$PAUSE_IMAGE\"" "$r/etc/containerd/config.toml" || die "no sandbox_image in kind's containerd config"
  cni_template >"$r/etc/containerd/cni.template"
  cat >>"$r/etc/containerd/config.toml" <<'EOF'

# e2e/kind/build.sh: the CNI configuration written from the node's pod CIDR (no kindnet).
[plugins."io.containerd.grpc.v1.cri".cni]
  conf_template = "/etc/containerd/cni.template"
EOF
  # (No /dev in a tar import; the runtime makes it.)
  local quiet=(); [[ $ENGINE == docker ]] || quiet=(--quiet)
  tar --numeric-owner -C "$r" -cf - . | engine import "${quiet[@]}" \
    --change 'ENV container=docker' --change 'STOPSIGNAL SIGRTMIN+3' \
    --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$r"
}

BASE_KEY=$( { printf '%s\n' "${BASE_PKGS[@]}" "$KIND_DEBIAN_SUITE" "$KIND_KEY" "$PAUSE_IMAGE"; contents "$KIND_BIN/crictl"
  declare -f build_base debian_rootfs cni_template; } | digest)
BASE_IMAGE=localhost/sealstack/kind-base:$BASE_KEY

has_image() { engine image inspect "$1" >/dev/null 2>&1; }
# drop_other_images REPOSITORY KEEP: removes the engine's other tags of REPOSITORY (older builds).
drop_other_images() {
  local img
  for img in $(engine images --format '{{.Repository}}:{{.Tag}}' | grep "^$1:" | grep -vxF "$2" || true); do
    log "removing the older image $img"
    engine rmi "$img" >/dev/null || true
  done
}
has_image "$BASE_IMAGE" || build_base

# --- the node image ---------------------------------------------------------------------------------------

# What kubeadm will ask for, with the tags of the cluster's kubeadm configuration (etcd, CoreDNS).
kubeadm_images() {
  printf '%s\n' 'apiVersion: kubeadm.k8s.io/v1beta4' 'kind: ClusterConfiguration' \
    "kubernetesVersion: v$KUBE_VERSION" "etcd: {local: {imageTag: \"$ETCD_TAG\"}}" "dns: {imageTag: \"$COREDNS_TAG\"}" \
    >"$KIND_CACHE/.kubeadm-images.yaml"
  "$KIND_BIN/kubeadm" config images list --config "$KIND_CACHE/.kubeadm-images.yaml" 2>/dev/null
  rm -f "$KIND_CACHE/.kubeadm-images.yaml"
}

build_node() {
  log "building the node image $NODE_IMAGE"
  local id=sealstack-kind-build-$$ b a rm_now=()
  [[ $ENGINE == docker ]] || rm_now=(-t 0) # (no stop signal: `sleep` ignores it)
  # shellcheck disable=SC2064
  trap "engine rm -f -v ${rm_now[*]} $id >/dev/null 2>&1 || true" EXIT
  engine run -d --name "$id" --network none --entrypoint sleep --security-opt seccomp=unconfined "$BASE_IMAGE" \
    infinity >/dev/null
  for b in "$KIND_BIN/kubeadm" "$K8S/kubelet" "$K8S/kubectl"; do
    engine cp "$b" "$id:/usr/bin/$(basename "$b")"
    engine exec "$id" chown root:root "/usr/bin/$(basename "$b")"
    engine exec "$id" chmod 0755 "/usr/bin/$(basename "$b")"
  done
  engine exec "$id" sh -c "printf %s 'v$KUBE_VERSION' >/kind/version"
  # The StorageClass kind installs (instead of its host-path default class, which would be the cluster's
  # default): the real node's local volumes, made by volumes.sh, and no default.
  engine exec -i "$id" sh -c 'mkdir -p /kind/manifests && cat >/kind/manifests/default-storage.yaml' <<'EOF'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: sealstack-local
  annotations:
    storageclass.kubernetes.io/is-default-class: "false"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF
  # Preload: containerd in the build container imports each archive (content only, unpacked on the nodes).
  engine exec "$id" bash -c 'nohup containerd >/dev/null 2>&1 &'
  wait_for 30 "containerd answering in the build container" engine exec "$id" ctr version ||
    die "containerd did not start in the build container"
  for a in "${ARCHIVES[@]}"; do
    engine exec -i "$id" ctr -n k8s.io images import --all-platforms --no-unpack --digests - <"$a" >/dev/null
  done
  local have want missing=()
  have=$(engine exec "$id" ctr -n k8s.io images ls -q)
  for want in $(kubeadm_images); do
    grep -qxF "$want" <<<"$have" || missing+=("$want")
    engine exec "$id" ctr -n k8s.io images label "$want" io.cri-containerd.pinned=pinned >/dev/null 2>&1 || true
  done
  ((${#missing[@]} == 0)) || die "the node image lacks what kubeadm asks for: ${missing[*]}"
  engine exec "$id" pkill containerd
  # (Its parent is `sleep`, which never reaps it: gone means a zombie.)
  wait_for 30 "containerd gone from the build container" \
    bash -c "! $ENGINE exec $id ps -C containerd -o stat= | grep -qv '^Z'" ||
    die "containerd did not stop in the build container"
  engine commit --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' "$id" "$NODE_IMAGE" >/dev/null
  engine rm -f -v "${rm_now[@]}" "$id" >/dev/null
  trap - EXIT
}
NODE_KEY=$( { echo "$BASE_IMAGE"; printf '%s\n' "${ARCHIVES[@]}"; contents "$K8S/kubelet" "$K8S/kubectl" "$KIND_BIN/kubeadm"
  declare -f build_node kubeadm_images; } | digest)
NODE_IMAGE=localhost/sealstack/kind-node:v$KUBE_VERSION-$NODE_KEY
if ! has_image "$NODE_IMAGE"; then
  build_node
  drop_other_images localhost/sealstack/kind-node "$NODE_IMAGE"
  drop_other_images localhost/sealstack/kind-base "$BASE_IMAGE"
fi

log "done in $((SECONDS - start)) s: $NODE_IMAGE"
echo "$NODE_IMAGE"
