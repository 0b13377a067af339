//! The ParamCache and SealingWorker controllers, run in-process against the local cluster: the children they
//! create, a spec change, an edited manifest ConfigMap, an edited StatefulSet undone, garbage collection through
//! owner references, and zero writes when nothing changed (counted by the operator's own request metric).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use sealstack_crds::conditions::find_condition;
use sealstack_crds::{Miner, ParamCache, SealingWorker};
use sealstack_e2e::{Cluster, install_crds, ready_param_cache, wait_for};
use sealstack_operator::context::{Context, Settings};
use sealstack_operator::metrics::Metrics;
use serde_json::json;

/// Starts the controllers for one namespace; they stop when the returned task is aborted.
fn start_controllers(client: Client, namespace: &str, metrics: Arc<Metrics>) -> tokio::task::JoinHandle<()> {
    let settings = Settings { runtime_image: "sealstack/miner:e2e".into(), ..Default::default() };
    let (ctx, feeds) = Context::new(client.clone(), metrics.clone(), settings);
    tokio::spawn(sealstack_operator::controllers::controllers(client, Some(namespace.to_owned()), ctx, feeds))
}

fn param_cache(name: &str, sizes: &[&str]) -> ParamCache {
    serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache", "metadata": {"name": name},
        "spec": {"sectorSizes": sizes, "gateway": "http://127.0.0.1:9/ipfs/", "storage": {"size": "1Gi"}},
    }))
    .unwrap()
}

fn fetch_jobs(client: &Client, ns: &str) -> Api<Job> {
    Api::namespaced(client.clone(), ns)
}

#[tokio::test]
async fn param_cache_gets_a_claim_and_a_fetch_job_and_a_new_size_replaces_the_job() {
    let Some(cluster) = Cluster::connect().await else { return };
    install_crds(&cluster.client()).await.unwrap();
    let ns = cluster.namespace("op-params").await.unwrap();
    let client = cluster.client();
    let controllers = start_controllers(client.clone(), ns.name(), Arc::new(Metrics::default()));

    let caches: Api<ParamCache> = Api::namespaced(client.clone(), ns.name());
    caches.create(&PostParams::default(), &param_cache("params", &["2KiB"])).await.unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns.name());
    wait_for("the parameter claim", Duration::from_secs(30), || async { Ok(claims.get_opt("params-params").await?) })
        .await
        .unwrap();
    let selector = ListParams::default().labels("sealstack.io/param-cache=params");
    let jobs = fetch_jobs(&client, ns.name());
    let first = wait_for("a fetch Job", Duration::from_secs(30), || async {
        Ok(jobs.list(&selector).await?.items.into_iter().next())
    })
    .await
    .unwrap();
    let args = first.spec.clone().unwrap().template.spec.unwrap().containers[0].args.clone().unwrap();
    assert_eq!(args[..2], ["fetch-params", "2KiB"]);
    let status = wait_for("the ParamCache status naming the Job", Duration::from_secs(30), || async {
        Ok(caches.get("params").await?.status.filter(|s| s.job_name.as_deref() == Some(&first.name_any())))
    })
    .await
    .unwrap();
    assert_eq!(status.claim_name.as_deref(), Some("params-params"));
    let ready = find_condition(&status.conditions, "Ready").expect("a Ready condition");
    assert_eq!(ready.status, "False", "nothing was verified on a fake node: {ready:?}");

    // A new sector size: a new Job (which would find 2KiB present), and the old one goes.
    let patch = json!({"spec": {"sectorSizes": ["2KiB", "8MiB"]}});
    caches.patch("params", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let second = wait_for("the replacement Job, alone", Duration::from_secs(60), || async {
        let names: Vec<_> = jobs
            .list(&selector)
            .await?
            .items
            .iter()
            .filter(|j| j.metadata.deletion_timestamp.is_none())
            .map(|j| j.name_any())
            .collect();
        Ok((names.len() == 1 && names[0] != first.name_any()).then(|| names[0].clone()))
    })
    .await
    .unwrap();
    let job = jobs.get(&second).await.unwrap();
    let args = job.spec.unwrap().template.spec.unwrap().containers[0].args.clone().unwrap();
    assert_eq!(args[..3], ["fetch-params", "2KiB", "8MiB"]);
    controllers.abort();
}

/// The names of the ParamCache `params`' fetch Jobs not being deleted.
async fn live_fetch_jobs(jobs: &Api<Job>) -> anyhow::Result<Vec<String>> {
    let selector = ListParams::default().labels("sealstack.io/param-cache=params");
    let list = jobs.list(&selector).await?.items;
    Ok(list.iter().filter(|j| j.metadata.deletion_timestamp.is_none()).map(|j| j.name_any()).collect())
}

