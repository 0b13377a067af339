# Shared settings and helpers of e2e/kind's scripts (sourced, not run): build.sh, images.sh, up.sh, down.sh,
# volumes.sh, test.sh.
# shellcheck shell=bash
E2E_KIND_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KIND_ROOT=$(cd "$E2E_KIND_HERE/../.." && pwd)
# log, die, fail, wait_for, step: the project's one set (scripts/log.sh, no side effects).
# shellcheck source=../../scripts/log.sh
source "$KIND_ROOT/scripts/log.sh"
LOG_TAG='[kind]'
WAIT_EVERY=1
# The pinned Kubernetes, etcd and CoreDNS of the local cluster (e2e/cluster): kind's node runs the same ones.
# shellcheck source=../cluster/versions.sh
source "$KIND_ROOT/e2e/cluster/versions.sh"

# Pinned versions of what e2e/kind builds itself; they must match the go.mod files in ./modules.
KIND_VERSION=v0.33.0
CRICTL_VERSION=v1.34.0
# Debian release of the node's base image (mmdebstrap) and of kube-proxy's image (iptables).
KIND_DEBIAN_SUITE=bookworm
KIND_DEBIAN_MIRROR=${SEALSTACK_KIND_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# Everything built is cached here and rebuilt when missing; the clusters' own state is in clusters/<name>.
KIND_CACHE=${SEALSTACK_KIND_CACHE:-$HOME/.cache/sealstack/kind}
KIND_KEY="kind-$KIND_VERSION-k8s-$KUBE_VERSION-crictl-$CRICTL_VERSION-coredns-$COREDNS_VERSION"
KIND_BIN=$KIND_CACHE/bin/$KIND_KEY
# e2e/cluster/images.sh's archives of our images, in a cache of their own: that script keeps one archive per image
# in its cache, keyed by its own path too, and would delete the local cluster's while that one imports them.
KIND_IMAGE_CACHE=$KIND_CACHE/cluster-images
KIND=$KIND_BIN/kind

# The cluster: one control plane, a worker labelled as a GPU node (test.sh advertises nvidia.com/gpu: 8 on it)
# and the real node (labelled and tainted sealstack.io/real-node=true, as e2e/cluster's sealstack-node is).
KIND_CLUSTER=${SEALSTACK_KIND_CLUSTER:-sealstack-e2e}
KIND_STATE=$KIND_CACHE/clusters/$KIND_CLUSTER
KIND_KUBECONFIG=$KIND_STATE/kubeconfig
# The API server on the host's loopback, on a fixed port outside the local clusters' ranges (36000-38999).
KIND_API_PORT=${SEALSTACK_KIND_API_PORT:-39443}
KIND_POD_SUBNET=10.244.0.0/16
KIND_SERVICE_SUBNET=10.96.0.0/16
NODE_LABEL=sealstack.io/real-node
KIND_REAL_NODE=$KIND_CLUSTER-worker2
KIND_GPU_NODE=$KIND_CLUSTER-worker
# Where the real node's local volumes live (inside the node container: they go with it).
KIND_VOLUMES_DIR=/var/local/sealstack-volumes
# The locally generated proof parameters (scripts/params.sh), mounted read-only at the same path in the real
# node, where the demo's pods mount them with hostPath as they do on the local cluster.
KIND_PARAMS_DIR=${SEALSTACK_GENERATED_PARAMS:-$HOME/.cache/sealstack/params/generated}

# The kernel settings every kubelet sets on start (as e2e/cluster/node.sh records them): the nodes' kubelets
# run on this kernel, in privileged containers, so they change them for the whole machine; down restores them.
KUBELET_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes)

# warn: something could not be done or undone; down.sh counts them and lists them at the end.
KIND_WARNINGS=()
warn() { log "WARNING: $*"; KIND_WARNINGS+=("$*"); }

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

