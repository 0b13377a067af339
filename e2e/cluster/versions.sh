# Pinned component versions for the local cluster (sourced by build.sh, up.sh, down.sh).
# They must match the go.mod files in ./modules (build.sh builds what those pin).
KUBE_VERSION=1.34.4
ETCD_VERSION=3.6.16
KWOK_VERSION=v0.7.0
HELM_VERSION=v3.21.4
# CoreDNS is not part of the bin dir's key (adding it would rebuild every binary): build.sh
# rebuilds the coredns binary when its -version does not report this one.
COREDNS_VERSION=v1.14.7
SEALSTACK_K8S_KEY="k8s-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION"
SEALSTACK_K8S_BIN="${SEALSTACK_K8S_BIN:-$HOME/.cache/sealstack/k8s/$SEALSTACK_K8S_KEY/bin}"
SEALSTACK_CLUSTER_DIR="${SEALSTACK_CLUSTER_DIR:-$HOME/.cache/sealstack/cluster}"
