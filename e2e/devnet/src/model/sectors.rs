//! The sector lifecycle on the miner actor: PreCommitSectorBatch2 with deposits, ProveCommitSectors3 with the
//! seal proof verified, WindowPoSt deadlines with SubmitWindowedPoSt verified, and faults for sectors whose
//! deadline closed unproven. Verification goes through [`ChainEnv`] (real filecoin-proofs in the devnet).

use std::collections::BTreeSet;

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;
use fvm_shared::sector::{RegisteredPoStProof, RegisteredSealProof};
use sealstack_chain::actors::miner_state;
use sealstack_chain::json::LotusJson;
use sealstack_chain::miner::DeadlineInfo;
use sealstack_chain::randomness::{miner_entropy, tags};
use serde::{Deserialize, Serialize};

use super::ChainEnv;
use super::actors::{ActorTable, decode};
use super::miner::MinerActor;

/// WindowPoSt deadlines per proving period (builtin-actors policy).
pub const PERIOD_DEADLINES: u64 = 48;

/// Chain parameters of the sector lifecycle (Lotus's 2k devnet build shortens the mainnet ones likewise).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorPolicy {
    /// Epochs between PreCommit and the interactive seed (mainnet 150).
    pub pre_commit_challenge_delay: i64,
    /// How far back a sealing ticket may be when the PreCommit lands (builtin-actors' MaxPreCommitRandomnessLookback:
    /// a day of epochs plus chain finality, so a miner drawing its ticket a finality back has a day to pre-commit).
    pub max_seal_ticket_age: i64,
    /// Epochs per WindowPoSt deadline (mainnet 60).
    pub challenge_window: i64,
    /// Epochs before a deadline opens that its challenge is drawn (mainnet 20).
    pub challenge_lookback: i64,
    /// PreCommit deposit per sector, in attoFIL.
    pub pre_commit_deposit: u64,
    /// Initial pledge per sector, in attoFIL.
    pub initial_pledge: u64,
}

impl Default for SectorPolicy {
    fn default() -> Self {
        SectorPolicy {
            pre_commit_challenge_delay: 10,
            max_seal_ticket_age: 2880 + 900,
            challenge_window: 4,
            challenge_lookback: 2,
            pre_commit_deposit: 1_000_000_000_000,
            initial_pledge: 2_000_000_000_000,
        }
    }
}

impl SectorPolicy {
    /// Epochs per proving period.
    pub fn proving_period(&self) -> i64 {
        self.challenge_window * PERIOD_DEADLINES as i64
    }
}

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

/// A proven sector with its WindowPoSt assignment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProvenSector {
    /// `RegisteredSealProof` as an integer.
    pub seal_proof: i64,
    /// CommR.
    pub sealed_cid: LotusJson<Cid>,
    /// The epoch it was proven.
    pub activation: i64,
    /// When it expires.
    pub expiration: i64,
    /// The pledge locked.
    pub pledge: LotusJson<TokenAmount>,
    /// Its deadline.
    pub deadline: u64,
    /// Its partition in that deadline.
    pub partition: u64,
    /// The last epoch a WindowPoSt covered it.
    pub last_proven: Option<i64>,
    /// Whether it missed a deadline since.
    pub faulty: bool,
}

impl MinerActor {
    /// The deadline open at `epoch`.
    pub fn deadline_info(&self, epoch: i64, policy: &SectorPolicy) -> DeadlineInfo {
        let period = policy.proving_period();
        let offset = self.proving_period_offset.rem_euclid(period);
        let period_start = epoch - (epoch - offset).rem_euclid(period);
        let index = ((epoch - period_start) / policy.challenge_window) as u64;
        let open = period_start + index as i64 * policy.challenge_window;
        DeadlineInfo {
            current_epoch: epoch,
            period_start,
            index,
            open,
            close: open + policy.challenge_window,
            challenge: open - policy.challenge_lookback,
            fault_cutoff: open - policy.challenge_lookback,
            wpost_period_deadlines: PERIOD_DEADLINES,
            wpost_proving_period: period,
            wpost_challenge_window: policy.challenge_window,
            wpost_challenge_lookback: policy.challenge_lookback,
            fault_declaration_cutoff: policy.challenge_lookback,
        }
    }

    fn available_balance(&self, table: &ActorTable) -> TokenAmount {
        let balance = table.get(self.id).map(|a| a.balance.0.clone()).unwrap_or_default();
        balance - &self.locked_funds.0
    }

    /// miner.PreCommitSectorBatch2.
    pub(super) fn pre_commit_batch(
        &mut self,
        message: &Message,
        table: &mut ActorTable,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
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
        let deposit = TokenAmount::from_atto(policy.pre_commit_deposit);
        let total = deposit.clone() * params.sectors.len() as u64;
        let available = self.available_balance(table);
        if available < total {
            return Err((
                ExitCode::USR_INSUFFICIENT_FUNDS,
                format!("insufficient funds {} for pre-commit deposit: {}", available.atto(), total.atto()),
            ));
        }
        self.locked_funds.0 += &total;
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
        Ok(Vec::new())
    }

