//! What the power, reward and miner actors do for consensus: the consensus minimum power (builtin-actors
//! power `miner_nominal_power_meets_consensus_minimum`), block rewards (reward `award_block_reward`, miner
//! `apply_rewards`: 75 % locked and vesting), consensus faults (miner `report_consensus_fault`), and the devnet's
//! scaled values for them, each named with its mainnet value.

use fvm_shared::econ::TokenAmount;
use sealstack_chain::election::BLOCKS_PER_EPOCH;
use sealstack_chain::json::LotusJson;
use serde::{Deserialize, Serialize};

use super::actors::{ActorKind, ActorTable};
use super::policy::SectorPolicy;
use super::vesting::VestSpec;

/// The reward actor's ID (f02).
pub const REWARD_ACTOR: u64 = 2;
/// Miners over the minimum power after which the minimum applies (builtin-actors
/// `CONSENSUS_MINER_MIN_MINERS`): with fewer, any miner with power is eligible.
pub const CONSENSUS_MINER_MIN_MINERS: usize = 4;
/// The share of a block reward locked in the vesting table (builtin-actors `LOCKED_REWARD_FACTOR`: 3/4).
pub const LOCKED_REWARD_PERCENT: u64 = 75;
/// The reward actor's balance at genesis: the storage mining allocation (55 % of the 2 billion FIL supply,
/// as on mainnet).
pub const STORAGE_MINING_ALLOCATION_FIL: u64 = 1_100_000_000;

/// The devnet's consensus parameters. Each field names its mainnet value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsensusPolicy {
    /// The quality-adjusted power of the rest of the network, in bytes: a virtual miner that takes part in
    /// every election and, when it wins, makes a block with the message pool's messages (a devnet stand-in
    /// for the other miners; mainnet: every other miner's power).
    pub rest_of_network_power: u64,
    /// The raw power a miner needs to be eligible (`ConsensusMinerMinPower`: Lotus's 2k build 2048 bytes, one
    /// 2KiB sector; mainnet 10 TiB).
    pub consensus_miner_min_power: u64,
    /// The reward actor's `ThisEpochReward`, in attoFIL: a block of win count `w` earns `w / 5` of it (mainnet:
    /// the reward actor's simple and baseline minting, falling over time).
    pub epoch_reward: LotusJson<TokenAmount>,
    /// Epochs a miner cannot mine after a consensus fault (`CONSENSUS_FAULT_INELIGIBILITY_DURATION` = chain
    /// finality, 900 epochs on mainnet).
    pub consensus_fault_ineligibility: i64,
    /// Proving periods over which a locked reward vests (builtin-actors `REWARD_VESTING_SPEC`: 180 days, the
    /// devnet's "day" being a proving period).
    pub reward_vesting_periods: i64,
}

impl Default for ConsensusPolicy {
    fn default() -> Self {
        ConsensusPolicy {
            rest_of_network_power: DEFAULT_REST_OF_NETWORK_POWER,
            consensus_miner_min_power: 2048,
            epoch_reward: LotusJson(TokenAmount::from_whole(25)),
            consensus_fault_ineligibility: 900,
            reward_vesting_periods: 180,
        }
    }
}

/// The rest of the network's default power: 1 PiB, so that a test's miner of a few 2KiB sectors holds a share
/// of about 1e-11 and practically never wins, and the chain's timing is that of a chain mined by others.
pub const DEFAULT_REST_OF_NETWORK_POWER: u64 = 1 << 50;

impl ConsensusPolicy {
    /// The reward vesting schedule in epochs: over `reward_vesting_periods` proving periods, a step a period,
    /// steps quantized to half periods (builtin-actors: 180 days, 1 day, 12 hours, no delay).
    pub fn vest_spec(&self, sectors: &SectorPolicy) -> VestSpec {
        let period = sectors.proving_period().max(1);
        VestSpec {
            initial_delay: 0,
            vest_period: self.reward_vesting_periods * period,
            step: period,
            quantization: (period / 2).max(1),
        }
    }