#[tokio::test]
async fn an_edited_manifest_config_map_reconciles_its_param_cache_and_replaces_the_fetch_job() {
    let Some(cluster) = Cluster::connect().await else { return };
    install_crds(&cluster.client()).await.unwrap();
    let ns = cluster.namespace("op-manifest").await.unwrap();
    let client = cluster.client();
    let metrics = Arc::new(Metrics::default());
    let controllers = start_controllers(client.clone(), ns.name(), metrics.clone());

    // A manifest ConfigMap without the parameters key: the ParamCache is invalid and waits for a change (no
    // retry), which only the ConfigMap's watch can bring.
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns.name());
    let map: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "devnet-params"}, "data": {"other": "{}"},
    }))
    .unwrap();
    maps.create(&PostParams::default(), &map).await.unwrap();
    let mut cache = param_cache("params", &["2KiB"]);
    cache.spec.manifest = serde_json::from_value(json!({"configMap": {"name": "devnet-params"}})).unwrap();
    let caches: Api<ParamCache> = Api::namespaced(client.clone(), ns.name());
    caches.create(&PostParams::default(), &cache).await.unwrap();
    wait_for("the manifest without its key refused", Duration::from_secs(30), || async {
        Ok((sealstack_e2e::reconcile_errors(&metrics.encode(), "paramcache", "invalid_spec") > 0).then_some(()))
    })
    .await
    .unwrap();

    // The key added: the ParamCache is reconciled at once, and gets its Job.
    let edit = |parameters: &'static str| {
        let maps = maps.clone();
        async move {
            let patch = json!({"data": {"parameters.json": parameters}});
            maps.patch("devnet-params", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        }
    };
    edit(r#"{"v28-a.params": {"digest": "1"}}"#).await;
    let jobs = fetch_jobs(&client, ns.name());
    let first = wait_for("a fetch Job once the manifest has its key", Duration::from_secs(20), || async {
        Ok(live_fetch_jobs(&jobs).await?.into_iter().next())
    })
    .await
    .unwrap();
    let pod = jobs.get(&first).await.unwrap().spec.unwrap().template.spec.unwrap();
    let manifest = pod.volumes.unwrap().into_iter().find_map(|v| v.config_map).expect("the manifest volume");
    assert_eq!(manifest.name, "devnet-params");

    // The manifest edited (the same spec): a new Job fetches and verifies against it; the old one goes.
    edit(r#"{"v28-a.params": {"digest": "2"}}"#).await;
    wait_for("the Job for the edited manifest, alone", Duration::from_secs(60), || async {
        let names = live_fetch_jobs(&jobs).await?;
        Ok((names.len() == 1 && names[0] != first).then_some(()))
    })
    .await
    .unwrap();
    controllers.abort();
}

#[tokio::test]
async fn workers_wait_for_params_make_no_writes_at_rest_and_go_with_their_owner() {
    let Some(cluster) = Cluster::connect().await else { return };
    install_crds(&cluster.client()).await.unwrap();
    let ns = cluster.namespace("op-workers").await.unwrap();
    let metrics = Arc::new(Metrics::default());
    // A client like the cluster's, counting its requests in `metrics` as the operator's own client does.
    let client = sealstack_operator::kube_client::instrumented_client(cluster.config(), metrics.clone()).unwrap();
    let controllers = start_controllers(client, ns.name(), metrics.clone());

    let admin = cluster.client();
    let caches: Api<ParamCache> = Api::namespaced(admin.clone(), ns.name());
    caches.create(&PostParams::default(), &param_cache("params", &["2KiB"])).await.unwrap();
    // The Miner's full node API info (never used: the Miner waits for its ParamCache too). Without the Secret the
    // Miner fails every reconcile, and each failure's Warning Event is a write.
    sealstack_e2e::api_info_secret(&admin, ns.name(), sealstack_e2e::UNREACHED_API_INFO).await.unwrap();
    let miner: Miner = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m1"},
        "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "worker": {"create": "bls"},
                 "sectorSize": "2KiB", "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
    }))
    .unwrap();
    Api::<Miner>::namespaced(admin.clone(), ns.name()).create(&PostParams::default(), &miner).await.unwrap();
    let worker: SealingWorker = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker", "metadata": {"name": "gpu"},
        "spec": {"minerRef": {"name": "m1"}, "replicas": 2, "tasks": ["Commit2"], "gpu": {"count": 1}},
    }))
    .unwrap();
    let workers: Api<SealingWorker> = Api::namespaced(admin.clone(), ns.name());
    workers.create(&PostParams::default(), &worker).await.unwrap();

    let sets: Api<StatefulSet> = Api::namespaced(admin.clone(), ns.name());
    let set =
        wait_for("the worker StatefulSet", Duration::from_secs(30), || async { Ok(sets.get_opt("gpu-worker").await?) })
            .await
            .unwrap();
    assert_eq!(set.spec.as_ref().unwrap().replicas, Some(0), "held back: the ParamCache is not Ready");
    let limits = set.spec.unwrap().template.spec.unwrap().containers[0].resources.clone().unwrap().limits.unwrap();
    assert_eq!(limits["nvidia.com/gpu"].0, "1");
    wait_for("WaitingForParams in the status", Duration::from_secs(30), || async {
        let status = workers.get("gpu").await?.status.unwrap_or_default();
        Ok(find_condition(&status.conditions, "ParamsReady").filter(|c| c.reason == "WaitingForParams").cloned())
    })
    .await
    .unwrap();

    // At rest: the controllers keep looking (the worker requeues every 15 s while it waits) but write nothing.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (writes, reconciles) = (metrics.kube_writes(), metrics.encode());
    let count = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("sealstack_operator_reconciles_total{controller=\"sealingworker\"}"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(count(&metrics.encode()) > count(&reconciles), "the worker was reconciled again while at rest");
    assert_eq!(metrics.kube_writes(), writes, "no write call while nothing changed");

    // Someone else's edit of the StatefulSet's spec is seen (the watch keeps an edited spec whole) and undone;
    // once it is, the world is at rest again.
    let edit = PatchParams { field_manager: Some("kubectl-edit".into()), ..PatchParams::default() };
    sets.patch("gpu-worker", &edit, &Patch::Merge(json!({"spec": {"replicas": 5}}))).await.unwrap();
    wait_for("the edit undone", Duration::from_secs(30), || async {
        let set = sets.get("gpu-worker").await?;
        Ok((set.spec.and_then(|s| s.replicas) == Some(0)).then_some(()))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let writes = metrics.kube_writes();
    tokio::time::sleep(Duration::from_secs(16)).await;
    assert_eq!(metrics.kube_writes(), writes, "no write call after the edit was undone");

    // Deleting the SealingWorker deletes its StatefulSet (owner reference, garbage collector).
    controllers.abort();
    workers.delete("gpu", &DeleteParams::background()).await.unwrap();
    wait_for("the StatefulSet collected", Duration::from_secs(60), || async {
        Ok(sets.get_opt("gpu-worker").await?.is_none().then_some(()))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_worker_pod_that_cannot_be_scheduled_says_why_in_ready() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("op-worker-pending").await.unwrap();
    // The SealingWorker controller alone, over a ParamCache marked Ready by hand and a Miner.
    let settings = Settings { runtime_image: "sealstack/miner:e2e".into(), ..Default::default() };
    let (ctx, feeds) = Context::new(client.clone(), Arc::new(Metrics::default()), settings);
    let controllers = tokio::spawn(sealstack_operator::controllers::run_controllers(
        client.clone(),
        Some(ns.name().to_owned()),
        ctx,
        feeds,
        &[sealstack_operator::controllers::ControllerKind::SealingWorker],
    ));
    ready_param_cache(&client, ns.name()).await.unwrap();
    let miner: Miner = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m1"},
        "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                 "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
    }))
    .unwrap();
    Api::<Miner>::namespaced(client.clone(), ns.name()).create(&PostParams::default(), &miner).await.unwrap();
    // Its pods cannot be scheduled (no parameter claim here, and a node label no node has): the scheduler
    // leaves them Pending, and says why.
    let worker: SealingWorker = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker", "metadata": {"name": "cpu"},
        "spec": {"minerRef": {"name": "m1"}, "replicas": 1, "tasks": ["PreCommit1"],
                 "placement": {"nodeSelector": {"sealstack.io/e2e-nowhere": "true"}}},
    }))
    .unwrap();
    let workers: Api<SealingWorker> = Api::namespaced(client.clone(), ns.name());
    workers.create(&PostParams::default(), &worker).await.unwrap();
    let message = wait_for("Ready False naming the unschedulable pod", Duration::from_secs(90), || async {
        let status = workers.get("cpu").await?.status.unwrap_or_default();
        Ok(find_condition(&status.conditions, "Ready")
            .filter(|c| c.status == "False" && c.message.contains("Unschedulable"))
            .map(|c| c.message.clone()))
    })
    .await
    .unwrap();
    assert!(message.starts_with("0 of 1 workers ready; pod cpu-worker-0: Unschedulable: "), "{message}");
    // The scheduler's own words follow (here the missing parameter claim, or the node selector no node matches).
    assert!(message.contains("nodes are available"), "the scheduler's words: {message}");
    controllers.abort();
}
