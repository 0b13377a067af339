//! The daemon's Prometheus metrics (prefix `sealstack_miner`) and its HTTP endpoints: `/metrics`, `/healthz`
//! (the process serves) and `/readyz` (connected to the chain and serving the API).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::sectors::SectorState;

/// `state` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// The sector state.
    pub state: &'static str,
}

/// `task` and `outcome` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    /// The task kind.
    pub task: &'static str,
    /// `ok`, `failed` or `expired`.
    pub outcome: &'static str,
}

/// `task` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskKindLabels {
    /// The task kind.
    pub task: &'static str,
}

/// `outcome` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// What happened.
    pub outcome: &'static str,
}

/// `method` and `outcome` labels of chain messages.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageLabels {
    /// The message's step (`pre-commit`, `prove-commit`, `window-post`).
    pub method: String,
    /// `ok` or `failed`.
    pub outcome: &'static str,
}

/// Every metric of the daemon.
pub struct Metrics {
    registry: Registry,
    sectors: Family<StateLabels, Gauge>,
    tasks: Family<TaskLabels, Counter>,
    task_durations: Family<TaskKindLabels, Histogram>,
    /// Live workers.
    pub workers: Gauge,
    /// The current proving deadline's index.
    pub proving_deadline: Gauge,
    /// 1 when the miner meets the consensus minimum power (WinningPoSt eligibility), else 0.
    pub winning_post_eligible: Gauge,
    window_posts: Family<OutcomeLabels, Counter>,
    chain_messages: Family<MessageLabels, Counter>,
    /// Whether the daemon is ready (chain connected, API serving).
    pub ready: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sealstack_miner");
        let sectors = Family::<StateLabels, Gauge>::default();
        let tasks = Family::<TaskLabels, Counter>::default();
        let task_durations = Family::<TaskKindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 20))
        });
        let (workers, proving_deadline, winning_post_eligible) = (Gauge::default(), Gauge::default(), Gauge::default());
        let window_posts = Family::<OutcomeLabels, Counter>::default();
        let chain_messages = Family::<MessageLabels, Counter>::default();
        registry.register("sectors", "Sectors by state", sectors.clone());
        registry.register("tasks", "Worker tasks ended, by kind and outcome", tasks.clone());
        registry.register("task_duration_seconds", "Worker task durations, hand-out to result", task_durations.clone());
        registry.register("workers", "Workers heard from within a lease", workers.clone());
        registry.register("proving_deadline", "The current WindowPoSt deadline index", proving_deadline.clone());
        registry.register(
            "winning_post_eligible",
            "1 when the miner has the consensus minimum power and may win blocks",
            winning_post_eligible.clone(),
        );
        registry.register("window_posts", "WindowPoSt attempts by outcome", window_posts.clone());
        registry.register("chain_messages", "Chain messages sent, by step and outcome", chain_messages.clone());
        Metrics {
            registry,
            sectors,
            tasks,
            task_durations,
            workers,
            proving_deadline,
            winning_post_eligible,
            window_posts,
            chain_messages,
            ready: AtomicBool::new(false),
        }
    }
}

impl Metrics {
    /// Sets the sectors-by-state gauges from the states of all sectors.
    pub fn set_sectors(&self, states: impl IntoIterator<Item = SectorState>) {
        let mut counts = std::collections::HashMap::new();
        for state in states {
            *counts.entry(state).or_insert(0i64) += 1;
        }
        for state in SectorState::ALL {
            self.sectors
                .get_or_create(&StateLabels { state: state.as_str() })
                .set(counts.get(&state).copied().unwrap_or(0));
        }
    }

    /// Counts an ended task and records its duration.
    pub fn task(&self, task: &'static str, outcome: &'static str, seconds: Option<f64>) {
        self.tasks.get_or_create(&TaskLabels { task, outcome }).inc();
        if let Some(seconds) = seconds {
            self.task_durations.get_or_create(&TaskKindLabels { task }).observe(seconds);
        }
    }

    /// Counts a WindowPoSt attempt.
    pub fn window_post(&self, outcome: &'static str) {
        self.window_posts.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts a chain message.
    pub fn chain_message(&self, method: &str, outcome: &'static str) {
        self.chain_messages.get_or_create(&MessageLabels { method: method.to_string(), outcome }).inc();
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// What the endpoints read: the metrics, refreshed by `refresh` before each scrape.
#[derive(Clone)]
pub struct Endpoints {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// Brings the gauges up to date.
    pub refresh: Arc<dyn Fn() + Send + Sync>,
}

/// Serves the endpoints on `addr` until the process ends.
pub async fn serve(addr: SocketAddr, endpoints: Endpoints) -> anyhow::Result<()> {
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(e): State<Endpoints>| async move {
                (e.refresh)();
                ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], e.metrics.encode())
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(e): State<Endpoints>| async move {
                if e.metrics.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready\n")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                }
            }),
        )
        .with_state(endpoints);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "metrics and health endpoints");
    axum::serve(listener, app).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_encode_with_the_miner_prefix() {
        let metrics = Metrics::default();
        metrics.set_sectors([SectorState::Proving, SectorState::Proving, SectorState::Packing]);
        metrics.task("Commit2", "ok", Some(1.5));
        metrics.window_post("accepted");
        metrics.chain_message("pre-commit", "ok");
        let text = metrics.encode();
        assert!(text.contains("sealstack_miner_sectors{state=\"Proving\"} 2"), "{text}");
        assert!(text.contains("sealstack_miner_sectors{state=\"WaitSeed\"} 0"), "{text}");
        assert!(text.contains("sealstack_miner_tasks_total{task=\"Commit2\",outcome=\"ok\"} 1"), "{text}");
        assert!(text.contains("sealstack_miner_window_posts_total{outcome=\"accepted\"} 1"), "{text}");
        assert!(text.contains("sealstack_miner_chain_messages_total{method=\"pre-commit\",outcome=\"ok\"} 1"));
        assert!(text.contains("sealstack_miner_task_duration_seconds_count{task=\"Commit2\"} 1"), "{text}");
    }

    #[test]
    fn the_chart_dashboard_queries_only_metrics_the_daemon_exports() {
        let metrics = Metrics::default();
        metrics.set_sectors([SectorState::Proving]);
        metrics.task("Commit2", "ok", Some(1.0));
        metrics.window_post("accepted");
        metrics.chain_message("pre-commit", "ok");
        let exported = metrics.encode();
        let families: Vec<&str> =
            exported.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/sealstack/dashboards/sealstack.json");
        let dashboard = std::fs::read_to_string(path).unwrap();
        let mut queried = std::collections::BTreeSet::new();
        for (at, _) in dashboard.match_indices("sealstack_miner_") {
            let tail = &dashboard[at..];
            let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
            queried.insert(&tail[..end]);
        }
        assert!(queried.len() >= 5, "{queried:?}");
        for name in queried {
            let family =
                ["_total", "_bucket", "_count", "_sum"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            assert!(families.contains(&family), "the dashboard queries {name}, which the daemon does not export");
        }
    }
}
