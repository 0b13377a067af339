//! What became of the blocks submitted: once their epoch is behind the head, each is looked up in its epoch's
//! tipset (`ChainGetTipSetByHeight`): there, it is included, and its reward (the reward actor's
//! `ThisEpochReward` × win count / 5) is recorded; not there, it was orphaned. A block signed but never submitted
//! (the daemon stopped in between) is lost as late.

use fvm_shared::econ::TokenAmount;
use sealstack_chain::election::BLOCKS_PER_EPOCH;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use super::journal::{BlockFate, MiningJournal};
use crate::daemon::Daemon;

/// The reward actor's `ThisEpochReward`.
async fn epoch_reward(daemon: &Daemon) -> anyhow::Result<TokenAmount> {
    let reward = fvm_shared::address::Address::new_id(2);
    let state =
        daemon.node.api().state_read_state(LotusJson(reward), TipSetKey::head()).await.map_err(daemon.node.err())?;
    let text = state.state.get("ThisEpochReward").and_then(|v| v.as_str()).unwrap_or("0");
    Ok(TokenAmount::from_atto(text.parse::<fvm_shared::bigint::BigInt>().unwrap_or_default()))
}

/// Decides the blocks of epochs before `open` (the epoch being mined).
pub async fn decide(daemon: &Daemon, journal: &mut MiningJournal, open: i64) -> anyhow::Result<()> {
    let due: Vec<_> = journal.undecided().into_iter().filter(|b| b.epoch < open).collect();
    if due.is_empty() {
        return Ok(());
    }
    let api = daemon.node.api();
    let head = api.chain_head().await.map_err(daemon.node.err())?;
    for block in due {
        if block.epoch > head.height {
            continue;
        }
        if block.fate == BlockFate::Signed {
            journal.update(block.epoch, |b| b.fate = BlockFate::Lost { reason: "late".into() })?;
            daemon.metrics.mining.lost("late");
            continue;
        }
        let tipset = api.chain_get_tipset_by_height(block.epoch, head.key()).await.map_err(daemon.node.err())?;
        let included = tipset.height == block.epoch
            && block.cid.as_ref().is_some_and(|cid| tipset.cids.0.iter().any(|c| c.0.to_string() == *cid));
        if included {
            let reward = (epoch_reward(daemon).await? * block.win_count.max(0) as u64).div_floor(BLOCKS_PER_EPOCH);
            journal.update(block.epoch, |b| {
                b.fate = BlockFate::Included;
                b.reward_atto = Some(reward.atto().to_string());
            })?;
            daemon.metrics.mining.blocks_included.inc();
            daemon.metrics.mining.last_block_epoch.set(block.epoch);
            tracing::info!(
                epoch = block.epoch,
                cid = block.cid.as_deref().unwrap_or(""),
                "block included in the chain"
            );
        } else {
            journal.update(block.epoch, |b| b.fate = BlockFate::Lost { reason: "orphaned".into() })?;
            daemon.metrics.mining.lost("orphaned");
            tracing::warn!(epoch = block.epoch, "block orphaned: not in its epoch's tipset");
        }
    }
    Ok(())
}