# Installs the Debian packages given when they are not installed (apt-get update once).
ensure_pkgs() {
  local need=() p
  for p in "$@"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *'install ok installed'* ]] || need+=("$p")
  done
  ((${#need[@]})) || return 0
  log "installing ${need[*]} with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

# --- the container engine: Docker when an engine answers, podman otherwise -------------------------------------
# With podman, every call made here and by kind uses a configuration of its own (CONTAINERS_CONF and
# CONTAINERS_STORAGE_CONF, written by kind_podman_config): its storage (images, containers, the nodes' /var
# volumes) and its network definitions live in $KIND_CACHE/podman, and nothing in /etc/containers changes.
docker_answers() { command -v docker >/dev/null && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if [[ -n ${SEALSTACK_KIND_ENGINE:-} ]]; then
  ENGINE=$SEALSTACK_KIND_ENGINE
elif docker_answers; then
  ENGINE=docker
else
  ENGINE=podman
fi
[[ $ENGINE == docker || $ENGINE == podman ]] || die "SEALSTACK_KIND_ENGINE must be docker or podman, not $ENGINE"
PODMAN_DIR=$KIND_CACHE/podman
PODMAN_RUN=/run/sealstack-kind
if [[ $ENGINE == podman ]]; then
  export KIND_EXPERIMENTAL_PROVIDER=podman
  export CONTAINERS_CONF=$PODMAN_DIR/containers.conf CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf
fi
engine() { "$ENGINE" "$@"; }

# Whether this process holds CAP_SYS_RESOURCE (bit 24). Without it (as in some sandboxes) no process may lower
# an oom_score_adj, so runc fails every pod sandbox (kubelet asks -998 for them) unless containerd clamps the
# scores at its own (restrict_oom_score_adj, as e2e/cluster/node.sh does).
has_cap_sys_resource() {
  local eff; eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
  (( (16#$eff >> 24) & 1 ))
}

# podman's configuration for kind (idempotent). The default ulimits: podman asks the runtime for nofile and nproc
# limits of its own defaults (1048576), which a host with lower hard limits refuses ("error setting rlimit type
# 7"); kind passes no --ulimit, so they are set here to what this host allows: the hard limits, and no more
# processes than kernel.pid_max (podman runs conmon, the runtime's parent, with that nproc limit; more is refused
# with "rlimit type 6"). cgroupfs and file events: no systemd as PID 1 on every host.
kind_podman_config() {
  [[ $ENGINE == podman ]] || return 0
  ensure_pkgs podman
  mkdir -p "$PODMAN_DIR/networks"
  local nofile nproc manager=cgroupfs
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [[ $nofile == unlimited ]] && nofile=1048576
  [[ $nproc == unlimited ]] && nproc=1048576
  ((nproc <= $(</proc/sys/kernel/pid_max))) || nproc=$(</proc/sys/kernel/pid_max)
  [[ -d /run/systemd/system ]] && manager=systemd
  cat >"$CONTAINERS_CONF.tmp" <<EOF
# Written by e2e/kind/lib.sh: podman's configuration for the kind clusters of e2e/kind (CONTAINERS_CONF).
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
cgroup_manager = "$manager"
events_logger = "file"
tmp_dir = "$PODMAN_RUN/libpod"

[network]
network_backend = "netavark"
network_config_dir = "$PODMAN_DIR/networks"
EOF
  cat >"$CONTAINERS_STORAGE_CONF.tmp" <<EOF
# Written by e2e/kind/lib.sh: podman's storage for e2e/kind (CONTAINERS_STORAGE_CONF).
[storage]
driver = "overlay"
graphroot = "$PODMAN_DIR/storage"
runroot = "$PODMAN_RUN/storage"
EOF
  local f
  for f in "$CONTAINERS_CONF" "$CONTAINERS_STORAGE_CONF"; do
    if cmp -s "$f.tmp" "$f"; then rm -f "$f.tmp"; else mv "$f.tmp" "$f"; fi
  done
  # The host paths rootful podman uses whatever its configuration: containers/image's blob-info cache, netavark's
  # run dir (its IPAM database and aardvark-dns's configuration, shared by every rootful podman), the cgroup
  # parent of the containers (cgroupfs). Those missing before podman first ran for e2e/kind are recorded, once:
  # down.sh removes them (what is in them, podman's, when no podman container runs on the machine).
  if [[ ! -f $PODMAN_DIR/host-paths ]]; then
    local p
    for p in "${PODMAN_HOST_PATHS[@]}"; do
      [[ -e $p ]] || echo "$p"
    done >"$PODMAN_DIR/host-paths.tmp"
    compgen -G "/sys/fs/cgroup/*/libpod_parent" >/dev/null || [[ -e /sys/fs/cgroup/libpod_parent ]] ||
      echo libpod_parent >>"$PODMAN_DIR/host-paths.tmp"
    mv "$PODMAN_DIR/host-paths.tmp" "$PODMAN_DIR/host-paths"
  fi
}
# (Deepest first: down.sh removes them in this order.)
PODMAN_HOST_PATHS=(/var/lib/containers/cache /var/lib/containers /run/containers/networks /run/containers)

# kind_nodes: the names of the cluster's node containers.
kind_nodes() { "$KIND" get nodes --name "$KIND_CLUSTER" 2>/dev/null; }
# kind_exists: whether kind knows the cluster (its containers exist).
kind_exists() { [[ -x $KIND ]] && grep -qx "$KIND_CLUSTER" <<<"$("$KIND" get clusters 2>/dev/null)"; }

kc() { "$SEALSTACK_K8S_BIN/kubectl" --kubeconfig="$KIND_KUBECONFIG" "$@"; }

# --- OCI archives --------------------------------------------------------------------------------------------
# Rootfs $1 gets what every image of ours has (as e2e/cluster/images.sh's base_rootfs): users, nsswitch, CA
# certificates, /tmp.
base_files() {
  local r=$1
  install -d -m 0755 "$r"/{etc,usr/local/bin,var,root}
  install -d -m 1777 "$r/tmp" "$r/var/tmp"
  printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' \
    >"$r/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$r/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$r/etc/nsswitch.conf"
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
}

# pack ROOTFS ARCHIVE UMOCI-CONFIG-ARGS...: ROOTFS as a one-layer OCI image in the layout archive ARCHIVE
# (umoci, no daemon); the rootfs is removed.
pack() {
  local r=$1 archive=$2; shift 2
  local w=$r.oci
  rm -rf "$w" "$r.bundle"
  umoci init --layout "$w"
  umoci new --image "$w:latest"
  umoci unpack --image "$w:latest" "$r.bundle" >/dev/null
  cp -a "$r/." "$r.bundle/rootfs/"
  umoci repack --image "$w:latest" "$r.bundle"
  umoci config --image "$w:latest" --history.created_by "e2e/kind/$(basename "$0")" "$@"
  umoci gc --layout "$w"
  tar -C "$w" -cf "$archive.tmp" .
  mv "$archive.tmp" "$archive"
  rm -rf "$w" "$r.bundle" "$r"
}

# name_archive SRC DST NAME...: copies the OCI layout archive SRC to DST with its image named NAME... (full
# references, e.g. registry.k8s.io/pause:3.10.1): `ctr images import` (kind's image loading, the node image's
# preloading) takes the name from the index's io.containerd.image.name annotation. SRC holds one image.
name_archive() {
  local src=$1 dst=$2; shift 2
  python3 - "$src" "$dst.tmp" "$@" <<'PY'
import io, json, sys, tarfile
src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
    for member in tin:
        if member.name.lstrip("./") == "index.json":
            index = json.load(tin.extractfile(member))
            assert len(index["manifests"]) == 1, "one image per archive"
            manifest = index["manifests"][0]
            index["manifests"] = [
                dict(manifest, annotations={"io.containerd.image.name": n,
                                            "org.opencontainers.image.ref.name": n.rsplit(":", 1)[1]})
                for n in names]
            data = json.dumps(index).encode()
            member.size = len(data)
            tout.addfile(member, io.BytesIO(data))
        else:
            tout.addfile(member, tin.extractfile(member) if member.isfile() else None)
PY
  mv "$dst.tmp" "$dst"
}
