#!/usr/bin/env bash
# Starts a local Kubernetes control plane on 127.0.0.1 (etcd, kube-apiserver with RBAC,
# kube-controller-manager, kube-scheduler) plus kwok faking 3 nodes: sealstack-gpu-0/1
# (nvidia.com/gpu: 8) and sealstack-cpu-0, and a real node sealstack-node (kubelet + containerd,
# node.sh; SEALSTACK_REAL_NODE=0 leaves it out, 1 requires it, auto (default) starts it where
# the host allows). Binaries come from build.sh (run it first).
# Idempotent: a healthy running cluster is reused. Prints the kubeconfig path (last line).
# State in $SEALSTACK_CLUSTER_DIR (default ~/.cache/sealstack/cluster), logs in its logs/. With
# SEALSTACK_CLUSTER_NETNS, the cluster runs in that network namespace (netns.sh), made when missing; with
# SEALSTACK_CLUSTER_PURPOSE=e2e it is marked as a test cluster (e2e-env.sh sets both for the test suite).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_cluster_pkgs
enter_cluster_netns --create "$@"

for b in "${COMPONENTS[@]}" kubectl; do
  [[ -x $BIN/$b ]] || die "$BIN/$b missing: run e2e/cluster/build.sh first"
done
[[ -s $BIN/kwok-stages.yaml ]] || die "$BIN/kwok-stages.yaml missing: run e2e/cluster/build.sh"

all_alive() { local c; for c in "${COMPONENTS[@]}"; do component_alive "$c" || return 1; done; }

if all_alive && kc get --raw=/readyz >/dev/null 2>&1; then
  log "reusing the running cluster in $D"
  [[ $REAL_NODE == 0 ]] || "$E2E_CLUSTER_HERE/node.sh" up
  echo "$KUBECONFIG_PATH"
  exit 0
fi
if compgen -G "$PIDS/*.pid" >/dev/null; then
  log "a previous cluster is partly running: stopping it first"
  "$E2E_CLUSTER_HERE/down.sh"
fi

mkdir -p "$PKI" "$LOGS" "$PIDS"

