//! The Miner half of the benchmark: N Miners, with the chain stubbed out by an in-process devnet, from
//! applying them to all their children existing (the runtime StatefulSet is made only once the actor is on
//! chain, so that includes `ActorCreated`), against the floor of applying those same children directly
//! (identity Secret, p2p and API Services, runtime StatefulSet: 4 server-side applies per Miner), and against
//! floor C, a plain client making as many writes as the measured path did ([`writes_floor`]).
//!
//! Each Miner creates its own BLS worker key: two chain messages (the worker's account, CreateMiner), each
//! waited for with confidence 1 on a 100 ms block time. Its p2p Service is ClusterIP with no announce
//! override, so no address message follows. Only the Miner controller runs (`--controllers miner`): the
//! ParamCache is marked Ready by hand, and kwok runs no fetch Job that could verify it. Its claim is made by
//! hand too ([`params_claim`]), in every namespace whose runtime StatefulSets make pods: the pods then wait
//! for their claims to bind (the cluster has no default StorageClass), a reason the scheduler does not
//! rewrite, so the world settles.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret, Service};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use sealstack_crds::Miner;
use sealstack_e2e::Cluster;
use sealstack_operator::apply::stamped;
use sealstack_operator::miner::build::{build_api_service, build_identity_secret, build_p2p_service};
use sealstack_operator::miner::runtime::{RuntimeInputs, api_info_digest, build_runtime_stateful_set};
use serde_json::json;

use super::{
    CONCURRENCY, Operator, WRITES, cluster_dir, control_plane_costs, control_plane_cpu_seconds, control_plane_snapshot,
    cpu_seconds, metric, series, settle, wait_for_sets, writes_by_resource,
};

fn miner(name: &str) -> Miner {
    serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": name},
        "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "worker": {"create": "bls"},
                 "sectorSize": "2KiB", "confidence": 1, "paramCacheRef": {"name": "params"},
                 "storage": {"size": "1Gi"}},
    }))
    .expect("a valid Miner")
}

/// The children the operator makes for Miner `name`, without owner references (there is no Miner object
/// in the floor's namespace for the garbage collector to find).
fn children(name: &str, namespace: &str) -> (Secret, Service, Service, StatefulSet) {
    let mut owner = miner(name);
    owner.metadata.namespace = Some(namespace.to_owned());
    owner.metadata.uid = Some(format!("floor-{name}"));
    let inputs = RuntimeInputs {
        default_image: "sealstack/miner:bench".into(),
        params_claim: "params-params".into(),
        actor: Some("t01000".into()),
        // Shaped as the operator's (the floor has no full node whose API info it could digest).
        api_info_digest: Some(api_info_digest(b"floor")),
    };
    let mut secret = build_identity_secret(&owner).0;
    let mut p2p = build_p2p_service(&owner);
    let mut api = build_api_service(&owner);
    let mut runtime = build_runtime_stateful_set(&owner, &inputs);
    for meta in [secret.meta_mut(), p2p.meta_mut(), api.meta_mut(), runtime.meta_mut()] {
        meta.owner_references = None;
    }
    // The Services and the StatefulSet with the digest annotation the operator's apply adds (the Secret is
    // created, not applied).
    (secret, stamped(&p2p), stamped(&api), stamped(&runtime))
}

async fn apply<K>(api: Api<K>, object: K) -> Result<(), kube::Error>
where
    K: Resource + Clone + std::fmt::Debug + k8s_openapi::serde::Serialize + k8s_openapi::serde::de::DeserializeOwned,
{
    let params = PatchParams::apply("bench").force();
    api.patch(&object.name_any(), &params, &Patch::Apply(&object)).await.map(|_| ())
}

/// A ParamCache marked Ready by hand, its claim, and the full node's API info Secret.
async fn prerequisites(client: &Client, namespace: &str, api_info: &str) {
    sealstack_e2e::ready_param_cache(client, namespace).await.expect("a Ready ParamCache");
    params_claim(client, namespace).await;
    sealstack_e2e::api_info_secret(client, namespace, api_info).await.expect("Secret");
}

