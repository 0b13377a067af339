//! The blocks a Miner produced, read from the chain on each resync while it has power (without power it cannot
//! win): the tipsets after the last one scanned (`ChainGetTipSetByHeight`, at most [`SCAN_MAX`] a resync; a
//! Miner seen for the first time is scanned from [`FIRST_SCAN`] epochs back), the blocks whose miner is the
//! actor, their win counts, and their rewards (the reward actor's `ThisEpochReward` × win count / 5). [`scan`]
//! makes the chain calls; [`fold`] is pure. The scan's cursor is kept in memory between resyncs and written to
//! the status only with new blocks, so a resync that finds none writes nothing.

use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};
use sealstack_chain::election::BLOCKS_PER_EPOCH;
use sealstack_chain::json::format_fil as fil;
use sealstack_chain::tipset::TipSet;
use sealstack_chain::{ChainError, FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_crds::Miner;
use sealstack_crds::mining::MiningStatus;
use tracing::{info, warn};

use crate::context::Context;

/// Epochs scanned back when a Miner is first seen (an hour on mainnet; `sinceEpoch` says where counting began).
pub const FIRST_SCAN: i64 = 120;
/// The most epochs one resync scans; a Miner behind catches up over several.
pub const SCAN_MAX: i64 = 300;

/// A block of the miner found in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundBlock {
    /// Its epoch.
    pub epoch: i64,
    /// Its CID.
    pub cid: String,
    /// Its win count.
    pub win_count: i64,
}

/// What a scan found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// The epochs scanned: `from..=to`.
    pub from: i64,
    /// The last epoch scanned.
    pub to: i64,
    /// The miner's blocks among them.
    pub blocks: Vec<FoundBlock>,
    /// The reward actor's epoch reward.
    pub epoch_reward: TokenAmount,
}

/// The miner's blocks in the tipsets.
pub fn blocks_of(actor: &Address, tipsets: &[TipSet]) -> Vec<FoundBlock> {
    let mut found = Vec::new();
    for tipset in tipsets {
        for (header, cid) in tipset.blocks.iter().zip(&tipset.cids.0) {
            if header.miner.0 == *actor {
                let win_count = header.election_proof.as_ref().map(|e| e.win_count).unwrap_or(0);
                found.push(FoundBlock { epoch: tipset.height, cid: cid.0.to_string(), win_count });
            }
        }
    }
    found
}

/// Reads the tipsets after what `previous` scanned (from [`FIRST_SCAN`] back for a new status), at most
/// [`SCAN_MAX`] of them, and the blocks of `actor` in them. `None` when there is nothing new.
pub async fn scan(node: &Node, actor: Address, previous: Option<&MiningStatus>) -> Result<Option<Scan>, ChainError> {
    let (api, err) = (node.api(), node.err());
    let head = api.chain_head().await.map_err(&err)?;
    let from = previous.map(|p| p.scanned_epoch + 1).unwrap_or((head.height - FIRST_SCAN).max(0));
    if from > head.height {
        return Ok(None);
    }
    let to = head.height.min(from + SCAN_MAX - 1);
    let mut tipsets = Vec::new();
    for height in from..=to {
        let tipset = api.chain_get_tipset_by_height(height, head.key()).await.map_err(&err)?;
        // A null round gives the tipset before it: counted at its own height only.
        if tipset.height == height {
            tipsets.push(tipset);
        }
    }
    let blocks = blocks_of(&actor, &tipsets);
    let epoch_reward = if blocks.is_empty() { TokenAmount::from_atto(0) } else { epoch_reward(node).await? };
    Ok(Some(Scan { from, to, blocks, epoch_reward }))
}

/// The reward actor's `ThisEpochReward` (zero when its state does not show one).
async fn epoch_reward(node: &Node) -> Result<TokenAmount, ChainError> {
    let reward = LotusJson(Address::new_id(2));
    let state = node.api().state_read_state(reward, TipSetKey::head()).await.map_err(node.err())?;
    let text = state.state.get("ThisEpochReward").and_then(|v| v.as_str()).unwrap_or("0");
    Ok(TokenAmount::from_atto(text.parse::<fvm_shared::bigint::BigInt>().unwrap_or_default()))
}