    /// A block's reward for `win_count` wins (builtin-actors reward `award_block_reward`).
    pub fn block_reward(&self, win_count: i64) -> TokenAmount {
        (self.epoch_reward.0.clone() * win_count.max(0) as u64).div_floor(BLOCKS_PER_EPOCH)
    }

    /// The penalty of a consensus fault (builtin-actors `consensus_fault_penalty`: 5 block rewards = one
    /// epoch's reward).
    pub fn consensus_fault_penalty(&self) -> TokenAmount {
        (self.epoch_reward.0.clone() * 5u64).div_floor(BLOCKS_PER_EPOCH)
    }
}

/// What happened to a block's reward, for logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Award {
    /// Paid to the miner (block reward plus the messages' tips).
    pub paid: TokenAmount,
    /// Of it, locked in the vesting table.
    pub locked: TokenAmount,
    /// Burnt to repay fee debt.
    pub burnt: TokenAmount,
}

impl ActorTable {
    /// The miners' raw power that meets the consensus minimum: at least `min` bytes, or any power while fewer
    /// than four miners reach `min` (builtin-actors power actor).
    pub fn meets_consensus_minimum(&self, miner: u64, min: u64) -> bool {
        let power = |id: &u64| {
            use super::StateEngine;
            self.miner(&fvm_shared::address::Address::new_id(*id)).map(|m| m.power()).unwrap_or(0)
        };
        let own = power(&miner);
        if own >= min {
            return true;
        }
        let above = self.miner_ids().iter().filter(|id| power(id) >= min).count();
        above < CONSENSUS_MINER_MIN_MINERS && own > 0
    }

    /// Pays a block's reward (`policy.block_reward(win_count)` plus `gas_reward`, the tips its messages paid
    /// into the reward actor) from the reward actor to miner `miner`, 75 % of it locked and vesting, fee debt
    /// repaid from it (builtin-actors reward `award_block_reward`, miner `apply_rewards`). A reward actor short
    /// of funds pays what it has.
    pub fn award_block_reward(
        &mut self,
        miner: u64,
        win_count: i64,
        gas_reward: &TokenAmount,
        epoch: i64,
        policy: &ConsensusPolicy,
        sectors: &SectorPolicy,
    ) -> Option<Award> {
        let available = self.balance(REWARD_ACTOR);
        let mut paid = policy.block_reward(win_count) + gas_reward;
        if paid > available {
            tracing::warn!(paid = %paid.atto(), available = %available.atto(), "the reward actor pays out the rest of its balance");
            paid = available;
        }
        let vest = policy.vest_spec(sectors);
        self.transfer(REWARD_ACTOR, miner, &paid).ok()?;
        let balance = self.balance(miner);
        let ActorKind::Miner(state) = &mut self.get_mut(miner)?.kind else { return None };
        let locked = (paid.clone() * LOCKED_REWARD_PERCENT).div_floor(100u64);
        let period_start = state.current_period_start(epoch, sectors);
        state.funds.lock_reward(epoch, &locked, &vest, period_start);
        let burnt = state.funds.repay_partial_debt(&balance);
        self.burn(miner, &burnt);
        Some(Award { paid, locked, burnt })
    }

    /// Records a consensus fault of `miner` at `epoch` (builtin-actors miner `report_consensus_fault`): it
    /// cannot mine until `epoch + consensus_fault_ineligibility`, and pays the penalty (to its fee debt, repaid
    /// from locked then unlocked funds). Returns the epoch its ineligibility ends.
    pub fn record_consensus_fault(&mut self, miner: u64, epoch: i64, policy: &ConsensusPolicy) -> Option<i64> {
        let balance = self.balance(miner);
        let ActorKind::Miner(state) = &mut self.get_mut(miner)?.kind else { return None };
        let elapsed = epoch + policy.consensus_fault_ineligibility;
        state.consensus_fault_elapsed = state.consensus_fault_elapsed.max(elapsed);
        state.funds.apply_penalty(&policy.consensus_fault_penalty());
        let burnt = state.funds.repay_partial_debt(&balance);
        self.burn(miner, &burnt);
        Some(elapsed)
    }
}
