//! Prometheus metrics of the operator: reconciles, their durations and errors, chain messages, and per Miner
//! whether its runtime is ready and how soon its next deadline with sectors opens (for the alert on a runtime
//! down before a deadline).

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Labels of the reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// `paramcache`, `miner` or `sealingworker`.
    pub controller: &'static str,
}

/// Labels of the reconcile error metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The controller.
    pub controller: &'static str,
    /// The error's metric label ([`crate::error::Error::metric_label`]).
    pub error: &'static str,
}

/// Labels of the chain message metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChainMessageLabels {
    /// The actor method (`CreateMiner`, `ChangeMultiaddrs`, ...).
    pub method: &'static str,
    /// `pushed`, `succeeded` or `failed`.
    pub outcome: &'static str,
}

/// Labels of the Kubernetes request metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubeRequestLabels {
    /// The HTTP method (`GET` reads and watches; anything else writes).
    pub method: String,
}

/// Labels of the Kubernetes write metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KubeWriteLabels {
    /// The resource written, with its subresource (`secrets`, `miners/status`, `events`): bounded by the kinds
    /// the operator's role lets it write.
    pub resource: String,
}

/// Labels of the per-Miner gauges (one series per Miner: bounded by the Miners the operator serves).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MinerLabels {
    /// The Miner's namespace.
    pub namespace: String,
    /// The Miner's name.
    pub miner: String,
}

/// Every metric the operator exports.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    durations: Family<ControllerLabels, Histogram>,
    chain_messages: Family<ChainMessageLabels, Counter>,
    kube_requests: Family<KubeRequestLabels, Counter>,
    kube_writes: Family<KubeWriteLabels, Counter>,
    runtime_ready: Family<MinerLabels, Gauge>,
    next_deadline: Family<MinerLabels, Gauge<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sealstack_operator");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let durations = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        let chain_messages = Family::<ChainMessageLabels, Counter>::default();
        let kube_requests = Family::<KubeRequestLabels, Counter>::default();
        registry.register("reconciles", "Reconciles started", reconciles.clone());
        registry.register("reconcile_errors", "Reconciles that failed, by error", errors.clone());
        registry.register("reconcile_duration_seconds", "Duration of reconciles", durations.clone());
        registry.register(
            "chain_messages",
            "Chain messages the operator pushed and their outcomes",
            chain_messages.clone(),
        );
        registry.register("kube_requests", "Requests to the Kubernetes API, by HTTP method", kube_requests.clone());
        let kube_writes = Family::<KubeWriteLabels, Counter>::default();
        registry.register("kube_writes", "Requests to the Kubernetes API that write, by resource", kube_writes.clone());
        let runtime_ready = Family::<MinerLabels, Gauge>::default();
        let next_deadline = Family::<MinerLabels, Gauge<f64, AtomicU64>>::default();
        registry.register("miner_runtime_ready", "1 while the Miner's runtime pod is ready", runtime_ready.clone());
        registry.register(
            "miner_next_deadline_seconds",
            "Seconds until the next WindowPoSt deadline holding sectors opens, while the runtime is not ready (NaN otherwise)",
            next_deadline.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            durations,
            chain_messages,
            kube_requests,
            kube_writes,
            runtime_ready,
            next_deadline,
        }
    }
}

impl Metrics {
    /// Counts a reconcile start; the returned guard records its duration when dropped.
    pub fn reconcile(self: &Arc<Self>, controller: &'static str) -> ReconcileTimer {
        self.reconciles.get_or_create(&ControllerLabels { controller }).inc();
        ReconcileTimer { metrics: self.clone(), controller, started: Instant::now() }
    }

    /// Counts a failed reconcile.
    pub fn reconcile_failed(&self, controller: &'static str, error: &'static str) {
        self.errors.get_or_create(&ErrorLabels { controller, error }).inc();
    }

    /// Counts a chain message event.
    pub fn chain_message(&self, method: &'static str, outcome: &'static str) {
        self.chain_messages.get_or_create(&ChainMessageLabels { method, outcome }).inc();
    }

    /// Records whether a Miner's runtime is ready and, while it is not, how many seconds remain until its next
    /// deadline with sectors opens (`None`: none, or not known).
    pub fn miner_runtime(&self, namespace: &str, miner: &str, ready: bool, next_deadline: Option<f64>) {
        let labels = MinerLabels { namespace: namespace.to_owned(), miner: miner.to_owned() };
        self.runtime_ready.get_or_create(&labels).set(i64::from(ready));
        self.next_deadline.get_or_create(&labels).set(next_deadline.unwrap_or(f64::NAN));
    }

