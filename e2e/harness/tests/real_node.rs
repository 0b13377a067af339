//! Pods that really run: the local cluster's real node (kubelet + containerd, e2e/cluster/node.sh)
//! runs the devnet image built without a registry (e2e/cluster/images.sh). The container's log
//! comes back through the API server and the kubelet, and its JSON-RPC API answers on the pod IP.
//! The node's network services (kube-proxy, CoreDNS): a pod reaches the API server with its
//! in-cluster config, and pods and the host reach a pod through a Service (by DNS name from pods).

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, LogParams, PostParams};
use sealstack_chain::{ApiInfo, ConnectOptions, FullNodeClient, Node};
use sealstack_e2e::{Cluster, REAL_NODE_LABEL, install_crds, wait_for};
use serde_json::{Value, json};

/// The devnet image, imported into the node's containerd by `e2e/cluster/images.sh devnet`.
fn devnet_image() -> String {
    std::env::var("SEALSTACK_E2E_DEVNET_IMAGE").unwrap_or_else(|_| "sealstack/devnet:dev".into())
}

/// The operator image (`images.sh --debug operator`, imported by e2e/cluster/test.sh).
fn operator_image() -> String {
    std::env::var("SEALSTACK_E2E_OPERATOR_IMAGE").unwrap_or_else(|_| "sealstack/operator:dev".into())
}

/// The network test helper's image (`e2e/cluster/netcheck`, imported by `images.sh netcheck`).
fn netcheck_image() -> String {
    std::env::var("SEALSTACK_E2E_NETCHECK_IMAGE").unwrap_or_else(|_| "sealstack/netcheck:dev".into())
}

