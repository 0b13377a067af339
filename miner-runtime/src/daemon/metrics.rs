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

/// `method` label of batched messages (`pre-commit-batch`, `prove-commit-aggregate`, `prove-commit-batch`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// The batch's step.
    pub method: String,
}

/// `kind` label of the balance gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BalanceLabels {
    /// Which balance: `actor`, `available`, `locked`, `initial_pledge`, `pre_commit_deposits`, `fee_debt`, `worker`,
    /// `owner`.
    pub kind: &'static str,
}

/// `worker` and `outcome` labels of PoSt tasks.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PostTaskLabels {
    /// The worker's name (bounded by the pool's size).
    pub worker: String,
    /// `done` (a valid proof used), `failed` (an error or a proof that does not verify) or `late` (after the
    /// job was settled).
    pub outcome: &'static str,
}

/// `purpose` label of the check durations: `proof`, `declaration` or `request`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PurposeLabels {
    /// Why the sectors were checked.
    pub purpose: &'static str,
}

/// `kind` label of the power gauges: `raw` or `quality_adjusted`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PowerLabels {
    /// Raw-byte or quality-adjusted power.
    pub kind: &'static str,
}

/// `state` label of the on-chain sector counts: `live`, `active`, `faulty`, `recovering`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChainSectorLabels {
    /// The sectors' state on chain.
    pub state: &'static str,
}

/// The actor's and its addresses' balances, attoFIL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    /// The actor's balance.
    pub balance: fvm_shared::econ::TokenAmount,
    /// What it could spend (negative in fee debt).
    pub available: fvm_shared::econ::TokenAmount,
    /// Vesting funds locked.
    pub locked: fvm_shared::econ::TokenAmount,
    /// The pledge of its sectors.
    pub initial_pledge: fvm_shared::econ::TokenAmount,
    /// Deposits of pre-committed sectors.
    pub pre_commit_deposits: fvm_shared::econ::TokenAmount,
    /// Unpaid fees.
    pub fee_debt: fvm_shared::econ::TokenAmount,
    /// The worker address's wallet balance.
    pub worker: fvm_shared::econ::TokenAmount,
    /// The owner address's wallet balance.
    pub owner: fvm_shared::econ::TokenAmount,
}

