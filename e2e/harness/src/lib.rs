//! Helper for integration tests that need a real Kubernetes API: the local cluster started by
//! `e2e/cluster/up.sh` (or kind via `e2e/kind/test.sh`).
//!
//! ```ignore
//! #[tokio::test]
//! async fn something() {
//!     let Some(cluster) = sealstack_e2e::Cluster::connect().await else { return };
//!     let ns = cluster.namespace("something").await.unwrap();
//!     // use cluster.client() and ns.name(); the namespace is deleted when `ns` drops.
//! }
//! ```
//!
//! The cluster is the one `SEALSTACK_KUBECONFIG` names, and only a cluster started for tests: `e2e/cluster/up.sh`
//! marks the test suite's cluster (e2e/cluster/e2e-env.sh) with the ConfigMap `kube-system/sealstack-e2e`, and
//! any other cluster (the one `scripts/demo.sh` leaves running, say) is refused with a message saying why.
//! Without `SEALSTACK_KUBECONFIG`, [`Cluster::connect`] prints one `skipped: no cluster` line per test binary and
//! returns `None`, so plain `cargo test` passes whatever else runs on the machine; with `SEALSTACK_E2E=1` a
//! missing cluster fails the test instead.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

pub mod tools;

/// Environment variable naming the kubeconfig of the test cluster.
pub const KUBECONFIG_ENV: &str = "SEALSTACK_KUBECONFIG";
/// Environment variable that, set to `1`, makes a missing cluster a test failure.
pub const REQUIRE_ENV: &str = "SEALSTACK_E2E";
/// Label put on every namespace the harness creates.
pub const NAMESPACE_LABEL: &str = "sealstack.io/e2e";
/// Label (value `true`) and `NoSchedule` taint key of nodes with a real kubelet, where pods
/// really run (e2e/cluster/node.sh); the other nodes of the local cluster are kwok's fakes.
pub const REAL_NODE_LABEL: &str = "sealstack.io/real-node";
/// Environment variable that, set to `1`, makes a cluster without a real node a test failure.
pub const REQUIRE_REAL_NODE_ENV: &str = "SEALSTACK_E2E_REAL_NODE";

/// The ConfigMap (namespace, name) that marks a cluster as started for tests (`e2e/cluster/up.sh` with
/// `SEALSTACK_CLUSTER_PURPOSE=e2e`, `e2e/kind/test.sh`).
pub const TEST_CLUSTER_MARK: (&str, &str) = ("kube-system", "sealstack-e2e");

/// The kubeconfig of the test cluster: `$SEALSTACK_KUBECONFIG`, and nothing else (a cluster found elsewhere,
/// such as the demo's in `~/.cache/sealstack/cluster`, is a user's, not the tests').
pub fn kubeconfig_path() -> Option<PathBuf> {
    std::env::var_os(KUBECONFIG_ENV).filter(|p| !p.is_empty()).map(PathBuf::from)
}

/// Whether `SEALSTACK_E2E=1`: tests must run, a missing cluster is an error.
pub fn cluster_required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// Writes straight to stderr so that the line shows even when libtest captures output.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A reachable test cluster.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    config: Config,
}

impl Cluster {
    /// Connects to the test cluster; `None` (after printing `skipped: no cluster`, once per test binary) when
    /// `SEALSTACK_KUBECONFIG` names none. Panics instead when `SEALSTACK_E2E=1`, when the cluster named is
    /// unreachable, or when it was not started for tests.
    pub async fn connect() -> Option<Self> {
        static SKIPPED: std::sync::Once = std::sync::Once::new();
        match Self::try_connect().await {
            Ok(Some(cluster)) => Some(cluster),
            Ok(None) if cluster_required() => {
                panic!("{REQUIRE_ENV}=1 but no cluster: set {KUBECONFIG_ENV} (e2e/cluster/test.sh starts one)")
            }
            Ok(None) => {
                SKIPPED.call_once(|| {
                    say(&format!(
                        "skipped: no cluster (cluster tests run with {KUBECONFIG_ENV} set: e2e/cluster/test.sh)"
                    ))
                });
                None
            }
            Err(e) => panic!("test cluster unusable: {e:#}"),
        }
    }

