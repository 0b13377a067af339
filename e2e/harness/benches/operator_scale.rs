//! Operator scale benchmark on e2e/cluster (not a test): for N SealingWorkers, the time from applying them to
//! all their StatefulSets existing, against the floor measured in the same run (the same N server-side applies
//! of those StatefulSets issued directly by a plain client); the operator's peak RSS; and the write calls it
//! makes when it restarts into an unchanged world (a full resync). Then the same for N Miners, with the chain
//! stubbed out by an in-process devnet ([`miners`]).
//!
//!   e2e/cluster/bench.sh                  (builds, brings a cluster up, runs this, tears the cluster down)
//!   SEALSTACK_BENCH_SIZES=10,100          (SealingWorkers; default 10,100,1000; empty: none)
//!   SEALSTACK_BENCH_MINER_SIZES=10,100    (Miners; default 10,100,1000; empty: none)
//!
//! The operator runs as its own process (`SEALSTACK_OPERATOR_BIN`, release build) so that its RSS is its own.

#[path = "operator_scale/miners.rs"]
mod miners;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use sealstack_crds::{Miner, ParamCache, SealingWorker};
use sealstack_e2e::{Cluster, install_crds};
use serde_json::json;

/// Requests in flight at once, for the floor and for creating the custom resources.
const CONCURRENCY: usize = 16;

fn worker(name: &str) -> SealingWorker {
    serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker", "metadata": {"name": name},
        "spec": {"minerRef": {"name": "m1"}, "replicas": 1, "tasks": ["PreCommit1", "PreCommit2", "Commit2"],
                 "gpu": {"count": 1}},
    }))
    .expect("a valid SealingWorker")
}

/// The StatefulSet shape the controller makes, applied directly (the floor).
fn plain_set(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": format!("{name}-worker")},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "worker", "image": "sealstack/miner:bench",
                                                       "args": ["worker"]}]}}},
    })
}

async fn count_sets(api: &Api<StatefulSet>) -> usize {
    api.list_metadata(&ListParams::default()).await.map(|l| l.items.len()).unwrap_or(0)
}