# --- PKI: one CA, apiserver serving cert, admin client cert (system:masters), SA keys ---
gen_pki() {
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=sealstack-e2e-ca" \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  printf '%s\n' \
    "subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,IP:127.0.0.1,IP:$KUBERNETES_SVC_IP,IP:$NODE_IP" \
    "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment" >"$PKI/server.ext"
  printf '%s\n' "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature,keyEncipherment" >"$PKI/client.ext"
  sign() { # name subject extfile
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
    openssl x509 -req -sha256 -days 3650 -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
      -CAcreateserial -extfile "$3" -out "$PKI/$1.crt" 2>/dev/null
  }
  sign apiserver "/CN=kube-apiserver" "$PKI/server.ext"
  sign admin "/O=system:masters/CN=sealstack-admin" "$PKI/client.ext"
  # The API server's identity towards kubelets (logs, exec, port-forward).
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$PKI/client.ext"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  b64() { base64 -w0 <"$1"; }
  cat >"$KUBECONFIG_PATH.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sealstack-e2e
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: sealstack-admin
  user:
    client-certificate-data: $(b64 "$PKI/admin.crt")
    client-key-data: $(b64 "$PKI/admin.key")
contexts:
- name: sealstack-e2e
  context: {cluster: sealstack-e2e, user: sealstack-admin}
current-context: sealstack-e2e
EOF
  chmod 600 "$KUBECONFIG_PATH.tmp" "$PKI"/*.key
  mv "$KUBECONFIG_PATH.tmp" "$KUBECONFIG_PATH"
}
# (Regenerated when the serving certificate does not name the node IP, e.g. after a port base change.)
if ! [[ -s $KUBECONFIG_PATH && -s $PKI/sa.pub && -s $PKI/apiserver-kubelet-client.crt ]] ||
  ! openssl x509 -in "$PKI/apiserver.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:$NODE_IP\b"; then
  gen_pki
fi

# Starts component $1 as its own session (survives this script), logs to logs/$1.log.
start() {
  local name=$1; shift
  log "starting $name"
  setsid "$BIN/$name" "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  echo $! >"$PIDS/$name.pid"
}
check_port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || die "127.0.0.1:$1 is in use (set SEALSTACK_CLUSTER_PORT_BASE)"
}
for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT"; do
  check_port_free "$p"
done
# die_with_log MESSAGE COMPONENT: dies with MESSAGE and the last lines of the component's log.
die_with_log() { log "$1; last lines of $LOGS/$2.log:"; tail -n 30 "$LOGS/$2.log" >&2 || true; exit 1; }

# --- etcd (fresh data each start; no fsync: this is a throw-away test store) ---
rm -rf "$D/etcd"
start etcd --name=sealstack-e2e --data-dir="$D/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="sealstack-e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
  --listen-metrics-urls="" --unsafe-no-fsync=true --quota-backend-bytes=2147483648
wait_for 60 "etcd healthy" curl -sf "http://127.0.0.1:$ETCD_PORT/health" || die_with_log "etcd not healthy" etcd

# --- kube-apiserver ---
# Alone, it serves on loopback only, and no endpoints back the `kubernetes` Service. With the
# real node, its pods must reach it too: it listens on every address and advertises the node
# IP (the bridge's), so the `kubernetes` Service (ClusterIP $KUBERNETES_SVC_IP:443, routed by
# kube-proxy on the node) has $NODE_IP:$APISERVER_PORT as its endpoint, kept by the API server.
if [[ $REAL_NODE == 0 ]]; then
  api_net=(--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --endpoint-reconciler-type=none)
else
  api_net=(--bind-address=0.0.0.0 --advertise-address="$NODE_IP" --endpoint-reconciler-type=lease)
fi
start kube-apiserver --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  "${api_net[@]}" --secure-port="$APISERVER_PORT" \
  --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
  --authorization-mode=Node,RBAC
wait_for 120 "kube-apiserver ready" kc get --raw=/readyz || die_with_log "kube-apiserver not ready" kube-apiserver

# --- kube-controller-manager (GC, Job, Deployment, namespace, serviceaccount, ...) ---
start kube-controller-manager --kubeconfig="$KUBECONFIG_PATH" \
  --authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false --controllers='*' \
  --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --use-service-account-credentials=false
start kube-scheduler --kubeconfig="$KUBECONFIG_PATH" \
  --authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --leader-elect=false
wait_for 60 "kube-controller-manager healthy" curl -skf "https://127.0.0.1:$KCM_PORT/healthz" ||
  die_with_log "kube-controller-manager not healthy" kube-controller-manager
wait_for 60 "kube-scheduler healthy" curl -skf "https://127.0.0.1:$SCHED_PORT/healthz" ||
  die_with_log "kube-scheduler not healthy" kube-scheduler

# --- kwok: fake kubelets for nodes annotated kwok.x-k8s.io/node=fake ---
start kwok --kubeconfig="$KUBECONFIG_PATH" --config="$BIN/kwok-stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr=10.244.0.0/16 --node-ip=127.0.0.1 --node-lease-duration-seconds=40 \
  --server-address="127.0.0.1:$KWOK_PORT"
wait_for 30 "kwok healthy" curl -sf "http://127.0.0.1:$KWOK_PORT/healthz" || die_with_log "kwok not healthy" kwok

kc apply -f "$E2E_CLUSTER_HERE/nodes.yaml" >/dev/null
# The test suite's mark (see lib.sh): the harness refuses clusters without it.
[[ $CLUSTER_PURPOSE != e2e ]] || mark_e2e_cluster
wait_for 60 "the fake nodes Ready" kc wait --for=condition=Ready node --all --timeout=5s ||
  die_with_log "fake nodes not Ready" kwok
# Pods are refused until the serviceaccount controller made the "default" ServiceAccount.
wait_for 60 "the default ServiceAccount" kc -n default get serviceaccount default ||
  die_with_log "no default ServiceAccount" kube-controller-manager

# --- the real node: kubelet + containerd (node.sh) ---
[[ $REAL_NODE == 0 ]] || "$E2E_CLUSTER_HERE/node.sh" up

log "cluster ready (v$KUBE_VERSION): $(kc get nodes --no-headers | awk '{print $1}' | paste -sd' ')"
log "logs: $LOGS"
echo "$KUBECONFIG_PATH"