    /// Like [`Cluster::connect`] but returns errors instead of printing or panicking.
    pub async fn try_connect() -> anyhow::Result<Option<Self>> {
        let Some(path) = kubeconfig_path() else { return Ok(None) };
        sealstack_telemetry::install_crypto_provider();
        let kubeconfig = Kubeconfig::read_from(&path).with_context(|| format!("reading {}", path.display()))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .with_context(|| format!("loading {}", path.display()))?;
        let client = Client::try_from(config.clone())?;
        let version = tokio::time::timeout(Duration::from_secs(20), client.apiserver_version())
            .await
            .with_context(|| format!("no answer from the API server of {} in 20 s", path.display()))?
            .with_context(|| format!("API server of {}", path.display()))?;
        let (mark_ns, mark) = TEST_CLUSTER_MARK;
        let marked = Api::<ConfigMap>::namespaced(client.clone(), mark_ns)
            .get_opt(mark)
            .await
            .with_context(|| format!("reading the test mark of {}", path.display()))?;
        if marked.is_none() {
            bail!(
                "refusing to run cluster tests against {} ({}): it was not started for tests (no ConfigMap \
                 {mark_ns}/{mark}); the tests never touch a user's cluster such as the demo's. \
                 e2e/cluster/test.sh starts a test cluster of its own",
                config.cluster_url,
                path.display()
            );
        }
        say(&format!("e2e cluster: {} ({})", version.git_version, path.display()));
        Ok(Some(Self { client, config }))
    }

    /// A client for the cluster (cheap to clone).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The name of a Ready node labelled [`REAL_NODE_LABEL`]`=true`; `None` (after printing
    /// `skipped: no real node`) when there is none. Panics instead when
    /// `SEALSTACK_E2E_REAL_NODE=1` (e2e/cluster/test.sh sets it when it started the node).
    pub async fn real_node(&self) -> Option<String> {
        let nodes = Api::<Node>::all(self.client());
        let params = ListParams::default().labels(&format!("{REAL_NODE_LABEL}=true"));
        let listed = nodes.list(&params).await.expect("listing nodes");
        let ready = listed.items.iter().find(|n| {
            let conditions = n.status.as_ref().and_then(|s| s.conditions.as_ref());
            conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        });
        match ready {
            Some(node) => Some(node.name_any()),
            None if std::env::var(REQUIRE_REAL_NODE_ENV).is_ok_and(|v| v == "1") => {
                panic!("{REQUIRE_REAL_NODE_ENV}=1 but no Ready node labelled {REAL_NODE_LABEL}=true")
            }
            None => {
                say(&format!("skipped: no real node (no Ready node labelled {REAL_NODE_LABEL}=true)"));
                None
            }
        }
    }

    /// The client configuration, for tests that build their own client (e.g. one counting its requests).
    pub fn config(&self) -> Config {
        self.config.clone()
    }

    /// Creates a fresh namespace `e2e-<prefix>-<unique>`, deleted when the guard drops.
    pub async fn namespace(&self, prefix: &str) -> anyhow::Result<TestNamespace> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let unique = format!("{:x}{:x}{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed));
        let prefix: String = prefix.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(30).collect();
        let name = format!("e2e-{}-{}", prefix.to_ascii_lowercase(), unique).chars().take(63).collect::<String>();
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {NAMESPACE_LABEL: "true"}}
        }))?;
        Api::<Namespace>::all(self.client()).create(&PostParams::default(), &ns).await?;
        Ok(TestNamespace { name, config: self.config.clone(), deleted: false })
    }
}

