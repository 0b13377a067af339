//! Operator scale benchmark on e2e/cluster (not a test): for N SealingWorkers, the time from applying them to
//! all their StatefulSets existing, against two floors measured in the same run by a plain client: A, the N
//! StatefulSets the operator makes (its own build function) applied directly; B, what the measured path
//! applies in all, each SealingWorker and then its StatefulSet (owned by it, as the operator's are); C, the
//! same writes as the measured path, B plus the status the operator writes for each. Also the
//! operator's writes and CPU and the control plane's CPU while creating, the operator's peak RSS, and the
//! write calls it makes when it restarts into an unchanged world (a full resync). Then the same for N Miners, with the chain
//! stubbed out by an in-process devnet ([`miners`]).
//!
//!   e2e/cluster/bench.sh                  (builds, brings a cluster up, runs this, tears the cluster down)
//!   SEALSTACK_BENCH_SIZES=10,100          (SealingWorkers; default 10,100,1000; empty: none)
//!   SEALSTACK_BENCH_MINER_SIZES=10,100    (Miners; default 10,100,1000; empty: none)
//!   SEALSTACK_BENCH_BASELINE_BIN=path     (each size again with this operator binary, e.g. another commit's)
//!   SEALSTACK_BENCH_BASELINE_FIRST=1      (the baseline's row first: a second row runs beside the first's GC)
//!
//! The operator runs as its own process (`SEALSTACK_OPERATOR_BIN`, release build) so that its RSS is its own.

#[path = "operator_scale/miners.rs"]
mod miners;

use std::collections::BTreeMap;
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use sealstack_crds::{Miner, ParamCache, SealingWorker};
use sealstack_e2e::{Cluster, install_crds};
use sealstack_operator::sealing_worker::build::{WorkerInputs, build_stateful_set};
use serde_json::json;

/// Requests in flight at once, for the floor and for creating the custom resources.
const CONCURRENCY: usize = 16;

fn worker_json(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker", "metadata": {"name": name},
        "spec": {"minerRef": {"name": "m1"}, "replicas": 1, "tasks": ["PreCommit1", "PreCommit2", "Commit2"],
                 "gpu": {"count": 1}},
    })
}

/// The StatefulSet the controller makes for SealingWorker `name` (built by its own build function, with
/// the inputs of the measured run: the Miner `m1` whose ParamCache `params` is not Ready), owned by
/// `owner` when given (the floor without SealingWorkers has no owner to name).
fn worker_set(name: &str, namespace: &str, owner: Option<&SealingWorker>) -> StatefulSet {
    let mut worker: SealingWorker = serde_json::from_value(worker_json(name)).expect("a valid SealingWorker");
    worker.metadata.namespace = Some(namespace.to_owned());
    worker.metadata.uid = owner.and_then(|o| o.metadata.uid.clone()).or_else(|| Some(format!("floor-{name}")));
    let inputs = WorkerInputs {
        default_image: "sealstack/miner:bench".into(),
        params_claim: "params-params".into(),
        miner_api_secret: sealstack_operator::names::miner_api_secret("m1"),
        params_ready: false,
    };
    let mut set = build_stateful_set(&worker, &inputs);
    if owner.is_none() {
        set.metadata.owner_references = None;
    }
    // With the digest annotation the operator's apply adds.
    sealstack_operator::apply::stamped(&set)
}

/// The status the operator writes for `worker` while its StatefulSet `set` has no pods, as an apply patch.
fn worker_status(worker: &SealingWorker, set: &StatefulSet) -> serde_json::Value {
    use sealstack_operator::sealing_worker::{build::selector_string, status::desired_status};
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    let status = desired_status(
        &Default::default(),
        worker.metadata.generation,
        worker.spec.replicas,
        selector_string(worker),
        false,
        Some(set),
        now,
    );
    json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker", "status": status})
}