    /// Counts a request to the Kubernetes API, `method` on the URL path `path`; a write also by its resource.
    pub fn kube_request(&self, method: &str, path: &str) {
        self.kube_requests.get_or_create(&KubeRequestLabels { method: method.to_owned() }).inc();
        if method != "GET" {
            self.kube_writes.get_or_create(&KubeWriteLabels { resource: resource_of(path) }).inc();
        }
    }

    /// Requests to the Kubernetes API that could change something (every method but GET).
    pub fn kube_writes(&self) -> u64 {
        let mut writes = 0;
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            writes += self.kube_requests.get_or_create(&KubeRequestLabels { method: method.to_owned() }).get();
        }
        writes
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Records a reconcile's duration when dropped.
pub struct ReconcileTimer {
    metrics: Arc<Metrics>,
    controller: &'static str,
    started: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        self.metrics.durations.get_or_create(&ControllerLabels { controller: self.controller }).observe(seconds);
    }
}

/// The resource a Kubernetes API path names, with its subresource: `/api/v1/namespaces/a/secrets/s` ->
/// `secrets`, `/apis/g/v1/namespaces/a/miners/m/status` -> `miners/status`, `/apis/g/v1/nodes` -> `nodes`.
fn resource_of(path: &str) -> String {
    let segments: Vec<&str> = path.split('?').next().unwrap_or_default().split('/').filter(|s| !s.is_empty()).collect();
    // After `api/v1` or `apis/group/version`.
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..),
        Some(&"apis") => segments.get(3..),
        _ => None,
    }
    .unwrap_or_default();
    let rest = match rest {
        ["namespaces", _, rest @ ..] if !rest.is_empty() => rest,
        rest => rest,
    };
    match rest {
        [resource, _, subresource, ..] => format!("{resource}/{subresource}"),
        [resource, ..] => (*resource).to_owned(),
        [] => "other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_labelled_by_resource_and_subresource() {
        assert_eq!(resource_of("/api/v1/namespaces/a/secrets/s"), "secrets");
        assert_eq!(resource_of("/api/v1/namespaces/a/secrets?fieldManager=x"), "secrets");
        assert_eq!(resource_of("/apis/sealstack.io/v1alpha1/namespaces/a/miners/m/status"), "miners/status");
        assert_eq!(resource_of("/apis/events.k8s.io/v1/namespaces/a/events"), "events");
        assert_eq!(resource_of("/api/v1/namespaces/a"), "namespaces");
        assert_eq!(resource_of("/api/v1/nodes/n"), "nodes");
        assert_eq!(resource_of("/version"), "other");
    }

    #[test]
    fn counts_appear_in_the_text_format() {
        let metrics = Arc::new(Metrics::default());
        drop(metrics.reconcile("miner"));
        drop(metrics.reconcile("miner"));
        metrics.reconcile_failed("miner", "kube");
        metrics.chain_message("CreateMiner", "pushed");
        metrics.kube_request("GET", "/api/v1/namespaces/a/secrets");
        metrics.kube_request("PATCH", "/apis/sealstack.io/v1alpha1/namespaces/a/miners/m/status");
        metrics.kube_request("DELETE", "/api/v1/namespaces/a/pods/p");
        assert_eq!(metrics.kube_writes(), 2);
        let text = metrics.encode();
        assert!(text.contains(r#"sealstack_operator_kube_writes_total{resource="miners/status"} 1"#), "{text}");
        assert!(text.contains(r#"sealstack_operator_kube_writes_total{resource="pods"} 1"#), "{text}");
        assert!(!text.contains(r#"resource="secrets""#), "reads are not writes: {text}");
        assert!(text.contains("sealstack_operator_reconciles_total{controller=\"miner\"} 2"), "{text}");
        assert!(
            text.contains("sealstack_operator_reconcile_errors_total{controller=\"miner\",error=\"kube\"} 1"),
            "{text}"
        );
        assert!(text.contains("sealstack_operator_reconcile_duration_seconds_count{controller=\"miner\"} 2"), "{text}");
        assert!(
            text.contains("sealstack_operator_chain_messages_total{method=\"CreateMiner\",outcome=\"pushed\"} 1"),
            "{text}"
        );
    }
}
