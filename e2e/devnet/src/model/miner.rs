//! The storage miner actor: info, peer ID and multiaddrs (builtin-actors actors/miner/src/lib.rs), its
//! proving schedule, and the method dispatch into onboarding (`sectors`), WindowPoSt
//! (`post`), fault and recovery declarations (`faults`) and the deadline cron
//! (`cron`).

use std::collections::BTreeMap;

use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;
use fvm_shared::sector::RegisteredPoStProof;
use sealstack_chain::actors::{methods, miner_state, power_state};
use sealstack_chain::json::LotusJson;
use sealstack_chain::miner::{BeneficiaryTerm, MinerInfo};
use serde::{Deserialize, Serialize};

use super::ChainEnv;
use super::actors::{ActorTable, decode};
use super::deadlines::Deadline;
use super::funds::MinerFunds;
use super::policy::SectorPolicy;
use super::sectors::{PreCommit, SectorOnChain};

/// builtin-actors policy.max_peer_id_length.
pub const MAX_PEER_ID_LENGTH: usize = 128;
/// builtin-actors policy.max_multiaddr_data.
pub const MAX_MULTIADDR_DATA: usize = 1024;

/// A miner actor's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinerActor {
    /// Owner ID.
    pub owner: u64,
    /// Worker ID.
    pub worker: u64,
    /// Control address IDs.
    pub control: Vec<u64>,
    /// libp2p peer ID bytes.
    pub peer_id: LotusJson<Vec<u8>>,
    /// Binary multiaddrs.
    pub multiaddrs: Vec<LotusJson<Vec<u8>>>,
    /// `RegisteredPoStProof` as an integer.
    pub window_post_proof: i64,
    /// Sector size in bytes.
    pub sector_size: u64,
    /// Sectors per WindowPoSt partition.
    pub partition_sectors: u64,
    /// This actor's ID.
    pub id: u64,
    /// Locked funds, deposits, pledge and fee debt.
    #[serde(default)]
    pub funds: MinerFunds,
    /// The proving period's offset within the period length, fixed at creation.
    pub proving_period_offset: i64,
    /// Pre-committed sectors by number.
    pub precommits: BTreeMap<u64, PreCommit>,
    /// Activated sectors by number, terminated ones included.
    pub sectors: BTreeMap<u64, SectorOnChain>,
    /// The 48 deadlines and their partitions.
    #[serde(default)]
    pub deadlines: Vec<Deadline>,
    /// The last epoch whose deadline end was processed.
    pub processed_epoch: i64,
    /// The epoch until which a consensus fault keeps the miner from mining (-1: none).
    #[serde(default = "no_consensus_fault")]
    pub consensus_fault_elapsed: i64,
}

fn no_consensus_fault() -> i64 {
    -1
}

impl MinerActor {
    /// The miner constructor's checks and initial state.
    pub fn new(
        owner: u64,
        worker: u64,
        params: &power_state::CreateMinerParams,
        id: u64,
        epoch: i64,
        period_deadlines: u64,
    ) -> Result<Self, (ExitCode, String)> {
        let proof = params.window_post_proof_type;
        // The devnet bundle allows the small sector sizes only (builtin-actors runtime/build.rs, "devnet").
        let allowed = [RegisteredPoStProof::StackedDRGWindow2KiBV1P1, RegisteredPoStProof::StackedDRGWindow8MiBV1P1];
        if !allowed.contains(&proof) {
            return Err((
                ExitCode::USR_ILLEGAL_ARGUMENT,
                format!("proof type {} not allowed for new miner actors", i64::from(proof)),
            ));
        }
        check_peer_id(&params.peer)?;
        let multiaddrs: Vec<Vec<u8>> = params.multiaddrs.iter().map(|m| m.0.clone()).collect();
        check_multiaddrs(&multiaddrs)?;
        let sector_size = proof.sector_size().expect("allowed proofs have sizes") as u64;
        let partition_sectors = proof.window_post_partition_sectors().expect("allowed proofs have partitions");
        Ok(MinerActor {
            owner,
            worker,
            control: Vec::new(),
            peer_id: LotusJson(params.peer.clone()),
            multiaddrs: multiaddrs.into_iter().map(LotusJson).collect(),
            window_post_proof: i64::from(proof),
            sector_size,
            partition_sectors,
            id,
            funds: MinerFunds::default(),
            proving_period_offset: proving_period_offset(id),
            precommits: BTreeMap::new(),
            sectors: BTreeMap::new(),
            deadlines: vec![Deadline::default(); period_deadlines as usize],
            processed_epoch: epoch,
            consensus_fault_elapsed: -1,
        })
    }

