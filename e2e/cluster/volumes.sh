#!/usr/bin/env bash
# Storage for the real node: the StorageClass `sealstack-local` (no provisioner; claims wait for
# their first pod, then bind to a volume on that pod's node) and local PersistentVolumes on
# sealstack-node, each a directory under $SEALSTACK_CLUSTER_DIR/node/volumes.
#
#   e2e/cluster/volumes.sh [--default] [count]   (default count: 8)
#   e2e/cluster/volumes.sh --move FROM TO       moves a file inside a volume (a lost disk, in a test)
#
# Keeps `count` volumes Available: a Released one (its claim deleted; the policy is Retain, so
# nothing is lost while a claim exists) is wiped and offered again. --default marks the class as
# the cluster's default, so claims that name no class (the samples') use it. Idempotent; needs
# the real node (node.sh up). The directories go with the node (down.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
enter_cluster_netns "$@"

if [[ ${1:-} == --move ]]; then
  [[ $# -eq 3 ]] || die "volumes.sh --move FROM TO"
  mv -- "$2" "$3"
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
kc get node "$NODE_NAME" >/dev/null 2>&1 || die "no real node $NODE_NAME: run up.sh (with the real node) first"

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

# Released volumes: their data belonged to a deleted claim.
for pv in $(kc get pv -l "sealstack.io/local-volume=true" \
  -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}'); do
  log "recycling released volume $pv"
  kc delete pv "$pv" --wait=true >/dev/null
  rm -rf "${NODE_DIR:?}/volumes/$pv"
done

for i in $(seq 0 $((count - 1))); do
  pv=$CLASS-$i
  kc get pv "$pv" >/dev/null 2>&1 && continue
  dir=$NODE_DIR/volumes/$pv
  # World-writable: pods run as non-root users, and local volumes are not chowned to fsGroup.
  install -d -m 0777 "$dir"
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
        - {key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}
EOF
done
log "storage class $CLASS (default: $make_default), $count local volumes on $NODE_NAME"