    /// miner.ProveCommitSectors3 with one proof per sector (no aggregation).
    pub(super) fn prove_commit(
        &mut self,
        message: &Message,
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
        let miner_address = Address::new_id(self.id);
        let entropy = miner_entropy(&miner_address);
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
            let ticket = env.ticket_randomness(tags::SEAL_RANDOMNESS, precommit.seal_rand_epoch, &entropy);
            let seed = env.beacon_randomness(tags::INTERACTIVE_SEAL_CHALLENGE_SEED, seed_epoch, &entropy);
            let seal = SealToVerify {
                proof_type: RegisteredSealProof::from(precommit.seal_proof),
                comm_r: commitment(&precommit.sealed_cid, SEALED_CODEC).map_err(illegal)?,
                comm_d: match &precommit.unsealed_cid {
                    Some(cid) => Some(commitment(cid, UNSEALED_CODEC).map_err(illegal)?),
                    None => None,
                },
                prover_id: prover_id(self.id),
                sector: number,
                ticket,
                seed,
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
        for number in proven {
            let precommit = self.precommits.remove(&number).expect("checked above");
            let pledge = TokenAmount::from_atto(policy.initial_pledge);
            // The pre-commit deposit is released; the pledge is locked (the devnet does not check the balance
            // for the pledge, which builtin-actors takes from the message value and available balance).
            self.locked_funds.0 -= &precommit.deposit.0;
            self.locked_funds.0 += &pledge;
            let deadline = (self.deadline_info(epoch, &policy).index + 2) % PERIOD_DEADLINES;
            let in_deadline = self.sectors.values().filter(|s| s.deadline == deadline).count() as u64;
            let sector = ProvenSector {
                seal_proof: precommit.seal_proof,
                sealed_cid: precommit.sealed_cid,
                activation: epoch,
                expiration: precommit.expiration,
                pledge: LotusJson(pledge),
                deadline,
                partition: in_deadline / self.partition_sectors,
                last_proven: None,
                faulty: false,
            };
            self.sectors.insert(number, sector);
        }
        Ok(Vec::new())
    }

    /// miner.SubmitWindowedPoSt for the current deadline.
    pub(super) fn submit_windowed_post(
        &mut self,
        message: &Message,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        let params: miner_state::SubmitWindowedPoStParams = decode(&message.params)?;
        let epoch = env.epoch();
        let policy = env.policy();
        let info = self.deadline_info(epoch, &policy);
        if params.deadline != info.index {
            return Err(illegal(format!(
                "invalid deadline {} at epoch {epoch}, expected {}",
                params.deadline, info.index
            )));
        }
        if params.chain_commit_epoch < info.challenge || params.chain_commit_epoch >= epoch {
            return Err(illegal(format!(
                "expected chain commit epoch in [{}, {epoch}), got {}",
                info.challenge, params.chain_commit_epoch
            )));
        }
        let miner_address = Address::new_id(self.id);
        let entropy = miner_entropy(&miner_address);
        let commit_rand = env.ticket_randomness(tags::POST_CHAIN_COMMIT, params.chain_commit_epoch, &entropy);
        if params.chain_commit_rand.0 != commit_rand {
            return Err(illegal("post commit randomness mismatched"));
        }
        if params.proofs.len() != 1 || i64::from(params.proofs[0].post_proof) != self.window_post_proof {
            return Err(illegal("expected exactly one proof of the miner's WindowPoSt type"));
        }
        let partitions: BTreeSet<u64> = params.partitions.iter().map(|p| p.index).collect();
        let skipped: BTreeSet<u64> = params.partitions.iter().flat_map(|p| p.skipped.iter()).collect();
        let challenged: Vec<u64> = self
            .sectors
            .iter()
            .filter(|(n, s)| s.deadline == info.index && partitions.contains(&s.partition) && !skipped.contains(n))
            .map(|(n, _)| *n)
            .collect();
        if challenged.is_empty() {
            return Err(illegal(format!("no sectors to prove in deadline {} partitions {partitions:?}", info.index)));
        }
        let post = PoStToVerify {
            proof_type: params.proofs[0].post_proof,
            randomness: env.beacon_randomness(tags::WINDOWED_POST_CHALLENGE_SEED, info.challenge, &entropy),
            prover_id: prover_id(self.id),
            sectors: challenged
                .iter()
                .map(|n| Ok((*n, commitment(&self.sectors[n].sealed_cid, SEALED_CODEC)?)))
                .collect::<Result<_, String>>()
                .map_err(illegal)?,
            proof: params.proofs[0].proof_bytes.clone(),
        };
        match env.verify_window_post(&post) {
            Ok(true) => {}
            Ok(false) => return Err(illegal("invalid PoSt")),
            Err(e) => return Err(illegal(format!("PoSt failed to verify: {e}"))),
        }
        for n in challenged {
            let sector = self.sectors.get_mut(&n).expect("listed");
            sector.last_proven = Some(epoch);
            sector.faulty = false;
        }
        Ok(Vec::new())
    }

    /// Marks faulty the sectors of every deadline that closed since the last call without a proof.
    pub fn end_deadlines(&mut self, epoch: i64, policy: &SectorPolicy) {
        for e in (self.processed_epoch + 1)..=epoch {
            let info = self.deadline_info(e, policy);
            if e != info.open {
                continue;
            }
            // `e` opens deadline `index`: the previous deadline just closed.
            let closed = self.deadline_info(e - 1, policy);
            for sector in self.sectors.values_mut() {
                let due = sector.deadline == closed.index && sector.activation < closed.open;
                let proven = sector.last_proven.is_some_and(|p| p >= closed.open);
                if due && !proven && !sector.faulty {
                    tracing::info!(miner = self.id, deadline = closed.index, "sector missed its WindowPoSt: faulty");
                    sector.faulty = true;
                }
            }
        }
        self.processed_epoch = self.processed_epoch.max(epoch);
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

fn illegal(reason: impl Into<String>) -> (ExitCode, String) {
    (ExitCode::USR_ILLEGAL_ARGUMENT, reason.into())
}
