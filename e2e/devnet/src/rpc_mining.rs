//! Helpers of the devnet's mining API (`rpc`): block messages, the reward actor's state, and how long
//! `StateGetBeaconEntry` waits for an epoch to open.

use std::time::Duration;

use cid::Cid;
use sealstack_chain::block::BlockMessages;
use sealstack_chain::json::LotusJson;
use sealstack_chain::message::MessageJson;
use serde_json::json;

use crate::node::ChainState;

/// How long `StateGetBeaconEntry` waits for a future epoch's entry (Lotus waits for drand as long as its caller
/// does).
pub const BEACON_WAIT: Duration = Duration::from_secs(60);

/// Lotus's error for a block it does not have.
pub fn block_not_found(cid: &Cid) -> String {
    format!("ipld: could not find {cid}")
}

/// `ChainGetBlockMessages`: a block's BLS messages (unsigned), secp256k1 messages (signed) and every CID.
pub fn block_messages(state: &ChainState, cid: &Cid) -> Result<BlockMessages, String> {
    let block = state.block(cid).ok_or_else(|| block_not_found(cid))?;
    let load = |c: &Cid| state.message(c).cloned().ok_or_else(|| format!("failed to get message {c}: not found"));
    let bls = block
        .bls
        .iter()
        .map(|c| load(&c.0).map(|m| MessageJson::from_message(&m.message.to_message())))
        .collect::<Result<Vec<_>, _>>()?;
    let secpk = block.secpk.iter().map(|c| load(&c.0)).collect::<Result<Vec<_>, _>>()?;
    let cids = block.message_cids().map(|c| LotusJson(*c)).collect();
    Ok(BlockMessages { bls_messages: bls, secpk_messages: secpk, cids })
}

/// The reward actor's state as Lotus marshals builtin-actors' reward `State` (the devnet's reward does not
/// fall over time: `ThisEpochReward` is `ConsensusPolicy::epoch_reward`).
pub fn reward_state(state: &ChainState) -> serde_json::Value {
    let reward = &state.consensus.epoch_reward;
    json!({
        "CumsumBaseline": "0",
        "CumsumRealized": "0",
        "EffectiveNetworkTime": state.height,
        "EffectiveBaselinePower": "0",
        "ThisEpochReward": reward,
        "ThisEpochRewardSmoothed": { "Position": reward, "Velocity": "0" },
        "ThisEpochBaselinePower": "0",
        "Epoch": state.height,
        "TotalStoragePowerReward": "0",
        "SimpleTotal": "0",
        "BaselineTotal": "0",
    })
}