/// What a plain client applies for SealingWorker `w{i}` in floors B and C: the SealingWorker, then its
/// StatefulSet (owned by it), then, with `status` (floor C), the status the operator writes.
async fn apply_worker_path(
    workers: &Api<SealingWorker>,
    sets: &Api<StatefulSet>,
    namespace: &str,
    i: usize,
    status: bool,
) -> Result<(), kube::Error> {
    let name = format!("w{i}");
    let params = PatchParams::apply("bench").force();
    let owner = workers.patch(&name, &params, &Patch::Apply(worker_json(&name))).await?;
    let set = worker_set(&name, namespace, Some(&owner));
    apply_set(sets, &set).await?;
    if status {
        workers.patch_status(&name, &params, &Patch::Apply(worker_status(&owner, &set))).await?;
    }
    Ok(())
}

async fn apply_set(api: &Api<StatefulSet>, set: &StatefulSet) -> Result<(), kube::Error> {
    let name = set.metadata.name.clone().unwrap_or_default();
    api.patch(&name, &PatchParams::apply("bench").force(), &Patch::Apply(set)).await.map(|_| ())
}

/// Waits (until `deadline`) for `n` StatefulSets matching `labels` to exist; returns how many do. It follows
/// a metadata watch: listing a thousand objects every few hundred milliseconds would load the API server
/// whose time is being measured.
pub async fn wait_for_sets(
    client: &Client,
    namespace: &str,
    labels: Option<&str>,
    n: usize,
    deadline: Instant,
) -> usize {
    let api: Api<PartialObjectMeta<StatefulSet>> = Api::namespaced(client.clone(), namespace);
    let config = labels.map_or_else(watcher::Config::default, |l| watcher::Config::default().labels(l));
    let mut names = std::collections::HashSet::new();
    let mut events = std::pin::pin!(watcher(api, config).applied_objects());
    while names.len() < n {
        match tokio::time::timeout_at(deadline.into(), events.next()).await {
            Ok(Some(Ok(set))) => {
                names.insert(set.metadata.name.unwrap_or_default());
            }
            Ok(Some(Err(_))) => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok(None) | Err(_) => break,
        }
    }
    names.len()
}

/// The operator as its own process, killed when dropped.
struct Operator(Child);

impl Operator {
    fn start(bin: &str, kubeconfig: &str, namespace: &str, metrics: &str, extra: &[&str]) -> Self {
        let child = Command::new(bin)
            .args(["run", "--namespace", namespace, "--metrics-addr", metrics, "--leader-lease", ""])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            // SEALSTACK_BENCH_OPERATOR_LOG, e.g. `warn,sealstack_operator::status_write=debug`: why each status
            // write was made.
            .env("RUST_LOG", std::env::var("SEALSTACK_BENCH_OPERATOR_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sealstack-operator starts");
        Self(child)
    }

    /// CPU time (seconds) the process has used so far.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.0.id())
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

/// Peak resident memory of a process, MiB (VmHWM). Prints beside it what its resident memory is made of at
/// this moment: the heap and other anonymous pages, and the pages of its binary and libraries.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mib = |field: &str| -> f64 {
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    };
    eprintln!(
        "operator memory (MiB): peak {:.1}; now {:.1}, of which anonymous {:.1}, files {:.1}",
        mib("VmHWM:"),
        mib("VmRSS:"),
        mib("RssAnon:"),
        mib("RssFile:")
    );
    mib("VmHWM:")
}

/// CPU time (user + system, seconds) a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name; USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// The cluster's directory: the kubeconfig's.
fn cluster_dir(kubeconfig: &str) -> &str {
    std::path::Path::new(kubeconfig).parent().and_then(|d| d.to_str()).unwrap_or("/")
}

/// CPU time (seconds) used so far by this cluster's API server, etcd and controller-manager: the processes
/// of those names whose command line names the cluster's directory (the kubeconfig's).
fn control_plane_cpu_seconds(cluster_dir: &str) -> f64 {
    control_plane_cpu_by_component(cluster_dir).values().sum()
}

/// The control plane's CPU seconds so far by component (API server, etcd, controller-manager): where the
/// control plane's part of a run goes, printed beside the tables.
fn control_plane_cpu_by_component(cluster_dir: &str) -> BTreeMap<String, f64> {
    let mut by_component = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return by_component };
    for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let comm = comm.trim();
        if ["kube-apiserver", "etcd", "kube-controller"].contains(&comm)
            && String::from_utf8_lossy(&cmdline).contains(cluster_dir)
        {
            *by_component.entry(comm.to_owned()).or_default() += cpu_seconds(pid);
        }
    }
    by_component
}

