//! Sector onboarding on the miner actor: PreCommitSectorBatch2 with its deposit and fee-debt checks (builtin-actors
//! actors/miner/src/lib.rs `pre_commit_sector_batch2`; no batch-size limit since FIP-0100), and the activation of
//! proven sectors, their pledge and deadlines (`activate_new_sector_infos`). ProveCommitSectors3 is in `commit`.

use std::collections::BTreeSet;

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;
use fvm_shared::sector::{RegisteredPoStProof, RegisteredSealProof};
use sealstack_chain::actors::miner_state;
use sealstack_chain::json::LotusJson;
use serde::{Deserialize, Serialize};

use super::ChainEnv;
use super::actors::decode;
use super::deadlines::assign;
use super::miner::{MinerActor, illegal};
use super::policy::SectorPolicy;

/// A pre-committed sector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreCommit {
    /// `RegisteredSealProof` as an integer.
    pub seal_proof: i64,
    /// CommR.
    pub sealed_cid: LotusJson<Cid>,
    /// CommD, when the sector holds data.
    pub unsealed_cid: Option<LotusJson<Cid>>,
    /// The sealing ticket's epoch.
    pub seal_rand_epoch: i64,
    /// When the sector expires.
    pub expiration: i64,
    /// The epoch the pre-commit landed.
    pub pre_commit_epoch: i64,
    /// The deposit locked.
    pub deposit: LotusJson<TokenAmount>,
}

/// A sector's on-chain info (builtin-actors `SectorOnChainInfo`, the fields the devnet keeps) with where it
/// is proven. Terminated sectors stay (builtin-actors removes them only when their partition is compacted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SectorOnChain {
    /// `RegisteredSealProof` as an integer.
    pub seal_proof: i64,
    /// CommR.
    pub sealed_cid: LotusJson<Cid>,
    /// The epoch it was activated.
    pub activation: i64,
    /// The epoch it expires (on time).
    pub expiration: i64,
    /// The pledge locked for it.
    pub pledge: LotusJson<TokenAmount>,
    /// Its FIP-0100 daily fee.
    pub daily_fee: LotusJson<TokenAmount>,
    /// Its expected reward per day (proving period).
    pub expected_day_reward: LotusJson<TokenAmount>,
    /// Its deadline.
    pub deadline: u64,
    /// Its partition in that deadline.
    pub partition: u64,
    /// While faulty: the epoch it is terminated at if it stays faulty (its deadline's last epoch when it
    /// became faulty plus `FAULT_MAX_AGE`).
    pub fault_expiration: Option<i64>,
}

impl MinerActor {
    /// miner.PreCommitSectorBatch2: the parameters' checks, the fee debt repaid (or the message refused), the
    /// deposits locked from the available balance. Returns the debt to burn.
    pub(super) fn pre_commit_batch(
        &mut self,
        message: &Message,
        balance: &TokenAmount,
        env: &dyn ChainEnv,
    ) -> Result<TokenAmount, (ExitCode, String)> {
        let params: miner_state::PreCommitSectorBatchParams2 = decode(&message.params)?;
        let policy = env.policy();
        let epoch = env.epoch();
        if params.sectors.is_empty() {
            return Err(illegal("batch empty"));
        }
        let expected = self.seal_proof();
        let mut numbers = BTreeSet::new();
        for sector in &params.sectors {
            let proof = i64::from(sector.seal_proof);
            if proof != i64::from(expected) {
                return Err(illegal(format!(
                    "sector seal proof {proof} must match miner seal proof type {}",
                    i64::from(expected)
                )));
            }
            let n = sector.sector_number;
            if !numbers.insert(n) {
                return Err(illegal(format!("duplicate sector number {n}")));
            }
            if self.precommits.contains_key(&n) || self.sectors.contains_key(&n) {
                return Err(illegal(format!("sector {n} already allocated")));
            }
            commitment(&sector.sealed_cid, SEALED_CODEC).map_err(illegal)?;
            if sector.seal_rand_epoch >= epoch {
                let rand = sector.seal_rand_epoch;
                return Err(illegal(format!("seal challenge epoch {rand} must be before now {epoch}")));
            }
            let challenge_earliest = epoch - policy.max_seal_ticket_age;
            if sector.seal_rand_epoch < challenge_earliest {
                let rand = sector.seal_rand_epoch;
                return Err(illegal(format!(
                    "seal challenge epoch {rand} too old, must be after {challenge_earliest}"
                )));
            }
            if sector.expiration <= epoch {
                return Err(illegal(format!("sector expiration {} must be after {epoch}", sector.expiration)));
            }
        }
        // The available balance accounts for the debt, so it is taken before the debt is repaid.
        let available = self.funds.available(balance);
        let to_burn = self.funds.repay_debts(balance)?;
        let deposit = TokenAmount::from_atto(policy.pre_commit_deposit);
        let total = deposit.clone() * params.sectors.len() as u64;
        if available < total {
            return Err((
                ExitCode::USR_INSUFFICIENT_FUNDS,
                format!("insufficient funds {} for pre-commit deposit: {}", available.atto(), total.atto()),
            ));
        }
        self.funds.pre_commit_deposits.0 += &total;
        for sector in params.sectors {
            let precommit = PreCommit {
                seal_proof: i64::from(sector.seal_proof),
                sealed_cid: LotusJson(sector.sealed_cid),
                unsealed_cid: sector.unsealed_cid.0.map(LotusJson),
                seal_rand_epoch: sector.seal_rand_epoch,
                expiration: sector.expiration,
                pre_commit_epoch: epoch,
                deposit: LotusJson(deposit.clone()),
            };
            self.precommits.insert(sector.sector_number, precommit);
        }
        Ok(to_burn)
    }

