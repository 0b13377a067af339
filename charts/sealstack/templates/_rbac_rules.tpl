{{- /*
The operator's RBAC rules, each with the reason it is needed: generated from operator/src/rbac.rs by
`sealstack-operator rbac --chart-rules`, do not edit (operator/tests/chart_rbac.rs fails when they differ).
templates/rbac.yaml grants them: all in one ClusterRole, or with watchNamespaces the first group in a Role
in each watched namespace, the second in the ClusterRole and the third in a Role in the release namespace.
*/}}
{{- define "sealstack.rbac.rules.watchedNamespaces" }}
  # watch the resources the controllers reconcile
  - apiGroups: ["sealstack.io"]
    resources: ["paramcaches", "miners", "sealingworkers"]
    verbs: ["get", "list", "watch"]
  # write their status (server-side apply of .status)
  - apiGroups: ["sealstack.io"]
    resources: ["paramcaches/status", "miners/status", "sealingworkers/status"]
    verbs: ["get", "patch", "update"]
  # set the replicas of a pool that sizes itself (spec.autoscale), as an HPA does
  - apiGroups: ["sealstack.io"]
    resources: ["sealingworkers/scale"]
    verbs: ["patch"]
  # ParamCache fetch Jobs: create, follow, replace failed or outdated ones
  - apiGroups: ["batch"]
    resources: ["jobs"]
    verbs: ["get", "list", "watch", "create", "patch", "delete"]
  # list the fetch Job's pods; watch the miner runtime pods (the node a NodePort miner announces)
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["list", "watch"]
  # read the fetch Job's JSON progress lines
  - apiGroups: [""]
    resources: ["pods/log"]
    verbs: ["get"]
  # parameter, sector and long-term store volumes (never deleted: they hold data)
  - apiGroups: [""]
    resources: ["persistentvolumeclaims"]
    verbs: ["get", "list", "watch", "create", "patch"]
  # custom parameter manifests
  - apiGroups: [""]
    resources: ["configmaps"]
    verbs: ["get", "list", "watch"]
  # make and watch the miner's identity and API Secrets; watch others' metadata, read the node's API info
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get", "list", "watch", "create"]
  # the miner's p2p and API Services, and their NodePort or LoadBalancer address
  - apiGroups: [""]
    resources: ["services"]
    verbs: ["get", "list", "watch", "create", "patch"]
  # the miner runtime and the worker pools
  - apiGroups: ["apps"]
    resources: ["statefulsets"]
    verbs: ["get", "list", "watch", "create", "patch"]
  # the deadline gate: budgets of miner runtimes and PoSt pools, closed while a deadline is being proven
  - apiGroups: ["policy"]
    resources: ["poddisruptionbudgets"]
    verbs: ["get", "list", "watch", "create", "patch", "delete"]
  # Events on reconciled objects (chain messages, failed fetches)
  - apiGroups: ["events.k8s.io"]
    resources: ["events"]
    verbs: ["create", "patch"]
{{- end }}
{{- define "sealstack.rbac.rules.cluster" }}
  # watch the Nodes' addresses: a NodePort miner announces its runtime node's address
  - apiGroups: [""]
    resources: ["nodes"]
    verbs: ["list", "watch"]
{{- end }}
{{- define "sealstack.rbac.rules.operatorNamespace" }}
  # leader election: only the replica holding the Lease acts
  - apiGroups: ["coordination.k8s.io"]
    resources: ["leases"]
    verbs: ["get", "create", "update", "patch"]
{{- end }}