/// What the API server has served so far, from its /metrics: per `VERB resource[/subresource]` (watches left out),
/// the requests and the seconds they took (`apiserver_request_duration_seconds`), and per kind the watch events
/// sent (`watch events <kind>`, their bytes as the seconds' column).
async fn apiserver_requests(client: &Client) -> BTreeMap<String, (f64, f64)> {
    let mut served = BTreeMap::<String, (f64, f64)>::new();
    let request = http::Request::get("/metrics").body(Vec::new()).expect("a request");
    let Ok(text) = client.request_text(request).await else { return served };
    let label = |labels: &str, name: &str| {
        labels
            .split(',')
            .find_map(|l| l.strip_prefix(&format!("{name}=\"")).map(|v| v.trim_end_matches('"').to_owned()))
    };
    for line in text.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let Some((name, labels)) = series.split_once('{') else { continue };
        let labels = labels.trim_end_matches('}');
        let (key, count) = match name {
            // Watches are open for the whole run: their duration says nothing of their cost.
            _ if labels.contains("verb=\"WATCH\"") => continue,
            "apiserver_request_duration_seconds_count" | "apiserver_request_duration_seconds_sum" => {
                let (verb, resource) = (label(labels, "verb"), label(labels, "resource"));
                let sub = label(labels, "subresource").filter(|s| !s.is_empty()).map(|s| format!("/{s}"));
                let key =
                    format!("{} {}{}", verb.unwrap_or_default(), resource.unwrap_or_default(), sub.unwrap_or_default());
                (key, name.ends_with("_count"))
            }
            "apiserver_watch_events_total" | "apiserver_watch_events_sizes_sum" => {
                let kind = label(labels, "kind").or_else(|| label(labels, "resource")).unwrap_or_default();
                (format!("watch events {kind}"), name.ends_with("_total"))
            }
            _ => continue,
        };
        let entry = served.entry(key).or_default();
        if count { entry.0 += value } else { entry.1 += value }
    }
    served
}

/// What the API server served between two [`apiserver_requests`], the busiest first (by seconds; watch events
/// by count), and the control plane's CPU by component between two [`control_plane_cpu_by_component`].
fn control_plane_costs(before: &ControlPlane, after: &ControlPlane) -> String {
    let cpu: Vec<String> = after
        .1
        .iter()
        .map(|(component, s)| format!("{component} {:.1} s", s - before.1.get(component).copied().unwrap_or(0.0)))
        .collect();
    let mut served: Vec<(String, f64, f64)> = after
        .0
        .iter()
        .map(|(key, (n, s))| {
            let (n0, s0) = before.0.get(key).copied().unwrap_or_default();
            (key.clone(), n - n0, s - s0)
        })
        .filter(|(_, n, _)| *n > 0.0)
        .collect();
    served.sort_by(|a, b| {
        let weight = |e: &(String, f64, f64)| if e.0.starts_with("watch") { e.1 / 1e3 } else { e.2 };
        weight(b).total_cmp(&weight(a))
    });
    let served: Vec<String> = served
        .iter()
        .take(12)
        .map(|(key, n, s)| {
            if key.starts_with("watch") {
                format!("{key} {n:.0} ({:.1} MB)", s / 1e6)
            } else {
                format!("{key} {n:.0} in {s:.1} s")
            }
        })
        .collect();
    format!("CPU {}; served: {}", cpu.join(", "), served.join(", "))
}

/// The API server's requests and watch events ([`apiserver_requests`]) and the control plane's CPU by component.
type ControlPlane = (BTreeMap<String, (f64, f64)>, BTreeMap<String, f64>);

/// The control plane's counters now, for [`control_plane_costs`].
async fn control_plane_snapshot(client: &Client, cluster_dir: &str) -> ControlPlane {
    (apiserver_requests(client).await, control_plane_cpu_by_component(cluster_dir))
}