async fn wait_for_sets(api: &Api<StatefulSet>, n: usize) {
    while count_sets(api).await < n {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The operator as its own process, killed when dropped.
struct Operator(Child);

impl Operator {
    fn start(bin: &str, kubeconfig: &str, namespace: &str, metrics: &str, extra: &[&str]) -> Self {
        let child = Command::new(bin)
            .args(["run", "--namespace", namespace, "--metrics-addr", metrics, "--leader-lease", ""])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sealstack-operator starts");
        Self(child)
    }

    /// Stops the process; returns its peak RSS (MiB).
    fn stop(mut self) -> f64 {
        let rss = peak_rss_mib(self.0.id());
        let _ = self.0.kill();
        let _ = self.0.wait();
        rss
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (up to 5 minutes) until the bench namespaces are gone, so that their deletion does not load the
/// cluster during the next measurement.
async fn settle(client: &Client) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let left = namespaces.list_metadata(&ListParams::default()).await.map_or(0, |l| {
            l.items.iter().filter(|n| n.metadata.name.as_deref().is_some_and(|n| n.starts_with("e2e-bench"))).count()
        });
        if left == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Peak resident memory of a process, MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// A counter summed over label sets from the operator's /metrics.
async fn metric(addr: &str, name: &str, label_filter: &[&str]) -> f64 {
    let Ok(text) = reqwest_text(addr).await else { return -1.0 };
    text.lines()
        .filter(|l| l.starts_with(name) && label_filter.iter().any(|f| l.contains(f)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn reqwest_text(addr: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    Ok(body)
}

const WRITES: &[&str] = &["method=\"POST\"", "method=\"PUT\"", "method=\"PATCH\"", "method=\"DELETE\""];

async fn run_size(cluster: &Cluster, client: &Client, bin: &str, kubeconfig: &str, n: usize) -> String {
    // Floor: N server-side applies of the StatefulSets by a plain client.
    let floor_ns = cluster.namespace("bench-floor").await.expect("a namespace");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), floor_ns.name());
    let start = Instant::now();
    futures::stream::iter((0..n).map(|i| {
        let sets = sets.clone();
        async move {
            let name = format!("w{i}");
            let params = PatchParams::apply("bench").force();
            sets.patch(&format!("{name}-worker"), &params, &Patch::Apply(plain_set(&name))).await.map(|_| ())
        }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await
    .expect("applies succeed");
    let floor = start.elapsed();

    // The operator: a Miner whose ParamCache is not Ready (so the pools stay at zero pods), N SealingWorkers.
    let ns = cluster.namespace("bench-op").await.expect("a namespace");
    let metrics_addr = "127.0.0.1:38777";
    let operator = Operator::start(bin, kubeconfig, ns.name(), metrics_addr, &[]);
    let caches: Api<ParamCache> = Api::namespaced(client.clone(), ns.name());
    let cache: ParamCache = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache", "metadata": {"name": "params"},
        "spec": {"sectorSizes": ["2KiB"], "gateway": "http://127.0.0.1:9/ipfs/", "storage": {"size": "1Gi"}},
    }))
    .unwrap();
    caches.create(&PostParams::default(), &cache).await.expect("ParamCache");
    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    let miner: Miner = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m1"},
        "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                 "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
    }))
    .unwrap();
    miners.create(&PostParams::default(), &miner).await.expect("Miner");
    let workers: Api<SealingWorker> = Api::namespaced(client.clone(), ns.name());
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns.name());
    let start = Instant::now();
    futures::stream::iter((0..n).map(|i| {
        let workers = workers.clone();
        async move { workers.create(&PostParams::default(), &worker(&format!("w{i}"))).await.map(|_| ()) }
    }))
    .buffer_unordered(CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await
    .expect("creates succeed");
    let creates = start.elapsed();
    // The Miner's runtime StatefulSet is made too once its ParamCache is Ready; here it is not.
    wait_for_sets(&sets, n).await;
    let operator_time = start.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_first = operator.stop();

    // Resync: a new operator process over the unchanged world reconciles everything and writes nothing.
    let operator = Operator::start(bin, kubeconfig, ns.name(), metrics_addr, &[]);
    let deadline = Instant::now() + Duration::from_secs(120 + n as u64 / 5);
    while metric(metrics_addr, "sealstack_operator_reconciles_total", &["sealingworker"]).await < n as f64 {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes = metric(metrics_addr, "sealstack_operator_kube_requests_total", WRITES).await;
    let reconciled = metric(metrics_addr, "sealstack_operator_reconciles_total", &["sealingworker"]).await;
    let rss = rss_first.max(operator.stop());
    let _ = ns.delete().await;
    let _ = floor_ns.delete().await;
    format!(
        "| {n} | {:.2} | {:.2} | {:.2} | {:.2} | {rss:.1} | {} (after {} reconciles) |",
        floor.as_secs_f64(),
        operator_time.as_secs_f64(),
        creates.as_secs_f64(),
        operator_time.as_secs_f64() / floor.as_secs_f64(),
        writes.max(0.0) as u64,
        reconciled.max(0.0) as u64,
    )
}

#[tokio::main]
async fn main() {
    sealstack_telemetry::install_crypto_provider();
    let Some(kubeconfig) = sealstack_e2e::kubeconfig_path() else {
        println!("operator_scale needs a cluster: run e2e/cluster/bench.sh (or set SEALSTACK_KUBECONFIG)");
        return;
    };
    let bin = std::env::var("SEALSTACK_OPERATOR_BIN").expect("SEALSTACK_OPERATOR_BIN: a release sealstack-operator");
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.expect("CRDs install");
    let sizes = |var: &str| -> Vec<usize> {
        std::env::var(var)
            .unwrap_or_else(|_| "10,100,1000".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    };
    let kubeconfig = kubeconfig.to_str().unwrap_or_default();
    settle(&client).await;
    let mut rows = vec![
        "| N SealingWorkers | floor: N applies (s) | operator: apply to all children (s) | of which creating the N (s) | ratio | operator peak RSS (MiB) | writes in a resync |".to_string(),
        "|---|---|---|---|---|---|---|".to_string(),
    ];
    for n in sizes("SEALSTACK_BENCH_SIZES") {
        let row = run_size(&cluster, &client, &bin, kubeconfig, n).await;
        println!("{row}");
        rows.push(row);
        settle(&client).await;
    }
    rows.push(String::new());
    rows.extend(miners::HEADER.map(String::from));
    for n in sizes("SEALSTACK_BENCH_MINER_SIZES") {
        let row = miners::run_size(&cluster, &client, &bin, kubeconfig, n).await;
        println!("{row}");
        rows.push(row);
        settle(&client).await;
    }
    println!("\n{}", rows.join("\n"));
}
