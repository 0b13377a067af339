//! `run`'s batching flags (the Miner's `spec.sealing.batching`), with lotus-miner's knobs and defaults.

use std::time::Duration;

use clap::Args;
use fvm_shared::econ::TokenAmount;
use sealstack_miner::daemon::batching::{
    BatchingConfig, CommitBatching, MAX_AGGREGATED_SECTORS, MIN_AGGREGATED_SECTORS, PreCommitBatching,
};

/// builtin-actors' bounds of an aggregate, as the flags' ranges take them.
const MIN_AGGREGATED: u64 = MIN_AGGREGATED_SECTORS as u64;
const MAX_AGGREGATED: u64 = MAX_AGGREGATED_SECTORS as u64;

/// Batched PreCommits and batched or aggregated ProveCommits (lotus-miner's `[Sealing]` batching section).
#[derive(Debug, Args)]
pub struct BatchingArgs {
    /// Send the PreCommits of ready sectors together, in one PreCommitSectorBatch2 (lotus `BatchPreCommits`).
    #[arg(long)]
    pub batch_pre_commits: bool,
    /// Most sectors in one PreCommit batch: a full batch goes at once (lotus `MaxPreCommitBatch`).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub max_pre_commit_batch: u64,
    /// Seconds the first ready sector waits for others before its PreCommit batch goes (lotus
    /// `PreCommitBatchWait`); a ticket about to expire sends it sooner.
    #[arg(long, default_value_t = 86_400)]
    pub pre_commit_batch_wait_secs: u64,
    /// Send the ProveCommits of ready sectors together, in one ProveCommitSectors3, with one aggregate proof
    /// (SnarkPack) when there are enough of them (lotus `AggregateCommits`).
    #[arg(long)]
    pub batch_commits: bool,
    /// Fewest sectors whose proofs are aggregated; fewer go with one proof each (lotus `MinCommitBatch`;
    /// builtin-actors aggregates 4 to 819).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(MIN_AGGREGATED..=MAX_AGGREGATED))]
    pub min_commit_batch: u64,
    /// Most sectors in one ProveCommit batch: a full batch goes at once (lotus `MaxCommitBatch`).
    #[arg(long, default_value_t = 819, value_parser = clap::value_parser!(u64).range(1..=MAX_AGGREGATED))]
    pub max_commit_batch: u64,
    /// Seconds the first ready sector waits for others before its ProveCommit batch goes (lotus
    /// `CommitBatchWait`); a pre-commit about to expire sends it sooner.
    #[arg(long, default_value_t = 86_400)]
    pub commit_batch_wait_secs: u64,
    /// Base fee, in attoFIL, at and above which a ProveCommit batch is aggregated; under it each sector's proof
    /// goes in the batch as it is, which costs less gas (lotus `AggregateAboveBaseFee`, 0.15 nanoFIL).
    #[arg(long, default_value = "150000000", value_parser = crate::commands::amount::attofil)]
    pub aggregate_above_base_fee: TokenAmount,
}

impl BatchingArgs {
    /// The daemon's batching settings; refuses a minimum aggregate above the batch's most.
    pub fn config(&self) -> anyhow::Result<BatchingConfig> {
        let commit = if self.batch_commits {
            anyhow::ensure!(
                self.min_commit_batch <= self.max_commit_batch,
                "--min-commit-batch ({}) must not be more than --max-commit-batch ({})",
                self.min_commit_batch,
                self.max_commit_batch
            );
            Some(CommitBatching {
                min_aggregate: self.min_commit_batch as usize,
                max_batch: self.max_commit_batch as usize,
                wait: Duration::from_secs(self.commit_batch_wait_secs),
                aggregate_above_base_fee: self.aggregate_above_base_fee.clone(),
            })
        } else {
            None
        };
        let pre_commit = self.batch_pre_commits.then(|| PreCommitBatching {
            max_batch: self.max_pre_commit_batch as usize,
            wait: Duration::from_secs(self.pre_commit_batch_wait_secs),
        });
        Ok(BatchingConfig { pre_commit, commit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        batching: BatchingArgs,
    }

    fn parse(args: &[&str]) -> Result<BatchingConfig, String> {
        let command =
            Command::try_parse_from(std::iter::once("run").chain(args.iter().copied())).map_err(|e| e.to_string())?;
        command.batching.config().map_err(|e| e.to_string())
    }

    #[test]
    fn batching_is_off_unless_asked_and_takes_lotus_defaults() {
        assert_eq!(parse(&[]).unwrap(), BatchingConfig::default());
        let config = parse(&["--batch-pre-commits", "--batch-commits"]).unwrap();
        assert_eq!(config.pre_commit.unwrap().max_batch, 256);
        let commit = config.commit.unwrap();
        assert_eq!((commit.min_aggregate, commit.max_batch), (4, 819));
        assert_eq!(commit.wait, Duration::from_secs(86_400));
        assert_eq!(commit.aggregate_above_base_fee, TokenAmount::from_atto(150_000_000));
    }

    #[test]
    fn batches_beyond_builtin_actors_limits_are_refused() {
        let error = parse(&["--batch-commits", "--max-commit-batch", "820"]).unwrap_err();
        assert!(error.contains("--max-commit-batch"), "{error}");
        let error = parse(&["--batch-commits", "--min-commit-batch", "3"]).unwrap_err();
        assert!(error.contains("--min-commit-batch"), "{error}");
        let error = parse(&["--batch-commits", "--min-commit-batch", "10", "--max-commit-batch", "8"]).unwrap_err();
        assert!(error.contains("must not be more than --max-commit-batch"), "{error}");
        let error = parse(&["--batch-pre-commits", "--max-pre-commit-batch", "257"]).unwrap_err();
        assert!(error.contains("--max-pre-commit-batch"), "{error}");
    }
}