/// A counter summed over label sets from the operator's /metrics.
async fn metric(addr: &str, name: &str, label_filter: &[&str]) -> f64 {
    let Ok(text) = reqwest_text(addr).await else { return -1.0 };
    text.lines()
        .filter(|l| l.starts_with(name) && label_filter.iter().any(|f| l.contains(f)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The operator's writes by resource (`secrets 1000, miners/status 3000`), from its /metrics: where its
/// writes go, printed beside the tables.
async fn writes_by_resource(addr: &str) -> String {
    let Ok(text) = reqwest_text(addr).await else { return String::new() };
    let prefix = "sealstack_operator_kube_writes_total{resource=\"";
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix)?.split_once("\"} "))
        .map(|(resource, count)| format!("{resource} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The series of counter `name` from the operator's /metrics, as `{labels} value` pairs (e.g. its reconcile errors
/// by error), printed beside the tables.
async fn series(addr: &str, name: &str) -> String {
    let Ok(text) = reqwest_text(addr).await else { return String::new() };
    text.lines().filter_map(|l| l.strip_prefix(name)).collect::<Vec<_>>().join(", ")
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

/// `n` applies, `CONCURRENCY` in flight; each index's applies (`apply(i)`) run in order. Returns the time.
async fn timed_applies<F, Fut>(n: usize, apply: F) -> Duration
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), kube::Error>>,
{
    let start = Instant::now();
    futures::stream::iter((0..n).map(apply))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("applies succeed");
    start.elapsed()
}

async fn apply_json<K>(api: &Api<K>, name: &str, object: serde_json::Value) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + std::fmt::Debug + k8s_openapi::serde::de::DeserializeOwned,
{
    api.patch(name, &PatchParams::apply("bench").force(), &Patch::Apply(object)).await.map(|_| ())
}

async fn run_size(cluster: &Cluster, client: &Client, bin: &str, kubeconfig: &str, n: usize) -> String {
    // Floor A: the N StatefulSets applied by a plain client.
    let floor_ns = cluster.namespace("bench-floor").await.expect("a namespace");
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), floor_ns.name());
    let namespace = floor_ns.name().to_owned();
    let children_floor = timed_applies(n, |i| {
        let (sets, set) = (sets.clone(), worker_set(&format!("w{i}"), &namespace, None));
        async move { apply_set(&sets, &set).await }
    })
    .await;
    // Floor B: everything the measured path applies, by a plain client: each SealingWorker, then its
    // StatefulSet (no operator runs in this namespace).
    let pipeline_ns = cluster.namespace("bench-pfloor").await.expect("a namespace");
    let workers: Api<SealingWorker> = Api::namespaced(client.clone(), pipeline_ns.name());
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), pipeline_ns.name());
    let cluster_dir = cluster_dir(kubeconfig);
    let floor_cpu = control_plane_cpu_seconds(cluster_dir);
    let namespace = pipeline_ns.name().to_owned();
    let pipeline_floor = timed_applies(n, |i| {
        let (workers, sets, namespace) = (workers.clone(), sets.clone(), namespace.clone());
        async move { apply_worker_path(&workers, &sets, &namespace, i, false).await }
    })
    .await;
    let floor_cpu = control_plane_cpu_seconds(cluster_dir) - floor_cpu;
    // Floor C: the same writes as the measured path, by a plain client: each SealingWorker, its StatefulSet,
    // and the status the operator writes (built by its own function).
    let writes_ns = cluster.namespace("bench-cfloor").await.expect("a namespace");
    let workers: Api<SealingWorker> = Api::namespaced(client.clone(), writes_ns.name());
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), writes_ns.name());
    let namespace = writes_ns.name().to_owned();
    let writes_floor = timed_applies(n, |i| {
        let (workers, sets, namespace) = (workers.clone(), sets.clone(), namespace.clone());
        async move { apply_worker_path(&workers, &sets, &namespace, i, true).await }
    })
    .await;
    let _ = writes_ns.delete().await;
    let _ = pipeline_ns.delete().await;
    let _ = floor_ns.delete().await;
    settle(client).await;

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
    // The Miner's full node API info (never used while its ParamCache is not Ready). Without it the Miner fails
    // every reconcile, and each failure's Warning Event would count as a write at rest.
    sealstack_e2e::api_info_secret(client, ns.name(), sealstack_e2e::UNREACHED_API_INFO).await.expect("Secret");
    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    let miner: Miner = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m1"},
        "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                 "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
    }))
    .unwrap();
    miners.create(&PostParams::default(), &miner).await.expect("Miner");
    let workers: Api<SealingWorker> = Api::namespaced(client.clone(), ns.name());
    let (operator_cpu, control_plane_cpu) = (operator.cpu_seconds(), control_plane_cpu_seconds(cluster_dir));
    let start = Instant::now();
    let applies = timed_applies(n, |i| {
        let workers = workers.clone();
        async move {
            let name = format!("w{i}");
            apply_json(&workers, &name, worker_json(&name)).await
        }
    })
    .await;
    // The Miner's runtime StatefulSet is made too once its ParamCache is Ready; here it is not.
    wait_for_sets(client, ns.name(), None, n, Instant::now() + Duration::from_secs(600)).await;
    let operator_time = start.elapsed();
    let operator_cpu = operator.cpu_seconds() - operator_cpu;
    let control_plane_cpu = control_plane_cpu_seconds(cluster_dir) - control_plane_cpu;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let creation_writes = metric(metrics_addr, "sealstack_operator_kube_requests_total", WRITES).await;
    let creation_reads = metric(metrics_addr, "sealstack_operator_kube_requests_total", &["method=\"GET\""]).await;
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
    // The ParamCache and the Miner are reconciled in the resync too: their writes would show here.
    eprintln!("{n} SealingWorkers, resync: writes by resource: {}", writes_by_resource(metrics_addr).await);
    let rss_resync = operator.stop();
    let _ = ns.delete().await;
    let secs = |d: Duration| d.as_secs_f64();
    format!(
        "| {n} | {:.2} | {:.2} ({floor_cpu:.2}) | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} / {} | {operator_cpu:.2} / {control_plane_cpu:.2} | {rss_first:.1} / {rss_resync:.1} | {} (after {} reconciles) |",
        secs(children_floor),
        secs(pipeline_floor),
        secs(writes_floor),
        secs(operator_time),
        secs(applies),
        secs(operator_time) / secs(children_floor),
        secs(operator_time) / secs(pipeline_floor),
        secs(operator_time) / secs(writes_floor),
        creation_writes.max(0.0) as u64,
        creation_reads.max(0.0) as u64,
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
    // Before and after in the same run: each size is measured again with the baseline's binary (another
    // commit's release build), in a row of its own.
    let mut bins = vec![("", bin)];
    bins.extend(std::env::var("SEALSTACK_BENCH_BASELINE_BIN").ok().map(|b| ("baseline ", b)));
    // A row measured after another shares the cores with the garbage collection of the first row's objects:
    // SEALSTACK_BENCH_BASELINE_FIRST=1 puts the baseline first, so that the build measured pays for that.
    if std::env::var("SEALSTACK_BENCH_BASELINE_FIRST").is_ok_and(|v| v == "1") {
        bins.reverse();
    }
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
        "| N SealingWorkers | floor A: N child applies (s) | floor B: N SealingWorker + N child applies (s) (control-plane CPU s) | floor C: B + N status writes (s) | operator: first apply to all children (s) | of which applying the N (s) | ratio to A | ratio to B | ratio to C | operator writes / GETs (watches included) while creating | CPU while creating (s): operator / control plane | operator peak RSS (MiB): creating / resync | writes in a resync |".to_string(),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|".to_string(),
    ];
    for n in sizes("SEALSTACK_BENCH_SIZES") {
        for (label, bin) in &bins {
            let row = run_size(&cluster, &client, bin, kubeconfig, n).await.replacen("| ", &format!("| {label}"), 1);
            println!("{row}");
            rows.push(row);
            settle(&client).await;
        }
    }
    rows.push(String::new());
    rows.extend(miners::HEADER.map(String::from));
    for n in sizes("SEALSTACK_BENCH_MINER_SIZES") {
        for (label, bin) in &bins {
            let row = miners::run_size(&cluster, &client, bin, kubeconfig, n).await;
            let row = row.replacen("| ", &format!("| {label}"), 1);
            println!("{row}");
            rows.push(row);
            settle(&client).await;
        }
    }
    println!("\n{}", rows.join("\n"));
}