/// A namespace owned by one test; deleted (with everything in it) on [`TestNamespace::delete`]
/// or, failing that, when dropped.
pub struct TestNamespace {
    name: String,
    config: Config,
    deleted: bool,
}

impl TestNamespace {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the namespace now (the namespace controller then removes its contents).
    pub async fn delete(mut self) -> anyhow::Result<()> {
        self.deleted = true;
        delete_namespace(self.config.clone(), &self.name).await
    }
}

async fn delete_namespace(config: Config, name: &str) -> anyhow::Result<()> {
    let api = Api::<Namespace>::all(Client::try_from(config)?);
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // Drop cannot await, and the test's runtime may be the current thread: delete from a
        // separate thread with its own runtime and client.
        let (config, name) = (self.config.clone(), self.name.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(delete_namespace(config, &name))
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => say(&format!("warning: could not delete namespace {}: {e:#}", self.name)),
            Err(_) => say(&format!("warning: namespace {} cleanup panicked", self.name)),
        }
    }
}

/// Polls `check` every 250 ms until it returns `Some`, failing after `timeout` with `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Failed reconciles of `controller` (`miner`, `paramcache`, `sealingworker`) with the error label `error`, from
/// the text of the operator's metrics.
pub fn reconcile_errors(metrics: &str, controller: &str, error: &str) -> u64 {
    let prefix = format!("sealstack_operator_reconcile_errors_total{{controller=\"{controller}\",error=\"{error}\"}}");
    metrics.lines().find(|l| l.starts_with(&prefix)).and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0)
}

/// A ParamCache `params` (2KiB) in `namespace`, marked Ready by hand: for tests and benchmarks of the other
/// controllers (kwok nodes run no fetch Job that could verify its files).
pub async fn ready_param_cache(client: &Client, namespace: &str) -> anyhow::Result<()> {
    let caches: Api<sealstack_crds::ParamCache> = Api::namespaced(client.clone(), namespace);
    let cache = serde_json::from_value(serde_json::json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache", "metadata": {"name": "params"},
        "spec": {"sectorSizes": ["2KiB"], "gateway": "http://127.0.0.1:9/ipfs/", "storage": {"size": "1Gi"}},
    }))?;
    caches.create(&PostParams::default(), &cache).await?;
    let status = serde_json::json!({"status": {"conditions": [{"type": "Ready", "status": "True",
        "reason": "Verified", "message": "marked Ready by hand", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    caches.patch_status("params", &PatchParams::default(), &Patch::Merge(&status)).await?;
    Ok(())
}

/// A placeholder full node's API info, for a Miner that never reaches its node (it waits for its ParamCache).
pub const UNREACHED_API_INFO: &str = "token:/ip4/127.0.0.1/tcp/1234/http";

/// The Secret `lotus` in `namespace` holding the full node's API info `api_info` (`FULLNODE_API_INFO`), as the
/// test Miners name it: a Miner dereferences it before any write.
pub async fn api_info_secret(client: &Client, namespace: &str, api_info: &str) -> anyhow::Result<()> {
    let secret = serde_json::from_value(serde_json::json!({"metadata": {"name": "lotus"},
        "stringData": {"FULLNODE_API_INFO": api_info}}))?;
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await?;
    Ok(())
}

/// Server-side applies every CRD of `sealstack_crds` and waits until each is Established.
pub async fn install_crds(client: &Client) -> anyhow::Result<Vec<String>> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let params = PatchParams::apply("sealstack-e2e").force();
    let mut names = Vec::new();
    for crd in sealstack_crds::generate::all_crds() {
        let name = crd.name_any();
        api.patch(&name, &params, &Patch::Apply(&crd)).await?;
        names.push(name);
    }
    for name in &names {
        wait_for(&format!("CRD {name} Established"), Duration::from_secs(60), || async {
            let crd = api.get(name).await?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok(established.then_some(()))
        })
        .await?;
    }
    Ok(names)
}