/// An attoFIL amount as FIL, for a gauge (FIL fit a float's precision where an operator looks).
fn as_fil(amount: &fvm_shared::econ::TokenAmount) -> f64 {
    amount.atto().to_string().parse::<f64>().unwrap_or(f64::NAN) / 1e18
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
    batched_sectors: Family<MethodLabels, Counter>,
    power: Family<PowerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    chain_sectors: Family<ChainSectorLabels, Gauge>,
    balances: Family<BalanceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// 1 while the worker's balance is under `--worker-balance-low`.
    pub worker_balance_low: Gauge,
    sector_checks: Family<OutcomeLabels, Counter>,
    check_seconds: Family<PurposeLabels, Histogram>,
    snark_seconds: Histogram,
    deadline_seconds: Histogram,
    declarations: Family<OutcomeLabels, Counter>,
    post_tasks: Family<PostTaskLabels, Counter>,
    /// Whether the daemon is ready (chain connected, API serving).
    pub ready: AtomicBool,
    /// Mining: rounds, blocks won, submitted, included and lost, WinningPoSt durations.
    pub mining: super::mining::metrics::MiningMetrics,
    /// Sector lifecycle: sectors expiring soon, sectors extended.
    pub lifecycle: super::lifecycle::metrics::LifecycleMetrics,
    /// Long-term stores: bytes and sectors per store.
    pub storage: super::storage::metrics::StorageMetrics,
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
        let batched_sectors = Family::<MethodLabels, Counter>::default();
        registry.register(
            "batched_sectors",
            "Sectors carried by landed batched messages (PreCommit batches, ProveCommit batches and aggregates)",
            batched_sectors.clone(),
        );
        let power = Family::<PowerLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        let chain_sectors = Family::<ChainSectorLabels, Gauge>::default();
        let balances = Family::<BalanceLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        let worker_balance_low = Gauge::default();
        let sector_checks = Family::<OutcomeLabels, Counter>::default();
        let check_seconds = Family::<PurposeLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 20))
        });
        let snark_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 20));
        let deadline_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 20));
        let declarations = Family::<OutcomeLabels, Counter>::default();
        let post_tasks = Family::<PostTaskLabels, Counter>::default();
        registry.register("power_bytes", "The miner's power on chain, by kind (raw, quality_adjusted)", power.clone());
        registry.register(
            "chain_sectors",
            "The miner's sectors on chain, by state (live, active, faulty, recovering)",
            chain_sectors.clone(),
        );
        registry.register(
            "balance_fil",
            "Balances in FIL, by kind (actor, available, locked, ..., worker, owner)",
            balances.clone(),
        );
        registry.register(
            "worker_balance_low",
            "1 while the worker's balance is under --worker-balance-low",
            worker_balance_low.clone(),
        );
        registry.register(
            "sector_checks",
            "Sectors checked before proving, by outcome (good, bad)",
            sector_checks.clone(),
        );
        registry.register(
            "sector_check_seconds",
            "Duration of one round of sector checks, by purpose (proof: the deadline's challenge; declaration: \
             ahead of a fault cutoff; request: CheckProvable)",
            check_seconds.clone(),
        );
        registry.register(
            "window_post_snark_seconds",
            "Duration of one WindowPoSt message's SNARK",
            snark_seconds.clone(),
        );
        registry.register(
            "window_post_deadline_seconds",
            "Duration of a deadline's WindowPoSt work: from its start to the last message pushed",
            deadline_seconds.clone(),
        );
        registry.register("declarations", "Sectors declared, by outcome (faulty, recovered)", declarations.clone());
        registry.register(
            "post_tasks",
            "PoSt SNARKs of workers, by worker and outcome (done, failed, late)",
            post_tasks.clone(),
        );
        let mining = super::mining::metrics::MiningMetrics::register(&mut registry);
        let lifecycle = super::lifecycle::metrics::LifecycleMetrics::register(&mut registry);
        let storage = super::storage::metrics::StorageMetrics::register(&mut registry);
        Metrics {
            storage,
            mining,
            lifecycle,
            power,
            chain_sectors,
            balances,
            worker_balance_low,
            sector_checks,
            check_seconds,
            snark_seconds,
            deadline_seconds,
            declarations,
            post_tasks,
            registry,
            sectors,
            tasks,
            task_durations,
            workers,
            proving_deadline,
            winning_post_eligible,
            window_posts,
            chain_messages,
            batched_sectors,
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

    /// Sets the power gauges from StateMinerPower's decimal strings.
    pub fn set_power(&self, raw: &str, quality_adjusted: &str) {
        for (kind, value) in [("raw", raw), ("quality_adjusted", quality_adjusted)] {
            self.power.get_or_create(&PowerLabels { kind }).set(value.parse().unwrap_or(f64::NAN));
        }
    }

    /// Sets the on-chain sector counts.
    pub fn set_sector_counts(&self, live: u64, active: u64, faulty: u64, recovering: u64) {
        for (state, count) in [("live", live), ("active", active), ("faulty", faulty), ("recovering", recovering)] {
            self.chain_sectors.get_or_create(&ChainSectorLabels { state }).set(count as i64);
        }
    }

    /// Sets the balance gauges.
    pub fn set_balances(&self, balances: &Balances) {
        for (kind, amount) in [
            ("actor", &balances.balance),
            ("available", &balances.available),
            ("locked", &balances.locked),
            ("initial_pledge", &balances.initial_pledge),
            ("pre_commit_deposits", &balances.pre_commit_deposits),
            ("fee_debt", &balances.fee_debt),
            ("worker", &balances.worker),
            ("owner", &balances.owner),
        ] {
            self.balances.get_or_create(&BalanceLabels { kind }).set(as_fil(amount));
        }
    }

    /// Counts one round of sector checks and records its duration.
    pub fn sector_checks(&self, purpose: &'static str, good: u64, bad: u64, seconds: f64) {
        self.sector_checks.get_or_create(&OutcomeLabels { outcome: "good" }).inc_by(good);
        self.sector_checks.get_or_create(&OutcomeLabels { outcome: "bad" }).inc_by(bad);
        self.check_seconds.get_or_create(&PurposeLabels { purpose }).observe(seconds);
    }

    /// Records the duration of a deadline's WindowPoSt work, start to last push.
    pub fn window_post_deadline(&self, seconds: f64) {
        self.deadline_seconds.observe(seconds);
    }

    /// Records the duration of one WindowPoSt SNARK.
    pub fn window_post_snark(&self, seconds: f64) {
        self.snark_seconds.observe(seconds);
    }

    /// Counts a worker's PoSt answer.
    pub fn post_task(&self, worker: &str, outcome: &'static str) {
        self.post_tasks.get_or_create(&PostTaskLabels { worker: worker.to_string(), outcome }).inc();
    }

    /// Counts sectors declared faulty.
    pub fn faults_declared(&self, sectors: u64) {
        self.declarations.get_or_create(&OutcomeLabels { outcome: "faulty" }).inc_by(sectors);
    }

    /// Counts sectors declared recovered.
    pub fn recoveries_declared(&self, sectors: u64) {
        self.declarations.get_or_create(&OutcomeLabels { outcome: "recovered" }).inc_by(sectors);
    }

    /// Counts a chain message.
    pub fn chain_message(&self, method: &str, outcome: &'static str) {
        self.chain_messages.get_or_create(&MessageLabels { method: method.to_string(), outcome }).inc();
    }

    /// Counts the sectors of a landed batched message.
    pub fn batched_sectors(&self, method: &str, sectors: usize) {
        self.batched_sectors.get_or_create(&MethodLabels { method: method.to_string() }).inc_by(sectors as u64);
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
    fn the_chart_dashboard_and_alerts_query_only_metrics_the_daemon_exports() {
        let metrics = Metrics::default();
        metrics.set_sectors([SectorState::Proving]);
        metrics.task("Commit2", "ok", Some(1.0));
        metrics.window_post("accepted");
        metrics.chain_message("pre-commit", "ok");
        metrics.batched_sectors("prove-commit-aggregate", 4);
        metrics.set_power("2048", "2048");
        metrics.set_sector_counts(1, 1, 0, 0);
        metrics.set_balances(&Balances::default());
        metrics.sector_checks("proof", 1, 0, 0.1);
        metrics.faults_declared(1);
        metrics.window_post_snark(1.0);
        metrics.window_post_deadline(1.0);
        let dir = tempfile::tempdir().unwrap();
        let config = crate::daemon::storage::StoreConfig { path: dir.path().into(), weight: 10, max_bytes: 0 };
        let store = crate::daemon::storage::Store::attach(&config).unwrap();
        metrics.storage.record(&[crate::daemon::storage::StoreState { usage: store.usage(1000), store }]);
        let exported = metrics.encode();
        let families: Vec<&str> =
            exported.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
        // The dashboard's panels and the chart's alert rules.
        let read =
            |file: &str| std::fs::read_to_string(format!("{}/../charts/sealstack/{file}", env!("CARGO_MANIFEST_DIR")));
        let dashboard = read("dashboards/sealstack.json").unwrap() + &read("templates/prometheusrule.yaml").unwrap();
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
