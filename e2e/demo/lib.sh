# The demo world on the local cluster, shared by scripts/demo.sh (the main job) and e2e/demo/test.sh (its e2e
# test). Sourced after scripts/lib.sh, with the cluster up (e2e/cluster/up.sh) and these set:
#   K8S         directory of the pinned kubectl and helm
#   KUBECONFIG  the cluster's kubeconfig (exported)
#   PARAMS      locally generated 2KiB proof parameters (scripts/params.sh)
#
# Everything runs as pods on the cluster's real node (sealstack-node): the devnet, a parameter gateway serving
# $PARAMS, the operator (the Helm chart) and what it makes for the samples. Pods reach each other through
# Services and cluster DNS; the node's local volumes (e2e/cluster/volumes.sh) back every claim.

DEMO_NS=${SEALSTACK_DEMO_NAMESPACE:-sealstack-demo}
OPERATOR_NS=sealstack-system
RELEASE=sealstack
MINER=devnet-miner
RUNTIME_POD=$MINER-runtime-0
# scripts/log.sh's helpers (log, fail, wait_for), as the demo uses them: its lines start with ---, waits try
# every 2 s.
# shellcheck disable=SC2034 # (read by scripts/log.sh)
LOG_TAG='---' WAIT_EVERY=2

k() { "$K8S/kubectl" "$@"; }
kd() { "$K8S/kubectl" -n "$DEMO_NS" "$@"; }
helm_() { "$K8S/helm" "$@"; }

# The placement every pod of the demo needs: the real node is tainted so that the fake (kwok) nodes' tests
# never land there.
REAL_NODE_PLACEMENT='
      nodeSelector: {sealstack.io/real-node: "true"}
      tolerations: [{key: sealstack.io/real-node, operator: Exists, effect: NoSchedule}]'

# The images the pods run, built from debug binaries (images.sh builds them) and imported into the node. The
# pods use the content tags, so that running the demo again after a change rolls them. SEALSTACK_IMAGES_SH names
# another script with images.sh's arguments and output (e2e/kind/images.sh: the kind cluster's nodes).
demo_images() {
  local lines
  lines=$("${SEALSTACK_IMAGES_SH:-$REPO_ROOT/e2e/cluster/images.sh}" --debug operator miner devnet) || return 1
  echo "$lines"
  OPERATOR_TAG=$(awk '$1 ~ /\/operator:/ {sub(/.*:/, "", $3); print $3}' <<<"$lines")
  MINER_TAG=$(awk '$1 ~ /\/miner:/ {sub(/.*:/, "", $3); print $3}' <<<"$lines")
  DEVNET_TAG=$(awk '$1 ~ /\/devnet:/ {sub(/.*:/, "", $3); print $3}' <<<"$lines")
  [[ -n $OPERATOR_TAG && -n $MINER_TAG && -n $DEVNET_TAG ]] || fail "no content tags from images.sh"
}

# The node's storage class as the default, so that the samples' claims (no class named) get local volumes.
# SEALSTACK_VOLUMES_SH names another script with volumes.sh's arguments (e2e/kind/volumes.sh: the kind node's).
demo_storage() {
  "${SEALSTACK_VOLUMES_SH:-$REPO_ROOT/e2e/cluster/volumes.sh}" --default 8
}

# The devnet as a pod with its chain on a claim, its Service, and the Secret `devnet-api` the sample Miner
# names (FULLNODE_API_INFO with the devnet's admin token and its Service's DNS name).
demo_devnet() {
  k create namespace "$DEMO_NS" --dry-run=client -o yaml | k apply -f - >/dev/null
  kd apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: devnet-chain}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: devnet}
