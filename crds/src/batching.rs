//! A Miner's batching of its sealing messages (`spec.sealing.batching`), lotus-miner's `[Sealing]` batching knobs:
//! the PreCommits of ready sectors sent together in one PreCommitSectorBatch2, their ProveCommits in one
//! ProveCommitSectors3 with one SnarkPack aggregate proof (from 4 sectors and a base fee above a threshold) or one
//! proof per sector. Off by default: one message per sector.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// builtin-actors' fewest sectors in an aggregate (`MIN_AGGREGATED_SECTORS`).
pub const MIN_AGGREGATED_SECTORS: u32 = 4;
/// builtin-actors' most sectors in an aggregate (`MAX_AGGREGATED_SECTORS`).
pub const MAX_AGGREGATED_SECTORS: u32 = 819;

/// Batched PreCommits and ProveCommits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchingSpec {
    /// PreCommitSectorBatch2 of many sectors (lotus `BatchPreCommits`).
    #[serde(default)]
    pub pre_commit: PreCommitBatching,
    /// ProveCommitSectors3 of many sectors, aggregated (lotus `AggregateCommits`).
    #[serde(default)]
    pub commit: CommitBatching,
}

/// When ready sectors' PreCommits go out together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreCommitBatching {
    /// Batch PreCommits (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Most sectors in one batch; a full batch goes at once (default 256, lotus `MaxPreCommitBatch`).
    #[serde(default = "default_max_pre_commit_batch")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 256").message("maxBatch must be between 1 and 256 sectors (lotus-miner's MaxPreCommitBatch)"))]
    pub max_batch: u32,
    /// How long the first ready sector waits for others, in hours, minutes and seconds (default 24h, lotus
    /// `PreCommitBatchWait`); a seal ticket about to expire sends the batch sooner.
    #[serde(default = "default_wait")]
    #[x_kube(validation = Rule::new("self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+s)?$') && self != '' && !self.matches('^(0+h)?(0+m)?(0+s)?$')").message("wait must be a positive duration in hours, minutes and seconds, such as 24h, 30m or 90s"))]
    pub wait: String,
}

/// When ready sectors' ProveCommits go out together, and when their proofs are aggregated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minAggregate <= self.maxBatch").message("minAggregate must not be more than maxBatch").field_path(".minAggregate"))]
pub struct CommitBatching {
    /// Batch ProveCommits (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Fewest sectors whose proofs are aggregated; a smaller batch carries one proof per sector (default 4,
    /// lotus `MinCommitBatch`; builtin-actors aggregates 4 to 819).
    #[serde(default = "default_min_aggregate")]
    #[x_kube(validation = Rule::new("self >= 4 && self <= 819").message("minAggregate must be between 4 and 819 sectors (builtin-actors' MIN_AGGREGATED_SECTORS and MAX_AGGREGATED_SECTORS)"))]
    pub min_aggregate: u32,
    /// Most sectors in one batch; a full batch goes at once (default 819, lotus `MaxCommitBatch`).
    #[serde(default = "default_max_commit_batch")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 819").message("maxBatch must be between 1 and 819 sectors (builtin-actors' MAX_AGGREGATED_SECTORS)"))]
    pub max_batch: u32,
    /// How long the first ready sector waits for others (default 24h, lotus `CommitBatchWait`); a pre-commit
    /// about to expire sends the batch sooner.
    #[serde(default = "default_wait")]
    #[x_kube(validation = Rule::new("self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+s)?$') && self != '' && !self.matches('^(0+h)?(0+m)?(0+s)?$')").message("wait must be a positive duration in hours, minutes and seconds, such as 24h, 30m or 90s"))]
    pub wait: String,
    /// Base fee, in attoFIL, at and above which a batch is aggregated; under it the sectors' own proofs cost
    /// less gas (default "150000000", lotus `AggregateAboveBaseFee` of 0.15 nanoFIL).
    #[serde(default = "default_aggregate_above_base_fee")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+$')").message("aggregateAboveBaseFee must be a whole number of attoFIL"))]
    pub aggregate_above_base_fee: String,
}

impl Default for PreCommitBatching {
    fn default() -> Self {
        PreCommitBatching { enabled: false, max_batch: default_max_pre_commit_batch(), wait: default_wait() }
    }
}

impl Default for CommitBatching {
    fn default() -> Self {
        CommitBatching {
            enabled: false,
            min_aggregate: default_min_aggregate(),
            max_batch: default_max_commit_batch(),
            wait: default_wait(),
            aggregate_above_base_fee: default_aggregate_above_base_fee(),
        }
    }
}

fn default_max_pre_commit_batch() -> u32 {
    256
}

fn default_min_aggregate() -> u32 {
    MIN_AGGREGATED_SECTORS
}

fn default_max_commit_batch() -> u32 {
    MAX_AGGREGATED_SECTORS
}

fn default_wait() -> String {
    "24h".into()
}

fn default_aggregate_above_base_fee() -> String {
    "150000000".into()
}
