//! Pods that really run: the local cluster's real node (kubelet + containerd, e2e/cluster/node.sh)
//! runs the devnet image built without a registry (e2e/cluster/images.sh). The container's log
//! comes back through the API server and the kubelet, and its JSON-RPC API answers on the pod IP.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams, PostParams};
use sealstack_chain::{ApiInfo, ConnectOptions, FullNodeClient, Node};
use sealstack_e2e::{Cluster, REAL_NODE_LABEL, wait_for};
use serde_json::{Value, json};

/// The devnet image, imported into the node's containerd by `e2e/cluster/images.sh devnet`.
fn devnet_image() -> String {
    std::env::var("SEALSTACK_E2E_DEVNET_IMAGE").unwrap_or_else(|_| "sealstack/devnet:dev".into())
}

/// A pod pinned to the real node: its nodeSelector and the toleration of its taint.
fn real_pod(name: &str, node: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["nodeSelector"] = json!({REAL_NODE_LABEL: "true", "kubernetes.io/hostname": node});
    spec["tolerations"] = json!([{"key": REAL_NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}]);
    // No cluster DNS in the local cluster: the node's resolv.conf.
    spec["dnsPolicy"] = json!("Default");
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
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
    let pod = real_pod(
        "devnet",
        &node,
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
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let running = wait_for("the devnet pod Ready on the real node", Duration::from_secs(120), || async {
        let pod = pods.get("devnet").await?;
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
    let log = wait_for("the devnet's FULLNODE_API_INFO in its log", Duration::from_secs(30), || async {
        let log = pods.logs("devnet", &LogParams::default()).await?;
        Ok(log.contains("FULLNODE_API_INFO=").then_some(log))
    })
    .await
    .unwrap();
    assert!(log.contains("devnet serving the Lotus API"), "log: {log}");
    let api_info = log
        .lines()
        .find_map(|l| l.strip_prefix("FULLNODE_API_INFO="))
        .expect("FULLNODE_API_INFO line")
        .replace("0.0.0.0", &ip);

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