spec:
  selector: {app: devnet}
  ports: [{name: api, port: 1234, targetPort: api}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: devnet}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: devnet}}
  template:
    metadata: {labels: {app: devnet}}
    spec:$REAL_NODE_PLACEMENT
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532}
      containers:
      - name: devnet
        image: docker.io/sealstack/devnet:$DEVNET_TAG
        imagePullPolicy: IfNotPresent
        # Epochs of 15 s: a won round leaves room for the 2KiB WinningPoSt (4 to 8 s on 2 busy cores) on the
        # worker pod, and for the daemon's own when the worker is late. 45-second deadlines (3 epochs), 4 of them a
        # proving period (a 3-minute "day", so a fault and its recovery show within minutes), a fault cutoff of 2
        # epochs, so that a declaration made while one deadline is open lands before the cutoff of one 2 or 3
        # deadlines on; the rest of the network holds 16 times the demo sector's power, so the Miner wins about
        # one round in 4 once its sector is proven (e2e/devnet/README.md names every scaled period).
        args: [run, --listen, "0.0.0.0:1234", --repo, /devnet/chain, --block-time-ms, "15000",
          --challenge-window, "3", --challenge-lookback, "1", --fault-declaration-cutoff, "2", --period-deadlines, "4",
          --pre-commit-challenge-delay, "2", --rest-of-network-power, "32768"]
        ports: [{name: api, containerPort: 1234}]
        readinessProbe: {tcpSocket: {port: api}, periodSeconds: 2}
        volumeMounts:
        - {name: chain, mountPath: /devnet}
        - {name: params, mountPath: /var/tmp/filecoin-proof-parameters, readOnly: true}
      volumes:
      - {name: chain, persistentVolumeClaim: {claimName: devnet-chain}}
      # Verifying keys of the locally generated parameters: the devnet verifies every proof for real.
      - {name: params, hostPath: {path: "$PARAMS", type: Directory}}
EOF
  wait_for 180 "the devnet pod Ready" kd rollout status deployment/devnet --timeout=5s || return 1
  local info=""
  wait_for 60 "the devnet's FULLNODE_API_INFO in its log" \
    bash -c "'$K8S/kubectl' -n '$DEMO_NS' logs deployment/devnet | grep -q '^FULLNODE_API_INFO='" || return 1
  # (awk reads the whole log: a reader that stops early would fail the pipeline with SIGPIPE.)
  info=$(kd logs deployment/devnet | awk '/^FULLNODE_API_INFO=/ && !seen {seen = 1; sub(/^[^=]*=/, ""); print}')
  DEVNET_TOKEN=${info%%:*}
  kd create secret generic devnet-api \
    --from-literal=FULLNODE_API_INFO="$DEVNET_TOKEN:/dns/devnet.$DEMO_NS.svc/tcp/1234/http" \
    --dry-run=client -o yaml | kd apply -f - >/dev/null
}

# devnet_call METHOD [PARAMS_JSON]: a Lotus JSON-RPC call to the devnet through its Service (kube-proxy routes
# ClusterIPs on this host too); prints the result.
devnet_call() {
  local ip
  ip=$(kd get service devnet -o jsonpath='{.spec.clusterIP}')

  # A Service just made can take kube-proxy a moment to route.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    curl -sf -m 5 -H "Authorization: Bearer $DEVNET_TOKEN" -H 'Content-Type: application/json' \
      -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"Filecoin.$1\",\"params\":${2:-[]}}" "http://$ip:1234/rpc/v0" |
      jq -ce '.result' && return 0
    sleep 1
  done
  fail "the devnet's $1 through its Service $ip:1234"
}

# The parameter gateway (`sealstack-miner params serve` over $PARAMS) and the ConfigMap `devnet-params` with its
# manifests, which the sample ParamCache fetches from.
demo_gateway() {
  kd create configmap devnet-params --from-file=parameters.json="$PARAMS/parameters.json" \
    --from-file=srs-inner-product.json="$PARAMS/srs-inner-product.json" --dry-run=client -o yaml |
    kd apply -f - >/dev/null
  kd apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: params-gateway}