    /// The period's deadlines exist (a state written before they were kept has none).
    pub(super) fn ensure_deadlines(&mut self, policy: &SectorPolicy) {
        self.deadlines.resize_with(policy.period_deadlines as usize, Deadline::default);
    }

    /// The start of the proving period `epoch` is in.
    pub fn current_period_start(&self, epoch: i64, policy: &SectorPolicy) -> i64 {
        let period = policy.proving_period();
        let offset = self.proving_period_offset.rem_euclid(period);
        epoch - (epoch - offset).rem_euclid(period)
    }

    /// The deadline open at `epoch` (builtin-actors `State::deadline_info`).
    pub fn deadline_info(&self, epoch: i64, policy: &SectorPolicy) -> sealstack_chain::miner::DeadlineInfo {
        let period_start = self.current_period_start(epoch, policy);
        let index = ((epoch - period_start) / policy.challenge_window) as u64;
        super::deadlines::deadline_info(policy, period_start, index, epoch)
    }

    /// The StateMinerInfo view.
    pub fn info(&self) -> MinerInfo {
        let peer_id = (!self.peer_id.is_empty()).then(|| libp2p_peer_id_text(&self.peer_id)).flatten();
        MinerInfo {
            owner: LotusJson(Address::new_id(self.owner)),
            worker: LotusJson(Address::new_id(self.worker)),
            new_worker: None,
            control_addresses: Some(self.control.iter().map(|id| LotusJson(Address::new_id(*id))).collect()),
            worker_change_epoch: -1,
            peer_id,
            multiaddrs: Some(self.multiaddrs.clone()),
            window_post_proof_type: self.window_post_proof,
            sector_size: self.sector_size,
            window_post_partition_sectors: self.partition_sectors,
            consensus_fault_elapsed: self.consensus_fault_elapsed,
            pending_owner_address: None,
            beneficiary: LotusJson(Address::new_id(self.owner)),
            beneficiary_term: BeneficiaryTerm {
                quota: LotusJson(TokenAmount::from_atto(0)),
                used_quota: LotusJson(TokenAmount::from_atto(0)),
                expiration: 0,
            },
            pending_beneficiary_term: None,
        }
    }

