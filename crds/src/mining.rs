//! A Miner's block production: whether its runtime mines (`spec.mining`) and what it mined, as read from the chain
//! (`status.mining`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether the runtime mines blocks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MiningSpec {
    /// Mine blocks when the miner wins an election (default true; false runs `sealstack-miner run --no-mining`:
    /// the miner keeps proving its power but produces no block, and earns no block reward).
    #[serde(default = "enabled")]
    pub enabled: bool,
}

impl Default for MiningSpec {
    fn default() -> Self {
        MiningSpec { enabled: true }
    }
}

fn enabled() -> bool {
    true
}

/// The blocks the miner produced, found in the chain's tipsets on each resync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MiningStatus {
    /// Blocks of this miner in the chain (since `sinceEpoch`).
    pub blocks_mined: u64,
    /// The epoch of its last block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_block_epoch: Option<i64>,
    /// Their block rewards in FIL (`"12.5 FIL"`): the reward actor's epoch reward × win count / 5 per block;
    /// 75 % of each vests over 180 days (see `balances.locked`).
    pub rewards: String,
    /// The first epoch scanned.
    pub since_epoch: i64,
    /// The last epoch scanned: the next resync reads the tipsets after it.
    pub scanned_epoch: i64,
}
