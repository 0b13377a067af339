//! Mining: lotus-miner's `miner.Miner` loop. For each round: wait until it opens (the node's beacon entry for it
//! exists: `StateGetBeaconEntry`), take the best base (`ChainHead`; the rounds since its height are null rounds),
//! and mine it ([`round::mine_one`]): eligible, elected, WinningPoSt, messages, block, submitted before the
//! round's deadline (`--block-delay-ms` minus `--propagation-delay-ms` after it opened). Every epoch signed is
//! journaled before the node signs ([`journal`]), so no epoch is ever signed twice, across restarts too. After
//! each round the blocks whose epoch closed are looked up in the chain: included (with their reward) or
//! orphaned ([`track`]). A warm-up WinningPoSt at start loads the parameters ([`prove::warm_up`]).

pub mod journal;
pub mod metrics;
pub mod prove;
pub mod round;
pub mod track;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sealstack_chain::FullNodeClient;

use super::Daemon;
use journal::MiningJournal;
use round::{Outcome, Round};

/// Mining settings.
#[derive(Clone, Debug)]
pub struct MiningConfig {
    /// Whether the daemon mines (`--no-mining` turns it off).
    pub enabled: bool,
    /// Time between epochs (default: the network's `BlockDelaySecs`).
    pub block_delay: Option<Duration>,
    /// The part of an epoch left for the block to reach the network (lotus `PropagationDelaySecs`: 1 s in its
    /// 2k build, 10 s of 30 on mainnet); a block not ready by `block_delay - propagation_delay` after its round
    /// opened is not signed (lost, late).
    pub propagation_delay: Duration,
    /// One WinningPoSt at start over a real sector.
    pub warm_up: bool,
}

impl Default for MiningConfig {
    fn default() -> Self {
        MiningConfig { enabled: true, block_delay: None, propagation_delay: Duration::from_secs(1), warm_up: true }
    }
}

impl MiningConfig {
    /// The time a round leaves to make its block: the block delay less the propagation allowance (at least half
    /// the block delay).
    pub fn deadline(&self, network_block_delay: Duration) -> Duration {
        let delay = self.block_delay.unwrap_or(network_block_delay);
        delay.checked_sub(self.propagation_delay).filter(|d| *d >= delay / 2).unwrap_or(delay / 2)
    }
}

/// Mines until the process ends (does nothing with `--no-mining`).
pub async fn run(daemon: Arc<Daemon>) {
    let config = daemon.config.mining.clone();
    if !config.enabled {
        tracing::info!("mining is off (--no-mining)");
        return;
    }
    let mut journal = match MiningJournal::open(daemon.repo.dir()) {
        Ok(journal) => journal,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "cannot open the mining journal: not mining");
            return;
        }
    };
    if config.warm_up {
        let daemon = daemon.clone();
        tokio::spawn(async move { prove::warm_up(&daemon).await });
    }
    let deadline = config.deadline(Duration::from_secs(daemon.network.block_delay_secs));
    tracing::info!(?deadline, min_power = %daemon.network.consensus_miner_min_power, "mining");
    let mut next = None;
    loop {
        if let Err(error) = step(&daemon, &mut journal, &mut next, deadline).await {
            tracing::warn!(error = format!("{error:#}"), "mining round");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Waits for the next round to open and mines it.
async fn step(
    daemon: &Daemon,
    journal: &mut MiningJournal,
    next: &mut Option<i64>,
    deadline: Duration,
) -> anyhow::Result<()> {
    let api = daemon.node.api();
    let head = api.chain_head().await.map_err(daemon.node.err())?;
    let epoch = next.filter(|n| *n > head.height).unwrap_or(head.height + 1);
    api.state_get_beacon_entry(epoch).await.map_err(daemon.node.err())?;
    let opened = Instant::now();
    let base = api.chain_head().await.map_err(daemon.node.err())?;
    if base.height >= epoch {
        // Behind: the round closed while this daemon was busy; take the newest base.
        *next = Some(base.height + 1);
        return Ok(());
    }
    let round = Round { base, epoch, opened };
    let outcome = round::mine_one(daemon, journal, &round, opened + deadline).await?;
    let mining = &daemon.metrics.mining;
    match &outcome {
        Outcome::NotEligible => mining.round("not_eligible"),
        Outcome::LostElection => mining.round("lost_election"),
        Outcome::AlreadySigned => mining.round("skipped"),
        Outcome::Late => {
            mining.round("won");
            mining.lost("late");
            tracing::warn!(epoch, took = ?opened.elapsed(), ?deadline, "block not ready before the round's deadline: not signed");
        }
        Outcome::ProofFailed(error) => {
            mining.round("won");
            mining.lost("proof_failed");
            tracing::error!(epoch, %error, "WinningPoSt failed: block lost");
        }
        Outcome::Submitted { cid } => {
            mining.round("won");
            tracing::info!(epoch, %cid, took = ?opened.elapsed(), "block submitted");
        }
        Outcome::Refused { late, message } => {
            mining.round("won");
            mining.lost(if *late { "late" } else { "refused" });
            tracing::warn!(epoch, %message, "the node refused the block");
        }
    }
    *next = Some(epoch + 1);
    track::decide(daemon, journal, epoch).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_leaves_the_propagation_allowance() {
        let config = MiningConfig::default();
        assert_eq!(config.deadline(Duration::from_secs(4)), Duration::from_secs(3));
        assert_eq!(config.deadline(Duration::from_secs(30)), Duration::from_secs(29));
        // Too short a block delay for the allowance: half of it.
        assert_eq!(config.deadline(Duration::from_secs(1)), Duration::from_millis(500));
        let set = MiningConfig { block_delay: Some(Duration::from_millis(6000)), ..config };
        assert_eq!(set.deadline(Duration::from_secs(1)), Duration::from_secs(5));
    }
}