/// The ParamCache's claim (`params-params`), which the runtime pods mount, made by hand as the ParamCache is
/// marked Ready by hand. Without it every runtime pod's scheduling failed on the missing claim first and on
/// its own unbound claim later, a reason the scheduler rewrote while it retried each of the N pods, for
/// minutes: the operator mirrored each rewrite into its Miner's `RuntimeReady` (31-42 writes in the resync).
async fn params_claim(client: &Client, namespace: &str) {
    let claim = serde_json::from_value(json!({"metadata": {"name": "params-params"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    .expect("a valid claim");
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &claim)
        .await
        .expect("the ParamCache's claim");
}

/// One row of the Miner table.
pub async fn run_size(cluster: &Cluster, client: &Client, bin: &str, kubeconfig: &str, n: usize) -> String {
    // Floor: the 4 N children applied directly by a plain client, 16 Miners' at a time.
    let floor_ns = cluster.namespace("bench-mfloor").await.expect("a namespace");
    let ns_name = floor_ns.name().to_owned();
    params_claim(client, &ns_name).await;
    let start = Instant::now();
    futures::stream::iter((0..n).map(|i| {
        let (secret, p2p, api, runtime) = children(&format!("m{i}"), &ns_name);
        let (client, ns) = (client.clone(), ns_name.clone());
        async move {
            // In the order the operator makes them.
            apply(Api::namespaced(client.clone(), &ns), secret).await?;
            apply(Api::namespaced(client.clone(), &ns), p2p).await?;
            apply(Api::namespaced(client.clone(), &ns), api).await?;
            apply(Api::namespaced(client, &ns), runtime).await
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await
    .expect("applies succeed");
    let floor = start.elapsed();

    // The operator, against a fresh devnet.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let listen = "127.0.0.1:0".parse().expect("an address");
    let mut config = sealstack_devnet::DevnetConfig::new(dir.path().to_path_buf(), listen);
    config.block_time = Duration::from_millis(100);
    let devnet = sealstack_devnet::start(config).await.expect("the devnet starts");
    let ns = cluster.namespace("bench-miners").await.expect("a namespace");
    prerequisites(client, ns.name(), &devnet.api_info.to_env_value()).await;
    let metrics_addr = "127.0.0.1:38778";
    let extra = ["--controllers", "miner"];
    let operator = Operator::start(bin, kubeconfig, ns.name(), metrics_addr, &extra);
    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    let cluster_dir = cluster_dir(kubeconfig);
    // The devnet runs in this process: its CPU is this process's, less the little the bench's requests take.
    let cpu_before = (operator.cpu_seconds(), control_plane_cpu_seconds(cluster_dir), cpu_seconds(std::process::id()));
    let served_before = control_plane_snapshot(client, cluster_dir).await;
    let start = Instant::now();
    futures::stream::iter((0..n).map(|i| {
        let miners = miners.clone();
        async move { miners.create(&PostParams::default(), &miner(&format!("m{i}"))).await.map(|_| ()) }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await
    .expect("creates succeed");
    let creates = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(300 + n as u64);
    let created = wait_for_sets(client, ns.name(), Some(sealstack_operator::stores::RUNTIME_SETS), n, deadline).await;
    let operator_time = start.elapsed();
    let cpu = (
        operator.cpu_seconds() - cpu_before.0,
        control_plane_cpu_seconds(cluster_dir) - cpu_before.1,
        cpu_seconds(std::process::id()) - cpu_before.2,
    );
    let served = control_plane_costs(&served_before, &control_plane_snapshot(client, cluster_dir).await);
    eprintln!("{n} Miners, creating: the control plane's {served}");
    let creation_writes = metric(metrics_addr, "sealstack_operator_kube_requests_total", WRITES).await;
    let creation_reads = metric(metrics_addr, "sealstack_operator_kube_requests_total", &["method=\"GET\""]).await;
    let creation_reconciles =
        metric(metrics_addr, "sealstack_operator_reconcile_duration_seconds_count", &["miner"]).await;
    eprintln!(
        "{n} Miners, creating: {creation_reconciles} reconciles; writes by resource: {}",
        writes_by_resource(metrics_addr).await
    );
    // The runtime pods come up after their StatefulSets, where they can be scheduled: each that becomes ready changes
    // its Miner's `RuntimeReady`. The world is settled only once their readiness stops changing. (In this bench none
    // is scheduled: their claims stay unbound, see [`params_claim`].)
    let ready = ready_sets_settled(client, ns.name(), n, Duration::from_secs(30), Duration::from_secs(300)).await;
    eprintln!("{n} Miners: {ready} of {n} runtime StatefulSets ready, unchanged for 30 s");
    // The resync below is over a settled world: the first operator is stopped once it has written nothing for
    // longer than a write of balances alone is held (`balances::REFRESH`, the owner's balance moved with every
    // creation), or after 3 minutes (then the resync's writes include what it had still to write).
    let settled = quiet(metrics_addr, sealstack_operator::miner::balances::REFRESH + Duration::from_secs(10)).await;
    eprintln!(
        "{n} Miners: the operator settled {:.0} s after the last runtime StatefulSet; writes by resource since the \
         start: {}; reconcile errors: {}",
        settled.as_secs_f64(),
        writes_by_resource(metrics_addr).await,
        series(metrics_addr, "sealstack_operator_reconcile_errors_total").await,
    );
    let rss_first = operator.stop();

    // Resync: a new operator over the unchanged world (actors on chain, children there) writes nothing.
    let operator = Operator::start(bin, kubeconfig, ns.name(), metrics_addr, &extra);
    let deadline = Instant::now() + Duration::from_secs(120 + n as u64 / 5);
    while metric(metrics_addr, "sealstack_operator_reconcile_duration_seconds_count", &["miner"]).await < n as f64 {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes = metric(metrics_addr, "sealstack_operator_kube_requests_total", WRITES).await;
    let reconciled = metric(metrics_addr, "sealstack_operator_reconcile_duration_seconds_count", &["miner"]).await;
    eprintln!(
        "{n} Miners, resync: writes by resource: {}; reconcile errors: {}",
        writes_by_resource(metrics_addr).await,
        series(metrics_addr, "sealstack_operator_reconcile_errors_total").await,
    );
    let rss_resync = operator.stop();
    let actors = devnet.node.state().actors.miner_ids().len();
    devnet.stop().await;
    let _ = ns.delete().await;
    let _ = floor_ns.delete().await;
    eprintln!(
        "{n} Miners: floor {floor:?}, operator {operator_time:?}, {creation_writes} writes, RSS {rss_first:.1} / {rss_resync:.1} MiB"
    );
    // The Services of the namespaces just deleted still hold node ports until they are gone.
    settle(client).await;
    let cpu_floor = control_plane_cpu_seconds(cluster_dir);
    let served_before = control_plane_snapshot(client, cluster_dir).await;
    let writes_floor = writes_floor(cluster, client, n, creation_writes.max(0.0) as usize).await;
    let cpu_floor = control_plane_cpu_seconds(cluster_dir) - cpu_floor;
    let served = control_plane_costs(&served_before, &control_plane_snapshot(client, cluster_dir).await);
    eprintln!("{n} Miners, floor C: the control plane's {served}");
    let incomplete = if created < n { format!(" (only {created} of {n} after the deadline)") } else { String::new() };
    format!(
        "| {n} | {:.2} | {:.2} | {:.2}{incomplete} | {:.2} | {:.2} | {:.2} | {} / {} | {:.1} / {:.1} / {:.1} ({cpu_floor:.1}) | {rss_first:.1} / {rss_resync:.1} | {} (after {} reconciles) | {actors} |",
        floor.as_secs_f64(),
        writes_floor.as_secs_f64(),
        operator_time.as_secs_f64(),
        creates.as_secs_f64(),
        operator_time.as_secs_f64() / floor.as_secs_f64(),
        operator_time.as_secs_f64() / writes_floor.as_secs_f64(),
        creation_writes.max(0.0) as u64,
        creation_reads.max(0.0) as u64,
        cpu.0,
        cpu.1,
        cpu.2,
        writes.max(0.0) as u64,
        reconciled.max(0.0) as u64,
    )
}

/// Waits until `n` runtime StatefulSets in `namespace` are ready, or their ready count has not changed for
/// `unchanged` (at most `limit`); returns how many are ready. It follows a watch, as [`wait_for_sets`] does.
async fn ready_sets_settled(client: &Client, namespace: &str, n: usize, unchanged: Duration, limit: Duration) -> usize {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let config = watcher::Config::default().labels(sealstack_operator::stores::RUNTIME_SETS);
    let mut events = std::pin::pin!(watcher(api, config).applied_objects());
    let is_ready = |set: &StatefulSet| {
        let status = set.status.as_ref();
        status.is_some_and(|s| s.ready_replicas.unwrap_or(0) >= s.replicas && s.replicas > 0)
    };
    let mut ready = std::collections::HashSet::new();
    let (start, mut since) = (Instant::now(), Instant::now());
    while ready.len() < n && since.elapsed() < unchanged && start.elapsed() < limit {
        let until = (since + unchanged).min(start + limit);
        match tokio::time::timeout_at(until.into(), events.next()).await {
            Ok(Some(Ok(set))) => {
                let changed = if is_ready(&set) { ready.insert(set.name_any()) } else { ready.remove(&set.name_any()) };
                if changed {
                    since = Instant::now();
                }
            }
            Ok(Some(Err(_))) => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok(None) | Err(_) => {}
        }
    }
    ready.len()
}

/// Waits until the operator at `metrics_addr` has made no write for `period` (at most 3 minutes); returns how
/// long that took.
async fn quiet(metrics_addr: &str, period: Duration) -> Duration {
    let start = Instant::now();
    let (mut writes, mut since) = (metric(metrics_addr, "sealstack_operator_kube_requests_total", WRITES).await, start);
    while since.elapsed() < period && start.elapsed() < Duration::from_secs(180) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = metric(metrics_addr, "sealstack_operator_kube_requests_total", WRITES).await;
        if now != writes {
            (writes, since) = (now, Instant::now());
        }
    }
    since.duration_since(start)
}

/// Floor C: as many writes as the measured path made (`operator_writes` by the operator, and the N Miners),
/// by a plain client: each Miner created, then its children (the API Secret too), then the operator's other
/// writes (status and journal writes, Events) as Miner status patches, the same number per Miner.
async fn writes_floor(cluster: &Cluster, client: &Client, n: usize, operator_writes: usize) -> Duration {
    let namespace = cluster.namespace("bench-mcfloor").await.expect("a namespace");
    let ns_name = namespace.name().to_owned();
    params_claim(client, &ns_name).await;
    let per_miner = (operator_writes as f64 / n as f64).round() as usize;
    let status_writes = per_miner.saturating_sub(5);
    let start = Instant::now();
    futures::stream::iter((0..n).map(|i| {
        let name = format!("m{i}");
        let (secret, p2p, api, runtime) = children(&name, &ns_name);
        let (client, ns) = (client.clone(), ns_name.clone());
        async move {
            let miners: Api<Miner> = Api::namespaced(client.clone(), &ns);
            let owner = miners.create(&PostParams::default(), &miner(&name)).await?;
            let api_secret = sealstack_operator::miner::build::build_api_secret(&owner, &ns);
            let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
            secrets.create(&PostParams::default(), &secret).await?;
            secrets.create(&PostParams::default(), &api_secret).await?;
            apply(Api::namespaced(client.clone(), &ns), p2p).await?;
            apply(Api::namespaced(client.clone(), &ns), api).await?;
            apply(Api::namespaced(client.clone(), &ns), runtime).await?;
            for k in 0..status_writes {
                let patch = json!({"status": {"peerId": format!("write-{k}")}});
                miners.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            }
            Ok::<_, kube::Error>(())
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await
    .expect("writes succeed");
    let elapsed = start.elapsed();
    let _ = namespace.delete().await;
    elapsed
}

/// The header of the Miner table.
pub const HEADER: [&str; 2] = [
    "| N Miners | floor: 4 N applies (s) | floor C: the path's writes (s) | operator: apply to all children (s) | of which creating the N (s) | ratio to the floor | ratio to C | operator writes / GETs (watches included) until then | CPU (s) until then: operator / control plane / devnet (control plane in floor C) | operator peak RSS (MiB): creating / resync | writes in a resync | actors on chain |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
];