spec:
  selector: {app: params-gateway}
  ports: [{name: http, port: 8090, targetPort: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: params-gateway}
spec:
  replicas: 1
  selector: {matchLabels: {app: params-gateway}}
  template:
    metadata: {labels: {app: params-gateway}}
    spec:$REAL_NODE_PLACEMENT
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
      containers:
      - name: gateway
        image: docker.io/sealstack/miner:$MINER_TAG
        imagePullPolicy: IfNotPresent
        args: [params, serve, /params, --listen, "0.0.0.0:8090"]
        ports: [{name: http, containerPort: 8090}]
        readinessProbe: {tcpSocket: {port: http}, periodSeconds: 2}
        volumeMounts: [{name: params, mountPath: /params, readOnly: true}]
      volumes:
      - {name: params, hostPath: {path: "$PARAMS", type: Directory}}
EOF
  wait_for 120 "the parameter gateway Ready" kd rollout status deployment/params-gateway --timeout=5s
}

# The chart, with the images built here and the operator on the real node. Extra arguments go to helm.
demo_install_chart() {
  helm_ upgrade --install "$RELEASE" "$REPO_ROOT/charts/sealstack" -n "$OPERATOR_NS" --create-namespace \
    -f "$REPO_ROOT/e2e/demo/values.yaml" --set image.tag="$OPERATOR_TAG" --set runtimeImage.tag="$MINER_TAG" \
    --wait --timeout 3m "$@" >/dev/null
}

demo_apply_samples() {
  kd apply -f "$REPO_ROOT/manifests/samples/" >/dev/null
}

# condition KIND NAME TYPE: prints the status of condition TYPE.
condition() {
  kd get "$1" "$2" -o jsonpath="{.status.conditions[?(@.type==\"$3\")].status}" 2>/dev/null
}
is_true() { [[ $(condition "$@") == True ]]; }

# sector_state N: the miner runtime's state of sector N (`sealstack-miner sectors status` in its pod).
sector_state() {
  kd exec "$RUNTIME_POD" -c miner -- sealstack-miner sectors status "$1" 2>/dev/null |
    awk '$1 == "Status:" {print $2; exit}'
}
is_proving() { [[ $(sector_state "$1") == Proving ]]; }

# has_mined: the Miner's status counts a block of its own in the chain (the operator scans the tipsets).
has_mined() {
  local mined
  mined=$(kd get miner "$MINER" -o jsonpath='{.status.mining.blocksMined}' 2>/dev/null)
  ((${mined:-0} >= 1))
}

# What the demo made, for people.
demo_report() {
  local actor
  actor=$(kd get miner "$MINER" -o jsonpath='{.status.actorAddress}')
  echo
  k get sealstack -n "$DEMO_NS" -o wide
  echo
  kd get pods,pvc,services -o wide
  echo
  echo "Miner $MINER: actor $actor, peer $(kd get miner "$MINER" -o jsonpath='{.status.peerId}')"
  echo "On-chain multiaddrs: $(kd get miner "$MINER" -o jsonpath='{.status.onChainMultiaddrs}')"
  echo "Conditions:"
  kd get miner "$MINER" \
    -o jsonpath='{range .status.conditions[*]}{"  "}{.type}={.status} ({.reason}): {.message}{"\n"}{end}'
  echo "Power, sectors and funds on chain (the Miner's status):"
  kd get miner "$MINER" -o jsonpath='{"  power: "}{.status.power}{"\n  sectors: "}{.status.sectors}{"\n  proving: "}{.status.proving}{"\n  balances: "}{.status.balances}{"\n  mining: "}{.status.mining}{"\n"}'
  echo "Sectors (sealstack-miner sectors list in $RUNTIME_POD):"
  kd exec "$RUNTIME_POD" -c miner -- sealstack-miner sectors list | sed 's/^/  /'
  echo "The miner as sealstack-miner info shows it in $RUNTIME_POD:"
  kd exec "$RUNTIME_POD" -c miner -- sealstack-miner info | sed 's/^/  /'
  echo "The devnet's view of $actor: $(devnet_call StateMinerPower "[\"$actor\",null]")"
}