    /// Adds proven sectors (number, seal proof, CommR, expiration) with the policy's pledge and fees, and
    /// assigns them to deadlines as unproven (power comes with their first WindowPoSt).
    pub(super) fn activate(
        &mut self,
        mut sectors: Vec<(u64, i64, LotusJson<Cid>, i64)>,
        epoch: i64,
        policy: &SectorPolicy,
    ) -> Result<(), String> {
        // Sorted by number for runs in the partitions (builtin-actors `assign_sectors_to_deadlines`).
        sectors.sort_by_key(|s| s.0);
        self.ensure_deadlines(policy);
        let period_start = self.current_period_start(epoch, policy);
        let chosen = assign(policy, &self.deadlines, period_start, epoch, sectors.len(), self.partition_sectors)?;
        for ((number, seal_proof, sealed_cid, expiration), deadline) in sectors.into_iter().zip(chosen) {
            let (_, partition) = self.deadlines[deadline as usize].add_sectors(&[number], self.partition_sectors)[0];
            let sector = SectorOnChain {
                seal_proof,
                sealed_cid,
                activation: epoch,
                expiration,
                pledge: LotusJson(TokenAmount::from_atto(policy.initial_pledge)),
                daily_fee: LotusJson(TokenAmount::from_atto(policy.daily_fee)),
                expected_day_reward: LotusJson(TokenAmount::from_atto(policy.expected_day_reward)),
                deadline,
                partition,
                fault_expiration: None,
            };
            self.sectors.insert(number, sector);
        }
        Ok(())
    }

    /// The seal proof type new sectors of this miner use.
    pub fn seal_proof(&self) -> RegisteredSealProof {
        let size = RegisteredPoStProof::from(self.window_post_proof).sector_size().expect("valid post proof");
        sealstack_chain::actors::seal_proof(size)
    }
}

/// The public inputs of one sector's seal proof (builtin-actors `SectorSealProofInput`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealInputs {
    /// The seal proof type.
    pub proof_type: RegisteredSealProof,
    /// CommR.
    pub comm_r: [u8; 32],
    /// CommD; `None` for a committed-capacity sector (zero data).
    pub comm_d: Option<[u8; 32]>,
    /// The prover ID.
    pub prover_id: [u8; 32],
    /// The sector number.
    pub sector: u64,
    /// The sealing ticket.
    pub ticket: [u8; 32],
    /// The interactive seed.
    pub seed: [u8; 32],
}

/// A seal proof to check.
#[derive(Clone, Debug)]
pub struct SealToVerify {
    /// What it proves.
    pub inputs: SealInputs,
    /// The proof.
    pub proof: Vec<u8>,
}

/// An aggregated seal proof (SnarkPackV2) to check.
#[derive(Clone, Debug)]
pub struct AggregateToVerify {
    /// Every sector it proves, in the message's order (builtin-actors passes all of them, those whose
    /// pre-commit failed validation too: they are witnesses of the aggregate).
    pub seals: Vec<SealInputs>,
    /// The aggregate proof.
    pub proof: Vec<u8>,
}

/// A WindowPoSt to check.
#[derive(Clone, Debug)]
pub struct PoStToVerify {
    /// The PoSt type.
    pub proof_type: RegisteredPoStProof,
    /// The challenge randomness.
    pub randomness: [u8; 32],
    /// The prover ID.
    pub prover_id: [u8; 32],
    /// The challenged sectors and their CommR.
    pub sectors: Vec<(u64, [u8; 32])>,
    /// The proof.
    pub proof: Vec<u8>,
}

/// Codec of sealed sector CIDs (FilCommitmentSealed).
pub const SEALED_CODEC: u64 = 0xf102;
/// Codec of unsealed sector CIDs (FilCommitmentUnsealed).
pub const UNSEALED_CODEC: u64 = 0xf101;

/// The 32-byte commitment inside a commitment CID, checking its codec.
pub fn commitment(cid: &Cid, codec: u64) -> Result<[u8; 32], String> {
    if cid.codec() != codec {
        return Err(format!("CID {cid} has codec {:#x}, expected {codec:#x}", cid.codec()));
    }
    cid.hash().digest().try_into().map_err(|_| format!("CID {cid} does not hold a 32-byte commitment"))
}

/// The prover ID of a miner: its ID address payload, zero-padded to 32 bytes (lotus toProverID).
pub fn prover_id(miner: u64) -> [u8; 32] {
    let payload = Address::new_id(miner).payload_bytes();
    let mut out = [0u8; 32];
    out[..payload.len()].copy_from_slice(&payload);
    out
}
