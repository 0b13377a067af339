//! Expected consensus at devnet scale (lotus chain/consensus/filcns, chain/stmgr, miner/miner.go).
//!
//! Each epoch's tipset is made of the blocks submitted for it (`SyncSubmitBlock`, validated as Lotus validates
//! a block: [`validate`]) and, when it wins the round's election, a block of the **rest of the network**
//! ([`rest`]): a virtual miner of configurable power that stands in for every other miner, carries the message
//! pool's messages and needs no WinningPoSt. A round nobody wins is a null round. Elections are Lotus's: a VRF
//! (the worker's BLS signature) over the round's beacon entry, a win count by Poisson sortition on the miner's
//! share of the network's quality-adjusted power (`sealstack_chain::election`), eligibility by the consensus
//! minimum power, no consensus fault and no fee debt. Miners learn what to mine with `MinerGetBaseInfo`
//! ([`base_info`]) and build blocks with `MpoolSelect` and `MinerCreateBlock` ([`create`]); a closed epoch's
//! tipset is executed block by block, each block's messages then its reward ([`epoch`]).

pub mod base_info;
pub mod create;
pub mod epoch;
pub mod rest;
pub mod validate;

#[cfg(test)]
mod tests;

use fvm_shared::address::Address;
use fvm_shared::bigint::BigInt;

use crate::model::StateEngine;
use crate::node::ChainState;

/// The miner address of the rest of the network's blocks: an ID in the singletons' range, so no actor ever
/// has it.
pub const REST_OF_NETWORK_MINER: u64 = 90;

impl ChainState {
    /// A miner's quality-adjusted power in bytes (0 for none).
    pub fn miner_power(&self, miner: &Address) -> u64 {
        self.actors.miner(miner).map(|m| m.power()).unwrap_or(0)
    }

    /// The network's quality-adjusted power: every miner's and the rest of the network's.
    pub fn network_power(&self) -> BigInt {
        let miners: u64 = self.actors.miner_ids().iter().map(|id| self.miner_power(&Address::new_id(*id))).sum();
        BigInt::from(miners) + BigInt::from(self.consensus.rest_of_network_power)
    }

    /// Whether a miner's power meets the consensus minimum (`StateMinerPower`'s `HasMinPower`).
    pub fn has_min_power(&self, miner: &Address) -> bool {
        self.actors
            .lookup_id(miner)
            .is_some_and(|id| self.actors.meets_consensus_minimum(id, self.consensus.consensus_miner_min_power))
    }

    /// Whether a miner may mine on a base at `base_height` (lotus `MinerEligibleToMine`): the consensus minimum,
    /// power, no consensus fault in force, no fee debt.
    pub fn eligible_to_mine(&self, miner: &Address, base_height: i64) -> bool {
        let Some(actor) = self.actors.miner(miner) else { return false };
        self.has_min_power(miner)
            && actor.power() > 0
            && base_height > actor.consensus_fault_elapsed
            && actor.funds.fee_debt.0.is_zero()
    }
}
