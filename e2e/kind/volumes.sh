#!/usr/bin/env bash
# Storage for the kind cluster's real node, as e2e/cluster/volumes.sh makes it for the local cluster's (same
# arguments, same class, same volumes): the StorageClass `sealstack-local` (no provisioner; claims wait for their
# first pod) and local PersistentVolumes on the real node, each a directory inside its container
# ($KIND_VOLUMES_DIR, on the node's /var volume: they go with the node).
#
#   e2e/kind/volumes.sh [--default] [count]   (default count: 8)
#   e2e/kind/volumes.sh --move FROM TO       moves a file inside a volume (a lost disk, in a test)
#
# Keeps `count` volumes Available: a Released one (its claim deleted; the policy is Retain) is wiped and offered
# again. --default marks the class as the cluster's default. Idempotent; needs the cluster (up.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ${1:-} == --move ]]; then
  [[ $# -eq 3 ]] || die "volumes.sh --move FROM TO"
  engine exec "$KIND_REAL_NODE" mv -- "$2" "$3"
  exit
fi

CLASS=sealstack-local
make_default=false count=8
for a in "$@"; do
  case $a in
    --default) make_default=true ;;
    [0-9]*) count=$a ;;
    *) die "volumes.sh: unknown argument $a" ;;
  esac
done
kc get node "$KIND_REAL_NODE" >/dev/null 2>&1 || die "no real node $KIND_REAL_NODE: run e2e/kind/up.sh first"

kc apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $CLASS
  annotations:
    storageclass.kubernetes.io/is-default-class: "$make_default"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF

for pv in $(kc get pv -l "sealstack.io/local-volume=true" \
  -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}'); do
  log "recycling released volume $pv"
  kc delete pv "$pv" --wait=true >/dev/null
  engine exec "$KIND_REAL_NODE" rm -rf "${KIND_VOLUMES_DIR:?}/$pv"
done

for i in $(seq 0 $((count - 1))); do
  pv=$CLASS-$i
  kc get pv "$pv" >/dev/null 2>&1 && continue
  dir=$KIND_VOLUMES_DIR/$pv
  # World-writable: pods run as non-root users, and local volumes are not chowned to fsGroup.
  engine exec "$KIND_REAL_NODE" install -d -m 0777 "$dir"
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  labels: {sealstack.io/local-volume: "true"}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce, ReadOnlyMany, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: $CLASS
  local: {path: $dir}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [$KIND_REAL_NODE]}
EOF
done
log "storage class $CLASS (default: $make_default), $count local volumes on $KIND_REAL_NODE"
