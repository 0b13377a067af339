//! Sector onboarding on the miner actor: PreCommitSectorBatch2 with its deposit and fee-debt checks, and
//! ProveCommitSectors3 with the seal proof verified, the pledge locked and the sectors assigned to deadlines
//! (builtin-actors actors/miner/src/lib.rs `pre_commit_sector_batch2`, `prove_commit_sectors3`,
//! `activate_new_sector_infos`). Verification goes through [`ChainEnv`] (real filecoin-proofs in the devnet).

use std::collections::BTreeSet;

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;
use fvm_shared::sector::{RegisteredPoStProof, RegisteredSealProof};
use sealstack_chain::actors::miner_state;
use sealstack_chain::json::LotusJson;
use sealstack_chain::randomness::{miner_entropy, tags};
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
            if self.precommits.contains_key(&n) || self.sectors.contains_key(&n) || !numbers.insert(n) {
                return Err(illegal(format!("sector {n} already allocated")));
            }
            commitment(&sector.sealed_cid, SEALED_CODEC).map_err(illegal)?;
            if sector.seal_rand_epoch >= epoch || sector.seal_rand_epoch < epoch - policy.max_seal_ticket_age {
                return Err(illegal(format!(
                    "seal challenge epoch {} out of range at {epoch}",
                    sector.seal_rand_epoch
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

    /// miner.ProveCommitSectors3 with one proof per sector (no aggregation): each proof verified, the proven
    /// sectors activated.
    pub(super) fn prove_commit(
        &mut self,
        message: &Message,
        balance: &TokenAmount,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        let params: miner_state::ProveCommitSectors3Params = decode(&message.params)?;
        if !params.aggregate_proof.is_empty() || params.aggregate_proof_type.is_some() {
            return Err(illegal("aggregate proofs are not supported by the devnet"));
        }
        if params.sector_proofs.len() != params.sector_activations.len() {
            return Err(illegal(format!(
                "mismatched lengths: {} sector activations, {} proofs",
                params.sector_activations.len(),
                params.sector_proofs.len()
            )));
        }
        let epoch = env.epoch();
        let policy = env.policy();
        let entropy = miner_entropy(&Address::new_id(self.id));
        let mut proven = Vec::new();
        let mut failures = Vec::new();
        for (activation, proof) in params.sector_activations.iter().zip(&params.sector_proofs) {
            let number = activation.sector_number;
            let Some(precommit) = self.precommits.get(&number) else {
                failures.push(format!("no pre-commited sector {number}"));
                continue;
            };
            let seed_epoch = precommit.pre_commit_epoch + policy.pre_commit_challenge_delay;
            if epoch <= seed_epoch {
                return Err((
                    ExitCode::USR_FORBIDDEN,
                    format!("too early to prove sector {number}: seed epoch {seed_epoch}"),
                ));
            }
            let seal = SealToVerify {
                proof_type: RegisteredSealProof::from(precommit.seal_proof),
                comm_r: commitment(&precommit.sealed_cid, SEALED_CODEC).map_err(illegal)?,
                comm_d: match &precommit.unsealed_cid {
                    Some(cid) => Some(commitment(cid, UNSEALED_CODEC).map_err(illegal)?),
                    None => None,
                },
                prover_id: prover_id(self.id),
                sector: number,
                ticket: env.ticket_randomness(tags::SEAL_RANDOMNESS, precommit.seal_rand_epoch, &entropy),
                seed: env.beacon_randomness(tags::INTERACTIVE_SEAL_CHALLENGE_SEED, seed_epoch, &entropy),
                proof: proof.bytes().to_vec(),
            };
            match env.verify_seal(&seal) {
                Ok(true) => proven.push(number),
                Ok(false) => failures.push(format!("invalid seal proof for sector {number}")),
                Err(e) => failures.push(format!("seal proof of sector {number} failed to verify: {e}")),
            }
        }
        if proven.is_empty() || (params.require_activation_success && !failures.is_empty()) {
            return Err(illegal(failures.join("; ")));
        }
        let mut activated = Vec::with_capacity(proven.len());
        for number in proven {
            let precommit = self.precommits.remove(&number).expect("checked above");
            // The deposit is released, available for the pledge.
            self.funds.pre_commit_deposits.0 -= &precommit.deposit.0;
            activated.push((number, precommit.seal_proof, precommit.sealed_cid, precommit.expiration));
        }
        let total_pledge = TokenAmount::from_atto(policy.initial_pledge) * activated.len() as u64;
        let unlocked = self.funds.unlocked(balance);
        if unlocked < total_pledge {
            return Err((
                ExitCode::USR_INSUFFICIENT_FUNDS,
                format!(
                    "insufficient funds for aggregate initial pledge requirement {}, available: {}",
                    total_pledge.atto(),
                    unlocked.atto()
                ),
            ));
        }
        self.funds.initial_pledge.0 += &total_pledge;
        self.activate(activated, epoch, &policy)
            .map_err(|e| (ExitCode::USR_ILLEGAL_STATE, format!("failed to assign new sectors to deadlines: {e}")))?;
        Ok(Vec::new())
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

/// A seal proof to check.
#[derive(Clone, Debug)]
pub struct SealToVerify {
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
    /// The proof.
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