/// The status after a scan: the blocks counted, the last block's epoch, the rewards added.
pub fn fold(previous: Option<&MiningStatus>, scan: &Scan) -> MiningStatus {
    let mut status = previous.cloned().unwrap_or_else(|| MiningStatus {
        since_epoch: scan.from,
        rewards: fil(&TokenAmount::from_atto(0)),
        ..MiningStatus::default()
    });
    let earlier = parse_fil(&status.rewards);
    let earned = scan
        .blocks
        .iter()
        .map(|b| (scan.epoch_reward.clone() * b.win_count.max(0) as u64).div_floor(BLOCKS_PER_EPOCH))
        .fold(earlier, |a, b| a + b);
    status.blocks_mined += scan.blocks.len() as u64;
    status.last_block_epoch = scan.blocks.iter().map(|b| b.epoch).max().or(status.last_block_epoch);
    status.rewards = fil(&earned);
    status.scanned_epoch = scan.to;
    status
}

/// An amount as `format_fil` prints it, read back (`"12.5 FIL"`); zero when unreadable.
fn parse_fil(text: &str) -> TokenAmount {
    let number = text.trim_end_matches(" FIL");
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = format!("{whole}{fraction:0<18}");
    TokenAmount::from_atto(digits.parse::<fvm_shared::bigint::BigInt>().unwrap_or_default())
}

/// The blocks mined since the last scan: counted into the status (when there are new ones), an Event each.
pub async fn record_mined(
    ctx: &Context,
    miner: &Miner,
    node: &Node,
    actor: Address,
    mining: &mut Option<MiningStatus>,
) {
    let key = format!("{}/{}", miner.namespace().unwrap_or_default(), miner.name_any());
    let cursor = ctx.mining_cursors.lock().expect("cursor lock").get(&key).copied();
    let mut previous = mining.clone();
    if let (Some(status), Some(cursor)) = (previous.as_mut(), cursor) {
        status.scanned_epoch = status.scanned_epoch.max(cursor);
    }
    let scan = match scan(node, actor, previous.as_ref()).await {
        Ok(Some(scan)) => scan,
        Ok(None) => return,
        Err(error) => {
            warn!(%error, "cannot read the blocks mined");
            return;
        }
    };
    ctx.mining_cursors.lock().expect("cursor lock").insert(key, scan.to);
    if previous.is_some() && scan.blocks.is_empty() {
        return;
    }
    const EVENTS_MAX: usize = 10;
    for block in scan.blocks.iter().take(EVENTS_MAX) {
        let event = Event {
            type_: EventType::Normal,
            reason: "BlockMined".into(),
            note: Some(format!("block {} at epoch {} (win count {})", block.cid, block.epoch, block.win_count)),
            action: format!("epoch-{}", block.epoch),
            secondary: None,
        };
        let _ = ctx.events.publish_once(&event, &miner.object_ref(&())).await;
    }
    if scan.blocks.len() > EVENTS_MAX {
        info!(blocks = scan.blocks.len(), "more blocks mined than Events published");
    }
    *mining = Some(fold(previous.as_ref(), &scan));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(from: i64, to: i64, blocks: &[(i64, i64)]) -> Scan {
        Scan {
            from,
            to,
            blocks: blocks
                .iter()
                .map(|(epoch, wins)| FoundBlock { epoch: *epoch, cid: format!("b{epoch}"), win_count: *wins })
                .collect(),
            epoch_reward: TokenAmount::from_whole(25),
        }
    }

    #[test]
    fn blocks_and_rewards_add_up_over_scans() {
        let first = fold(None, &scan(100, 200, &[(150, 1), (170, 2)]));
        assert_eq!(first.blocks_mined, 2);
        assert_eq!(first.last_block_epoch, Some(170));
        assert_eq!(first.rewards, "15 FIL", "25 FIL × 3 wins / 5");
        assert_eq!((first.since_epoch, first.scanned_epoch), (100, 200));
        let second = fold(Some(&first), &scan(201, 220, &[]));
        assert_eq!((second.blocks_mined, second.last_block_epoch, second.scanned_epoch), (2, Some(170), 220));
        let third = fold(Some(&second), &scan(221, 230, &[(225, 1)]));
        assert_eq!((third.blocks_mined, third.rewards.as_str(), third.since_epoch), (3, "20 FIL", 100));
        assert_eq!(parse_fil("0.5 FIL"), TokenAmount::from_nano(500_000_000u64));
    }

    #[test]
    fn only_the_actors_blocks_count() {
        let tipset: TipSet =
            serde_json::from_str(include_str!("../../../chain/tests/vectors/chain_head.json")).unwrap();
        let miner = tipset.blocks[0].miner.0;
        let found = blocks_of(&miner, std::slice::from_ref(&tipset));
        assert_eq!(found, vec![FoundBlock { epoch: 4863283, cid: tipset.cids.0[0].0.to_string(), win_count: 1 }]);
        assert!(blocks_of(&Address::new_id(1), &[tipset]).is_empty());
    }
}
