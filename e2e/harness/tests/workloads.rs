//! Scheduling, Jobs and garbage collection on the e2e cluster: real kube-scheduler and
//! kube-controller-manager, with kwok playing the kubelets of the fake GPU and CPU nodes.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use sealstack_e2e::{Cluster, wait_for};
use serde_json::json;

const GPU_LABEL: &str = "nvidia.com/gpu.present";

/// Container image: irrelevant under kwok; on kind (real kubelets) it must be present on the
/// nodes, so e2e/kind/test.sh loads it. Override with `SEALSTACK_E2E_IMAGE`.
fn image() -> String {
    std::env::var("SEALSTACK_E2E_IMAGE").unwrap_or_else(|_| "busybox:1.36".into())
}

/// Names of the nodes that offer `nvidia.com/gpu`.
async fn gpu_nodes(client: &Client) -> anyhow::Result<Vec<String>> {
    let nodes = Api::<Node>::all(client.clone()).list(&ListParams::default()).await?;
    Ok(nodes
        .items
        .iter()
        .filter(|n| {
            let allocatable = n.status.as_ref().and_then(|s| s.allocatable.as_ref());
            allocatable.is_some_and(|a| a.contains_key("nvidia.com/gpu"))
        })
        .map(|n| n.name_any())
        .collect())
}

/// Ready pods per node, and the scheduler's messages for pods it found no node for.
async fn placement(pods: &Api<Pod>, selector: &str) -> anyhow::Result<(BTreeMap<String, usize>, Vec<String>)> {
    let mut running: BTreeMap<String, usize> = BTreeMap::new();
    let mut unschedulable = Vec::new();
    for pod in pods.list(&ListParams::default().labels(selector)).await?.items {
        let status = pod.status.unwrap_or_default();
        let conditions = status.conditions.unwrap_or_default();
        let ready = conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
        let refused = conditions.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False");
        match (pod.spec.and_then(|s| s.node_name), refused) {
            (Some(node), _) if ready => *running.entry(node).or_default() += 1,
            (None, Some(c)) if c.reason.as_deref() == Some("Unschedulable") => {
                unschedulable.push(c.message.clone().unwrap_or_default())
            }
            _ => {}
        }
    }
    Ok((running, unschedulable))
}

#[tokio::test]
async fn a_job_on_a_gpu_node_completes() {
    let Some(cluster) = Cluster::connect().await else { return };
    let ns = cluster.namespace("gpu-job").await.unwrap();
    let jobs = Api::<Job>::namespaced(cluster.client(), ns.name());
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "seal"},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "nodeSelector": {GPU_LABEL: "true"},
            "containers": [{"name": "seal", "image": image(), "command": ["true"],
                            "resources": {"limits": {"nvidia.com/gpu": "1"}}}]
        }}}
    }))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();

    let status = wait_for("Job seal to succeed", Duration::from_secs(90), || async {
        let status = jobs.get("seal").await?.status.unwrap_or_default();
        let failed = status.failed.unwrap_or(0);
        anyhow::ensure!(failed == 0, "Job failed: {status:?}");
        let complete = status.conditions.iter().flatten().any(|c| c.type_ == "Complete" && c.status == "True");
        Ok(complete.then_some(status))
    })
    .await
    .unwrap();
    assert_eq!(status.succeeded, Some(1));

    let pods = Api::<Pod>::namespaced(cluster.client(), ns.name());
    let pods = pods.list(&ListParams::default().labels("job-name=seal")).await.unwrap();
    assert_eq!(pods.items.len(), 1);
    let pod = &pods.items[0];
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).expect("pod bound to a node");
    assert!(gpu_nodes(&cluster.client()).await.unwrap().contains(&node), "{node} is not a GPU node");
    assert_eq!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded"));
}

#[tokio::test]
async fn gpu_pods_land_only_on_gpu_nodes_within_capacity() {
    let Some(cluster) = Cluster::connect().await else { return };
    let gpu_nodes = gpu_nodes(&cluster.client()).await.unwrap();
    assert!(!gpu_nodes.is_empty(), "the e2e cluster has 8-GPU nodes");
    let nodes = Api::<Node>::all(cluster.client()).list(&ListParams::default()).await.unwrap();
    assert!(nodes.items.len() > gpu_nodes.len(), "a node without GPUs exists, so placement is a real choice");
    let replicas = 2 * gpu_nodes.len() + 1;
    let ns = cluster.namespace("gpu-deploy").await.unwrap();

    // 4 GPUs per pod: exactly two pods fit per 8-GPU node, so 2 per GPU node run and one more
    // cannot be scheduled anywhere (the CPU node has no nvidia.com/gpu).
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "prover"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "prover"}},
            "template": {"metadata": {"labels": {"app": "prover"}}, "spec": {"containers": [{
                "name": "prover", "image": image(), "command": ["sleep", "3600"],
                "resources": {"limits": {"nvidia.com/gpu": "4"}}}]}}}
    }))
    .unwrap();
    Api::<Deployment>::namespaced(cluster.client(), ns.name())
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();

    let pods = Api::<Pod>::namespaced(cluster.client(), ns.name());
    let (running, pending) =
        wait_for("2 running pods per GPU node and 1 unschedulable", Duration::from_secs(90), || async {
            let (running, unschedulable) = placement(&pods, "app=prover").await?;
            let done = running.values().sum::<usize>() == replicas - 1 && unschedulable.len() == 1;
            Ok(done.then_some((running, unschedulable)))
        })
        .await
        .unwrap();

    assert_eq!(running.keys().cloned().collect::<Vec<_>>(), gpu_nodes, "pods only on the GPU nodes");
    assert!(running.values().all(|&n| n == 2), "two 4-GPU pods per 8-GPU node: {running:?}");
    assert!(pending[0].contains("nvidia.com/gpu"), "scheduler names the missing resource: {}", pending[0]);
}

#[tokio::test]
async fn garbage_collection_deletes_owned_children() {
    let Some(cluster) = Cluster::connect().await else { return };
    let ns = cluster.namespace("gc").await.unwrap();
    let maps = Api::<ConfigMap>::namespaced(cluster.client(), ns.name());
    let owner: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "owner"}})).unwrap();
    let owner = maps.create(&PostParams::default(), &owner).await.unwrap();
    let uid = owner.metadata.uid.clone().unwrap();
    for name in ["child-a", "child-b"] {
        let child: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}
        ]}}))
        .unwrap();
        maps.create(&PostParams::default(), &child).await.unwrap();
    }
    let unowned: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "bystander"}})).unwrap();
    maps.create(&PostParams::default(), &unowned).await.unwrap();

    maps.delete("owner", &DeleteParams::background()).await.unwrap();
    wait_for("the garbage collector to delete the children", Duration::from_secs(60), || async {
        let names: Vec<String> = maps.list(&ListParams::default()).await?.items.iter().map(|m| m.name_any()).collect();
        let gone = !names.iter().any(|n| n.starts_with("child-") || n == "owner");
        Ok(gone.then_some(()))
    })
    .await
    .unwrap();
    assert!(maps.get_opt("bystander").await.unwrap().is_some(), "objects without owner stay");
}
