//! The mining metrics (prefix `sealstack_miner`): rounds by result, blocks won, submitted, included and lost (by
//! reason), the WinningPoSt's duration and who made it, and the time from a new base to the block submitted.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::daemon::post_jobs::Prover;

/// `result` label of rounds: `not_eligible`, `lost_election`, `won`, `skipped` (already signed).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoundLabels {
    /// What the round gave.
    pub result: &'static str,
}

/// `reason` label of lost blocks: `late`, `orphaned`, `refused`, `proof_failed`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LostLabels {
    /// Why the block was lost.
    pub reason: &'static str,
}

/// `prover` label of WinningPoSts: `worker` (a PoSt worker's SNARK, checked) or `daemon`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProverLabels {
    /// Who made the SNARK.
    pub prover: &'static str,
}

/// The mining metrics.
#[derive(Clone)]
pub struct MiningMetrics {
    rounds: Family<RoundLabels, Counter>,
    /// Rounds won (a block to make).
    pub blocks_won: Counter,
    /// Blocks the node accepted.
    pub blocks_submitted: Counter,
    /// Blocks in the chain.
    pub blocks_included: Counter,
    lost: Family<LostLabels, Counter>,
    winning_post_seconds: Histogram,
    winning_posts: Family<ProverLabels, Counter>,
    block_seconds: Histogram,
    /// The epoch of the last block included.
    pub last_block_epoch: Gauge,
    /// Seconds the warm-up WinningPoSt took (the cold one).
    pub winning_post_warmup: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl MiningMetrics {
    /// The metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = MiningMetrics {
            rounds: Family::default(),
            blocks_won: Counter::default(),
            blocks_submitted: Counter::default(),
            blocks_included: Counter::default(),
            lost: Family::default(),
            winning_post_seconds: Histogram::new(exponential_buckets(0.05, 1.5, 20)),
            winning_posts: Family::default(),
            block_seconds: Histogram::new(exponential_buckets(0.05, 1.5, 20)),
            last_block_epoch: Gauge::default(),
            winning_post_warmup: Gauge::default(),
        };
        registry.register(
            "mining_rounds",
            "Mining rounds by result (not_eligible, lost_election, won, skipped)",
            metrics.rounds.clone(),
        );
        registry.register("blocks_won", "Rounds won: blocks to make", metrics.blocks_won.clone());
        registry.register(
            "blocks_submitted",
            "Blocks submitted and accepted by the node",
            metrics.blocks_submitted.clone(),
        );
        registry.register("blocks_included", "Blocks in the chain", metrics.blocks_included.clone());
        registry.register(
            "blocks_lost",
            "Blocks won and lost, by reason (late, orphaned, refused, proof_failed)",
            metrics.lost.clone(),
        );
        registry.register(
            "winning_post_seconds",
            "Duration of a WinningPoSt (vanilla proofs and SNARK)",
            metrics.winning_post_seconds.clone(),
        );
        registry.register(
            "winning_posts",
            "WinningPoSts made for won rounds, by who made the SNARK (worker, daemon)",
            metrics.winning_posts.clone(),
        );
        registry.register(
            "block_production_seconds",
            "Time from a new mining base to the block submitted",
            metrics.block_seconds.clone(),
        );
        registry.register("last_block_epoch", "The epoch of the last block included", metrics.last_block_epoch.clone());
        registry.register(
            "winning_post_warmup_seconds",
            "Duration of the warm-up WinningPoSt at start (parameters loaded: the cold one)",
            metrics.winning_post_warmup.clone(),
        );
        metrics
    }

    /// Counts a round.
    pub fn round(&self, result: &'static str) {
        self.rounds.get_or_create(&RoundLabels { result }).inc();
    }

    /// Counts a lost block.
    pub fn lost(&self, reason: &'static str) {
        self.lost.get_or_create(&LostLabels { reason }).inc();
    }

    /// Records a WinningPoSt: its duration and who made its SNARK.
    pub fn winning_post(&self, seconds: f64, prover: &Prover) {
        self.winning_post_seconds.observe(seconds);
        let prover = match prover {
            Prover::Worker(_) => "worker",
            Prover::Daemon => "daemon",
        };
        self.winning_posts.get_or_create(&ProverLabels { prover }).inc();
    }

    /// Records the time from the base to the block submitted.
    pub fn block_production(&self, seconds: f64) {
        self.block_seconds.observe(seconds);
    }
}