    /// Runs a method on this miner.
    pub fn invoke(
        &mut self,
        message: &Message,
        caller: u64,
        table: &mut ActorTable,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        match message.method_num {
            methods::CHANGE_PEER_ID | methods::CHANGE_PEER_ID_EXPORTED => {
                let params: miner_state::ChangePeerIDParams = decode(&message.params)?;
                check_peer_id(&params.new_id)?;
                self.check_control_caller(caller)?;
                self.peer_id = LotusJson(params.new_id);
                Ok(Vec::new())
            }
            methods::CHANGE_MULTIADDRS | methods::CHANGE_MULTIADDRS_EXPORTED => {
                let params: miner_state::ChangeMultiaddrsParams = decode(&message.params)?;
                let addrs: Vec<Vec<u8>> = params.new_multi_addrs.into_iter().map(|m| m.0).collect();
                check_multiaddrs(&addrs)?;
                self.check_control_caller(caller)?;
                self.multiaddrs = addrs.into_iter().map(LotusJson).collect();
                Ok(Vec::new())
            }
            methods::PRE_COMMIT_SECTOR_BATCH2 => {
                self.check_control_caller(caller)?;
                let burn = self.pre_commit_batch(message, &table.balance(self.id), env)?;
                table.burn(self.id, &burn);
                Ok(Vec::new())
            }
            methods::PROVE_COMMIT_SECTORS3 => {
                self.check_control_caller(caller)?;
                self.prove_commit(message, &table.balance(self.id), env)
            }
            methods::SUBMIT_WINDOWED_POST => self.submit_windowed_post(message, caller, env),
            methods::DECLARE_FAULTS => self.declare_faults(message, caller, env),
            methods::DECLARE_FAULTS_RECOVERED => {
                let burn = self.declare_faults_recovered(message, caller, &table.balance(self.id), env)?;
                table.burn(self.id, &burn);
                Ok(Vec::new())
            }
            methods::EXTEND_SECTOR_EXPIRATION2 => self.extend_sector_expiration2(message, caller, env),
            methods::TERMINATE_SECTORS => {
                let (done, burn) = self.terminate_sectors(message, caller, &table.balance(self.id), env)?;
                table.burn(self.id, &burn);
                Ok(done)
            }
            other => Err((ExitCode::USR_UNHANDLED_MESSAGE, format!("miner method {other} not handled by the devnet"))),
        }
    }

    /// Owner, worker or a control address may call (builtin-actors validate_caller_addr).
    pub(super) fn check_control_caller(&self, caller: u64) -> Result<(), (ExitCode, String)> {
        if caller == self.owner || caller == self.worker || self.control.contains(&caller) {
            Ok(())
        } else {
            Err((ExitCode::USR_FORBIDDEN, format!("caller {caller} is not one of the miner's control addresses")))
        }
    }
}

/// A refusal with USR_ILLEGAL_ARGUMENT, the actors' answer to bad parameters.
pub(super) fn illegal(reason: impl Into<String>) -> (ExitCode, String) {
    (ExitCode::USR_ILLEGAL_ARGUMENT, reason.into())
}

fn check_peer_id(peer_id: &[u8]) -> Result<(), (ExitCode, String)> {
    if peer_id.len() > MAX_PEER_ID_LENGTH {
        return Err((
            ExitCode::USR_ILLEGAL_ARGUMENT,
            format!("peer ID size of {} exceeds maximum size of {MAX_PEER_ID_LENGTH}", peer_id.len()),
        ));
    }
    Ok(())
}

fn check_multiaddrs(addrs: &[Vec<u8>]) -> Result<(), (ExitCode, String)> {
    let mut total = 0;
    for addr in addrs {
        if addr.is_empty() {
            return Err((ExitCode::USR_ILLEGAL_ARGUMENT, "invalid empty multiaddr".to_string()));
        }
        total += addr.len();
    }
    if total > MAX_MULTIADDR_DATA {
        return Err((
            ExitCode::USR_ILLEGAL_ARGUMENT,
            format!("multiaddr size of {total} exceeds maximum of {MAX_MULTIADDR_DATA}"),
        ));
    }
    Ok(())
}

/// A deterministic offset of the proving period from the actor ID (the real actor hashes the address and the
/// epoch; any fixed offset per miner keeps the deadline arithmetic the same).
fn proving_period_offset(id: u64) -> i64 {
    let digest = blake2b_simd::Params::new().hash_length(8).hash(&id.to_be_bytes());
    (u64::from_be_bytes(digest.as_bytes().try_into().expect("8 bytes")) % 1_000_000) as i64
}

/// The base58 text of a libp2p peer ID's bytes (what Lotus prints), if they are one.
fn libp2p_peer_id_text(bytes: &[u8]) -> Option<String> {
    let hash = cid::multihash::Multihash::<64>::from_bytes(bytes).ok()?;
    Some(bs58::encode(hash.to_bytes()).into_string())
}