/// A pod pinned to the real node: its nodeSelector and the toleration of its taint. The default
/// dnsPolicy (ClusterFirst): the node's CoreDNS.
fn real_pod(name: &str, node: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["nodeSelector"] = json!({REAL_NODE_LABEL: "true", "kubernetes.io/hostname": node});
    spec["tolerations"] = json!([{"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}]);
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

/// Runs pod `name` whose containers run `netcheck` with the given args (to completion, in
/// order of the list, as init containers but the last) and returns each container's JSON line.
async fn run_netcheck(pods: &Api<Pod>, node: &str, name: &str, checks: &[(&str, Vec<String>)]) -> Vec<Value> {
    let container = |(c, args): &(&str, Vec<String>)| {
        json!({"name": c, "image": netcheck_image(), "imagePullPolicy": "IfNotPresent", "args": args,
               "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true,
                                   "allowPrivilegeEscalation": false}})
    };
    let (last, first) = checks.split_last().expect("a check");
    let pod = real_pod(
        name,
        node,
        json!({
            "restartPolicy": "Never",
            "initContainers": first.iter().map(container).collect::<Vec<_>>(),
            "containers": [container(last)],
        }),
    );
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let done = wait_for(&format!("pod {name} to complete"), Duration::from_secs(120), || async {
        let pod = pods.get(name).await?;
        Ok(matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")).then_some(pod))
    })
    .await
    .unwrap();
    let mut out = Vec::new();
    for (c, args) in checks {
        let log = pods.logs(name, &LogParams { container: Some(c.to_string()), ..LogParams::default() }).await;
        let log = log.unwrap_or_else(|e| format!("(no log: {e})"));
        let line = log.lines().rev().find(|l| l.starts_with('{'));
        let value = line.and_then(|l| serde_json::from_str::<Value>(l).ok());
        out.push(
            value.unwrap_or_else(|| panic!("netcheck {args:?} in {name}/{c} failed: {log}\npod: {}", describe(&done))),
        );
    }
    assert_eq!(done.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded"), "{}", describe(&done));
    out
}

/// Creates the devnet pod `name` (label app=`name`) and waits until it is Ready; returns the
/// API info it printed (address 0.0.0.0).
async fn start_devnet(pods: &Api<Pod>, node: &str, name: &str) -> (Pod, String) {
    let mut pod = real_pod(
        name,
        node,
        json!({
            "containers": [{
                "name": "devnet", "image": devnet_image(), "imagePullPolicy": "IfNotPresent",
                "args": ["run", "--listen", "0.0.0.0:1234", "--block-time-ms", "200"],
                "ports": [{"name": "api", "containerPort": 1234}],
                "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true,
                                    "allowPrivilegeEscalation": false},
                "readinessProbe": {"tcpSocket": {"port": "api"}, "periodSeconds": 1},
                "volumeMounts": [{"name": "repo", "mountPath": "/devnet"}],
            }],
            "volumes": [{"name": "repo", "emptyDir": {}}],
        }),
    );
    pod.metadata.labels = Some([("app".to_string(), name.to_string())].into());
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let running =
        wait_for(&format!("the devnet pod {name} Ready on the real node"), Duration::from_secs(120), || async {
            let pod = pods.get(name).await?;
            let status = pod.status.clone().unwrap_or_default();
            anyhow::ensure!(
                !matches!(status.phase.as_deref(), Some("Failed" | "Succeeded")),
                "devnet pod ended: {}",
                describe(&pod)
            );
            let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
            Ok(ready.then_some(pod))
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let log = wait_for("the devnet's FULLNODE_API_INFO in its log", Duration::from_secs(30), || async {
        let log = pods.logs(name, &LogParams::default()).await?;
        Ok(log.contains("FULLNODE_API_INFO=").then_some(log))
    })
    .await
    .unwrap();
    let api_info = log.lines().find_map(|l| l.strip_prefix("FULLNODE_API_INFO=")).expect("FULLNODE_API_INFO line");
    (running, api_info.to_string())
}

/// The pod's phase, conditions and container states, for failure messages.
fn describe(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    format!(
        "phase {:?}, conditions {:?}, containers {:?}",
        status.phase,
        status.conditions.unwrap_or_default().iter().map(|c| (&c.type_, &c.status, &c.reason)).collect::<Vec<_>>(),
        status.container_statuses.unwrap_or_default().iter().map(|c| &c.state).collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn the_devnet_runs_as_a_pod_on_the_real_node_and_answers_on_its_ip() {
    let Some(cluster) = Cluster::connect().await else { return };
    let Some(node) = cluster.real_node().await else { return };
    let ns = cluster.namespace("real-devnet").await.unwrap();
    let pods = Api::<Pod>::namespaced(cluster.client(), ns.name());

    // As a hardened workload would run it: non-root (the image's user), read-only root file
    // system, the chain repo on an emptyDir; kubelet probes the API port.
    let (running, api_info) = start_devnet(&pods, &node, "devnet").await;
    assert_eq!(running.spec.as_ref().and_then(|s| s.node_name.as_deref()), Some(node.as_str()));
    let status = running.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let ip = status.pod_ip.expect("a pod IP from the CNI bridge");
    let container = &status.container_statuses.unwrap()[0];
    assert!(
        container.container_id.as_deref().is_some_and(|id| id.starts_with("containerd://")),
        "a real container: {:?}",
        container.container_id
    );

    // The log, through the API server and the kubelet: the devnet prints its API info first.
    let log = pods.logs("devnet", &LogParams::default()).await.unwrap();
    assert!(log.contains("devnet serving the Lotus API"), "log: {log}");
    let api_info = api_info.replace("0.0.0.0", &ip);

    // Its JSON-RPC API on the pod IP, from this host, with the admin token it printed; epochs pass.
    let info = ApiInfo::parse(&api_info).unwrap();
    let chain = Node::connect(&info, &ConnectOptions::default()).await.unwrap();
    assert_eq!(chain.version().agent, "sealstack-devnet");
    chain.expect_network("sealstack-devnet").await.unwrap();
    let first = chain.api().chain_head().await.unwrap().height;
    wait_for("the devnet's chain to advance", Duration::from_secs(30), || async {
        Ok((chain.api().chain_head().await?.height > first).then_some(()))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_failing_container_on_the_real_node_reports_its_real_exit_code() {
    let Some(cluster) = Cluster::connect().await else { return };
    let Some(node) = cluster.real_node().await else { return };
    let ns = cluster.namespace("real-exit").await.unwrap();
    let pods = Api::<Pod>::namespaced(cluster.client(), ns.name());

    // An unknown flag: clap prints an error and exits with status 2. kwok would call it Running.
    let pod = real_pod(
        "bad-flag",
        &node,
        json!({
            "restartPolicy": "Never",
            "containers": [{"name": "devnet", "image": devnet_image(), "imagePullPolicy": "IfNotPresent",
                            "args": ["--no-such-flag"]}],
        }),
    );
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let pod = wait_for("the pod to fail", Duration::from_secs(120), || async {
        let pod = pods.get("bad-flag").await?;
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
        anyhow::ensure!(phase.as_deref() != Some("Succeeded"), "a bad flag succeeded: {}", describe(&pod));
        Ok((phase.as_deref() == Some("Failed")).then_some(pod))
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let container = &pod.status.unwrap().container_statuses.unwrap()[0];
    let terminated = container.state.as_ref().and_then(|s| s.terminated.as_ref()).expect("terminated state");
    assert_eq!(terminated.exit_code, 2, "{terminated:?}");
    let log = pods.logs("bad-flag", &LogParams::default()).await.unwrap();
    assert!(log.contains("--no-such-flag"), "log: {log}");
}

#[tokio::test]
async fn a_pod_reaches_the_api_server_with_its_in_cluster_config() {
    let Some(cluster) = Cluster::connect().await else { return };
    let Some(node) = cluster.real_node().await else { return };
    let ns = cluster.namespace("real-api").await.unwrap();
    let pods = Api::<Pod>::namespaced(cluster.client(), ns.name());

    // As client-go and kube-rs do in a pod: KUBERNETES_SERVICE_HOST/PORT (the `kubernetes`
    // Service's ClusterIP, routed by kube-proxy to the API server on the node IP), the service
    // account's token, and its CA only (the serving certificate must name the address used);
    // then by the Service's DNS name (CoreDNS); and the name's record itself.
    let out = run_netcheck(
        &pods,
        &node,
        "api",
        &[
            ("env", vec!["api".into()]),
            ("dns", vec!["api".into(), "https://kubernetes.default.svc".into()]),
            ("resolve", vec!["resolve".into(), "kubernetes.default.svc.cluster.local".into()]),
        ],
    )
    .await;
    let who = format!("system:serviceaccount:{}:default", ns.name());
    let services = Api::<Service>::namespaced(cluster.client(), "default");
    let ip = services.get("kubernetes").await.unwrap().spec.unwrap().cluster_ip.unwrap();
    assert_eq!(out[0]["username"], who, "{out:?}");
    assert_eq!(out[0]["server"], format!("https://{ip}:443"), "{out:?}");
    assert!(out[0]["gitVersion"].as_str().is_some_and(|v| v.starts_with("v1.")), "{out:?}");
    assert_eq!(out[1]["username"], who, "{out:?}");
    assert_eq!(out[2]["kubernetes.default.svc.cluster.local"], json!([ip]), "{out:?}");
}

#[tokio::test]
async fn pods_and_the_host_reach_a_pod_through_its_service() {
    let Some(cluster) = Cluster::connect().await else { return };
    let Some(node) = cluster.real_node().await else { return };
    let ns = cluster.namespace("real-svc").await.unwrap();
    let pods = Api::<Pod>::namespaced(cluster.client(), ns.name());
    let services = Api::<Service>::namespaced(cluster.client(), ns.name());

    // The devnet behind a ClusterIP Service on another port than its own.
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "chain"},
        "spec": {"selector": {"app": "devnet"}, "ports": [{"name": "api", "port": 4321, "targetPort": "api"}]},
    }))
    .unwrap();
    let service = services.create(&PostParams::default(), &service).await.unwrap();
    let cluster_ip = service.spec.unwrap().cluster_ip.expect("a ClusterIP");
    let (_, api_info) = start_devnet(&pods, &node, "devnet").await;

    // From another pod, by the Service's names (full, and short through the search path), an
    // unauthenticated JSON-RPC call (read permission) to the devnet.
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"Filecoin.Version","params":[]}"#.to_string();
    let full = format!("http://chain.{}.svc.cluster.local:4321/rpc/v1", ns.name());
    let out = run_netcheck(
        &pods,
        &node,
        "client",
        &[
            ("resolve", vec!["resolve".into(), format!("chain.{}.svc.cluster.local", ns.name())]),
            ("full-name", vec!["http".into(), full, call.clone()]),
            ("short-name", vec!["http".into(), "http://chain:4321/rpc/v1".into(), call]),
        ],
    )
    .await;
    assert_eq!(out[0][format!("chain.{}.svc.cluster.local", ns.name())], json!([cluster_ip]), "{out:?}");
    for o in &out[1..] {
        assert_eq!(o["status"], 200, "{out:?}");
        assert!(o["body"].as_str().is_some_and(|b| b.contains("sealstack-devnet")), "{out:?}");
    }

    // From this host, on the ClusterIP (kube-proxy's rules in the host's OUTPUT chain).
    let info = ApiInfo::parse(&api_info.replace("0.0.0.0:1234", &format!("{cluster_ip}:4321"))).unwrap();
    let chain = Node::connect(&info, &ConnectOptions::default()).await.unwrap();
    assert_eq!(chain.version().agent, "sealstack-devnet");
}

#[tokio::test]
async fn the_operator_runs_as_a_pod_with_its_in_cluster_config() {
    let Some(cluster) = Cluster::connect().await else { return };
    let Some(node) = cluster.real_node().await else { return };
    install_crds(&cluster.client()).await.unwrap();
    let ns = cluster.namespace("real-operator").await.unwrap();
    let client = cluster.client();
    let pods = Api::<Pod>::namespaced(client.clone(), ns.name());

    // Everything in its own namespace (deleted with it), nothing cluster-wide: the operator
    // watches only this namespace (--namespace).
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "operator"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    }))
    .unwrap();
    Api::<Role>::namespaced(client.clone(), ns.name()).create(&PostParams::default(), &role).await.unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "operator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "operator"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": ns.name()}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), ns.name()).create(&PostParams::default(), &binding).await.unwrap();

    // The operator binary as the chart runs it: kube-rs's in-cluster config (the `kubernetes`
    // Service's ClusterIP, the token, the CA); Ready once its controllers watch.
    let pod = real_pod(
        "operator",
        &node,
        json!({
            "containers": [{
                "name": "operator", "image": operator_image(), "imagePullPolicy": "IfNotPresent",
                "args": ["run", "--namespace", ns.name()],
                "securityContext": {"runAsNonRoot": true, "readOnlyRootFilesystem": true,
                                    "allowPrivilegeEscalation": false},
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 1},
            }],
        }),
    );
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait_for("the operator pod Ready", Duration::from_secs(120), || async {
        let pod = pods.get("operator").await?;
        let status = pod.status.clone().unwrap_or_default();
        anyhow::ensure!(
            !matches!(status.phase.as_deref(), Some("Failed" | "Succeeded")),
            "operator pod ended: {}",
            describe(&pod)
        );
        let ready = status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
        Ok(ready.then_some(()))
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));

    // It took its leader lease through the API server.
    let lease = Api::<Lease>::namespaced(client, ns.name()).get("sealstack-operator").await.unwrap();
    let holder = lease.spec.and_then(|s| s.holder_identity);
    assert!(holder.is_some_and(|h| !h.is_empty()), "no holder of the operator's lease");
    let log = pods.logs("operator", &LogParams::default()).await.unwrap();
    assert!(log.contains("leading"), "log: {log}");
}
