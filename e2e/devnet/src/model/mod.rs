//! The devnet's model of the built-in actors, behind the [`StateEngine`] trait so a VM-backed engine could
//! replace it. The model keeps the checks and exit codes of builtin-actors v18 for what sealstack sends;
//! everything else is refused with `USR_UNHANDLED_MESSAGE`. See the crate README for the departures.
//!
//! The miner actor is modelled at the level of sector numbers: deadlines and partitions hold sets of them
//! (`deadlines`), with onboarding (`sectors`, `commit`), WindowPoSt (`post`), fault and recovery declarations
//! (`faults`), the deadline cron (`cron`) and fees (`funds`) following builtin-actors' rules.

mod actors;
mod commit;
mod consensus;
mod cron;
mod deadlines;
mod faults;
mod funds;
mod gas;
mod genesis;
mod lifecycle;
mod miner;
mod policy;
mod post;
mod sectors;
mod vesting;
mod views;

use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;

pub use actors::{ActorKind, ActorState, ActorTable, BASE_FEE_ATTO, BASE_GAS, GenesisAccount};
pub use consensus::{
    Award, CONSENSUS_MINER_MIN_MINERS, ConsensusPolicy, DEFAULT_REST_OF_NETWORK_POWER, LOCKED_REWARD_PERCENT,
    REWARD_ACTOR, STORAGE_MINING_ALLOCATION_FIL,
};
pub use cron::DeadlineEnd;
pub use deadlines::{Deadline, DeadlineTiming, Partition, deadline_info, deadline_is_mutable, next_not_elapsed};
pub use funds::MinerFunds;
pub use gas::GasOutputs;
pub use genesis::{GENESIS_SECTOR_LIFETIME_PERIODS, GenesisMinerSpec};
pub use miner::MinerActor;
pub use policy::{
    DeadlineAssignment, MAX_AGGREGATED_PROOF_SIZE, MAX_AGGREGATED_SECTORS, MAX_PARTITIONS_PER_DEADLINE,
    MAX_PROVE_COMMIT_DURATION_PERIODS, MIN_AGGREGATED_SECTORS, PERIOD_DEADLINES, POSTED_PARTITIONS_MAX, SectorPolicy,
};
pub use post::submission_partition_limit;
pub use vesting::{VestSpec, VestingFund};
#[cfg(test)]
mod tests;

pub use sectors::{
    AggregateToVerify, PoStToVerify, PreCommit, SEALED_CODEC, SealInputs, SealToVerify, SectorOnChain, UNSEALED_CODEC,
    commitment, prover_id,
};

use sealstack_chain::miner::MinerInfo;

/// The result of applying one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyReceipt {
    /// The exit code.
    pub exit_code: ExitCode,
    /// The CBOR return value.
    pub return_data: Vec<u8>,
    /// Gas charged.
    pub gas_used: i64,
    /// Why it failed (Lotus shows this in execution traces, not in receipts).
    pub reason: Option<String>,
}

impl ApplyReceipt {
    /// A successful message.
    pub fn ok(return_data: Vec<u8>, gas_used: i64) -> Self {
        ApplyReceipt { exit_code: ExitCode::OK, return_data, gas_used, reason: None }
    }

    /// A failed message with a reason, logged.
    pub fn fail(exit_code: ExitCode, gas_used: i64, reason: impl std::fmt::Display) -> Self {
        tracing::info!(%exit_code, %reason, "message failed");
        ApplyReceipt { exit_code, return_data: Vec::new(), gas_used, reason: Some(reason.to_string()) }
    }
}

/// What the chain around the state gives a message: the epoch, randomness, and proof checking.
pub trait ChainEnv {
    /// The epoch the message executes at.
    fn epoch(&self) -> i64;
    /// Ticket randomness for `(tag, epoch, entropy)`.
    fn ticket_randomness(&self, tag: i64, epoch: i64, entropy: &[u8]) -> [u8; 32];
    /// Beacon randomness for `(tag, epoch, entropy)`.
    fn beacon_randomness(&self, tag: i64, epoch: i64, entropy: &[u8]) -> [u8; 32];
    /// The deposit a new miner must send.
    fn creation_deposit(&self) -> TokenAmount;
    /// The base fee messages of this epoch pay per gas unit.
    fn base_fee(&self) -> TokenAmount;
    /// The sector lifecycle's parameters.
    fn policy(&self) -> SectorPolicy;
    /// Checks a seal proof: `Ok(false)` for a proof that does not verify.
    fn verify_seal(&self, seal: &SealToVerify) -> Result<bool, String>;
    /// Checks an aggregated seal proof (SnarkPackV2) over its sectors' public inputs, in the message's order:
    /// `Ok(false)` for an aggregate that does not verify.
    fn verify_aggregate_seal(&self, aggregate: &AggregateToVerify) -> Result<bool, String>;
    /// Checks a WindowPoSt proof.
    fn verify_window_post(&self, post: &PoStToVerify) -> Result<bool, String>;
}

/// A state engine: applies messages and answers state queries.
pub trait StateEngine {
    /// Applies a message from a signed, nonce-checked sender.
    fn apply(&mut self, message: &Message, env: &dyn ChainEnv) -> ApplyReceipt;
    /// Runs end-of-epoch work (deadline cron: faults for missed WindowPoSts).
    fn end_epoch(&mut self, env: &dyn ChainEnv);
    /// The ID of an address, if it has an actor.
    fn lookup_id(&self, address: &Address) -> Option<u64>;
    /// An actor's state.
    fn actor(&self, address: &Address) -> Option<&ActorState>;
    /// The key address of an account.
    fn account_key(&self, address: &Address) -> Option<Address>;
    /// A miner's info.
    fn miner_info(&self, address: &Address) -> Option<MinerInfo>;
    /// A miner actor.
    fn miner(&self, address: &Address) -> Option<&MinerActor>;
}
