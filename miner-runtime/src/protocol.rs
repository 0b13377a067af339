//! The miner daemon's JSON-RPC API, shared by the daemon (server), the CLI and the workers (clients).
//!
//! The CLI methods keep lotus-miner's names, parameters and JSON field names (api/api_storage.go):
//! `ActorAddress`, `ActorSectorSize`, `SectorsList`, `SectorsStatus`, `SectorPledge`, `WorkerStats`,
//! `StorageList`. The worker protocol is sealstack's own and pull-based (`SealstackTask*`): a worker asks for a
//! task that fits its task types and free resources, reports progress while it runs it (its lease), and hands
//! the result back. Lotus's miner instead calls into each worker's own API server; pulling lets workers live
//! behind a Service with no inbound route and survives a miner restart without re-registration.

use std::collections::BTreeMap;

use cid::Cid;
use fvm_shared::address::Address;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use sealstack_chain::LotusJson;
use sealstack_chain::api::{MethodSpec, find_method, spec};
use sealstack_chain::auth::Permission;
use serde::{Deserialize, Serialize};

use crate::sealing::SectorRef;

/// The miner daemon's API. `client` generates `MinerApiClient`, `server` generates `MinerApiServer`.
#[rpc(client, server, namespace = "Filecoin", namespace_separator = ".")]
pub trait MinerApi {
    /// The miner actor's address.
    #[method(name = "ActorAddress")]
    async fn actor_address(&self) -> RpcResult<LotusJson<Address>>;

    /// The sector size of a miner actor, in bytes.
    #[method(name = "ActorSectorSize")]
    async fn actor_sector_size(&self, actor: LotusJson<Address>) -> RpcResult<u64>;

    /// Every sector number the miner knows.
    #[method(name = "SectorsList")]
    async fn sectors_list(&self) -> RpcResult<Vec<u64>>;

    /// One sector's state, commitments, messages and log; with `show_on_chain`, its on-chain record too.
    #[method(name = "SectorsStatus")]
    async fn sectors_status(&self, number: u64, show_on_chain: bool) -> RpcResult<SectorInfo>;

    /// Starts sealing a new committed-capacity sector.
    #[method(name = "SectorPledge")]
    async fn sector_pledge(&self) -> RpcResult<SectorId>;

    /// The connected workers, by worker id.
    #[method(name = "WorkerStats")]
    async fn worker_stats(&self) -> RpcResult<BTreeMap<String, WorkerStats>>;

    /// The miner's long-term storage: the sectors whose sealed files it holds, by storage id.
    #[method(name = "StorageList")]
    async fn storage_list(&self) -> RpcResult<BTreeMap<String, Vec<StoredSector>>>;

    /// Each long-term store: ID, path, weight, limit, sectors, bytes used, the file system's size and room
    /// (`storage list`; lotus-miner answers with StorageList, StorageInfo and StorageStat per store).
    #[method(name = "SealstackStorageStat")]
    async fn storage_stat(&self) -> RpcResult<Vec<StoreStat>>;

    /// Reads again which store holds each sector, after sector files were moved by hand (lotus-miner `storage
    /// redeclare`); returns the stores as [`MinerApiClient::storage_stat`] does.
    #[method(name = "StorageRedeclareLocal")]
    async fn storage_redeclare_local(&self) -> RpcResult<Vec<StoreStat>>;

    /// Moves a stored sector to another store (its ID or directory): copied, checked, switched, the source
    /// deleted; crash-safe (lotus-miner has `storage` moves only through its sealing pipeline).
    #[method(name = "SealstackStorageMove")]
    async fn storage_move(&self, sector: u64, store: String) -> RpcResult<()>;

    /// Checks that sectors can be proven, as the daemon does before each deadline (files, then a vanilla proof
    /// of random challenges, each sector within the check timeout): the bad ones with the reason (lotus-miner's
    /// `CheckProvable`; the daemon knows its proof type). Sectors the miner has not proven on chain are refused.
    #[method(name = "CheckProvable")]
    async fn check_provable(&self, sectors: Vec<u64>) -> RpcResult<BTreeMap<u64, String>>;

    /// The sectors waiting for a PreCommitSectorBatch2 (lotus-miner's `SectorPreCommitPending`).
    #[method(name = "SectorPreCommitPending")]
    async fn sector_pre_commit_pending(&self) -> RpcResult<Vec<SectorId>>;

    /// The sectors waiting for a batched ProveCommitSectors3 (lotus-miner's `SectorCommitPending`).
    #[method(name = "SectorCommitPending")]
    async fn sector_commit_pending(&self) -> RpcResult<Vec<SectorId>>;

    /// The batches made and not settled yet: journaled, their message pushed or about to be.
    #[method(name = "SealstackBatchesOpen")]
    async fn batches_open(&self) -> RpcResult<Vec<OpenBatch>>;

    /// Sends the waiting sectors of `kind` (`precommit` or `commit`) at the batcher's next pass, whatever their
    /// wait (lotus-miner's `SectorPreCommitFlush` and `SectorCommitFlush`, which answer once sent); returns them.
    #[method(name = "SealstackBatchesFlush")]
    async fn batches_flush(&self, kind: String) -> RpcResult<Vec<u64>>;

    /// What a pool of workers running `tasks` has to do (the operator's autoscaler asks; the client is
    /// `sealstack_chain::worker_pool::WorkerPoolApiClient`).
    #[method(name = "SealstackWorkerDemand")]
    async fn worker_demand(&self, tasks: Vec<TaskKind>) -> RpcResult<Demand>;

    /// Drains the worker `name` (it finishes the sectors whose files it holds and takes nothing else) or ends its
    /// draining; `true` when that changed anything.
    #[method(name = "SealstackWorkerDrain")]
    async fn worker_drain(&self, name: String, drain: bool) -> RpcResult<bool>;

    /// A worker asks for a task; answered within 5 s (half a lease at most), with `null` when none fits.
    #[method(name = "SealstackTaskAcquire")]
    async fn task_acquire(&self, worker: WorkerReport) -> RpcResult<Option<Task>>;

    /// A worker renews its lease on a running task; `false` when the task is no longer its own.
    #[method(name = "SealstackTaskProgress")]
    async fn task_progress(&self, worker: String, task: String) -> RpcResult<bool>;

    /// A worker hands back a task's result (or its failure).
    #[method(name = "SealstackTaskDone")]
    async fn task_done(&self, worker: String, task: String, result: TaskResult) -> RpcResult<()>;
}

/// Every method of [`MinerApi`] with its permission (lotus-miner's `//perm:` annotations; admin for the worker
/// protocol, as lotus-worker's token is) and parameter count.
pub const METHODS: &[MethodSpec] = &[
    spec("ActorAddress", Permission::Read, 0),
    spec("ActorSectorSize", Permission::Read, 1),
    spec("SectorsList", Permission::Read, 0),
    spec("SectorsStatus", Permission::Read, 2),
    spec("SectorPledge", Permission::Write, 0),
    spec("WorkerStats", Permission::Admin, 0),
    spec("StorageList", Permission::Admin, 0),
    spec("SealstackStorageStat", Permission::Admin, 0),
    spec("StorageRedeclareLocal", Permission::Admin, 0),
    spec("SealstackStorageMove", Permission::Admin, 2),
    spec("CheckProvable", Permission::Admin, 1),
    spec("SectorPreCommitPending", Permission::Admin, 0),
    spec("SectorCommitPending", Permission::Admin, 0),
    spec("SealstackBatchesOpen", Permission::Admin, 0),
    spec("SealstackBatchesFlush", Permission::Admin, 1),
    spec("SealstackWorkerDemand", Permission::Admin, 1),
    spec("SealstackWorkerDrain", Permission::Admin, 2),
    spec("SealstackTaskAcquire", Permission::Admin, 1),
    spec("SealstackTaskProgress", Permission::Admin, 2),
    spec("SealstackTaskDone", Permission::Admin, 3),
];

/// The spec of a fully qualified method name (`Filecoin.SectorsList`).
pub fn method_spec(qualified: &str) -> Option<&'static MethodSpec> {
    find_method(METHODS, qualified)
}

/// A sector's identity on chain (lotus abi.SectorID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorId {
    /// The miner actor's id.
    #[serde(rename = "Miner")]
    pub miner: u64,
    /// The sector number.
    #[serde(rename = "Number")]
    pub number: u64,
}

pub use sealstack_chain::worker_pool::{Demand, PoolWorker};

/// A batch made and not settled yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenBatch {
    /// Its id (its journal's name).
    pub id: String,
    /// Its message: `pre-commit-batch`, `prove-commit-aggregate` or `prove-commit-batch`.
    pub step: String,
    /// Its sectors, in the message's order.
    pub sectors: Vec<u64>,
    /// Its message's CID, once pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

/// Randomness drawn at an epoch (lotus SealTicket / SealSeed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Randomness {
    /// The 32 bytes, base64.
    #[serde(rename = "Value")]
    pub value: LotusJson<Vec<u8>>,
    /// The epoch drawn at.
    #[serde(rename = "Epoch")]
    pub epoch: i64,
}

/// One entry of a sector's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorLog {
    /// What happened: `state` for a transition, `error` for a failure, `task` for a worker's task.
    #[serde(rename = "Kind")]
    pub kind: String,
    /// Unix seconds.
    #[serde(rename = "Timestamp")]
    pub timestamp: u64,
    /// What happened, in words.
    #[serde(rename = "Message")]
    pub message: String,
}

/// `SectorsStatus`'s result: lotus api.SectorInfo's fields that sealstack fills.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectorInfo {
    /// The sector number.
    #[serde(rename = "SectorID")]
    pub sector_id: u64,
    /// Its state, by lotus's state names (`PreCommit1`, `WaitSeed`, `Proving`, ...).
    #[serde(rename = "State")]
    pub state: String,
    /// CommD's CID, once PreCommit2 ran.
    #[serde(rename = "CommD")]
    pub comm_d: Option<LotusJson<Cid>>,
    /// CommR's CID, once PreCommit2 ran.
    #[serde(rename = "CommR")]
    pub comm_r: Option<LotusJson<Cid>>,
    /// The seal proof, once Commit2 ran.
    #[serde(rename = "Proof")]
    pub proof: Option<LotusJson<Vec<u8>>>,
    /// The seal ticket.
    #[serde(rename = "Ticket")]
    pub ticket: Option<Randomness>,
    /// The interactive seed.
    #[serde(rename = "Seed")]
    pub seed: Option<Randomness>,
    /// The PreCommit message.
    #[serde(rename = "PreCommitMsg")]
    pub pre_commit_msg: Option<LotusJson<Cid>>,
    /// The ProveCommit message.
    #[serde(rename = "CommitMsg")]
    pub commit_msg: Option<LotusJson<Cid>>,
    /// Failed attempts of the current state.
    #[serde(rename = "Retries")]
    pub retries: u64,
    /// The last error.
    #[serde(rename = "LastErr")]
    pub last_err: String,
    /// The sector's history.
    #[serde(rename = "Log")]
    pub log: Vec<SectorLog>,
    /// The on-chain seal proof type.
    #[serde(rename = "SealProof")]
    pub seal_proof: i64,
    /// Activation epoch on chain (with `show_on_chain`, once proven).
    #[serde(rename = "Activation")]
    pub activation: i64,
    /// Expiration epoch on chain (with `show_on_chain`, once proven).
    #[serde(rename = "Expiration")]
    pub expiration: i64,
}

/// Resources of a worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// CPU cores.
    pub cpus: u32,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// GPUs.
    pub gpus: u32,
}

impl Resources {
    /// Whether `need` fits in these (free) resources.
    pub fn fits(&self, need: &Resources) -> bool {
        need.cpus <= self.cpus && need.memory_bytes <= self.memory_bytes && need.gpus <= self.gpus
    }

    /// How many tasks needing `need` fit in these resources at once (`u64::MAX` for a need of nothing).
    pub fn how_many(&self, need: &Resources) -> u64 {
        let fit = |have: u64, want: u64| have.checked_div(want).unwrap_or(u64::MAX);
        fit(self.cpus.into(), need.cpus.into())
            .min(fit(self.memory_bytes, need.memory_bytes))
            .min(fit(self.gpus.into(), need.gpus.into()))
    }

    /// Takes `need` out of these (free) resources, down to nothing.
    pub fn take(&mut self, need: &Resources) {
        self.cpus = self.cpus.saturating_sub(need.cpus);
        self.memory_bytes = self.memory_bytes.saturating_sub(need.memory_bytes);
        self.gpus = self.gpus.saturating_sub(need.gpus);
    }

    /// Gives `need` back to these (free) resources.
    pub fn give(&mut self, need: &Resources) {
        self.cpus += need.cpus;
        self.memory_bytes += need.memory_bytes;
        self.gpus += need.gpus;
    }
}

/// The stages of sealing a worker runs, by lotus's task names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[value(rename_all = "PascalCase")]
pub enum TaskKind {
    /// Fill the unsealed file (a committed-capacity sector: zeros).
    AddPiece,
    /// SDR labels (CPU, memory-bound).
    PreCommit1,
    /// Column and replica trees, CommR (GPU where there is one).
    PreCommit2,
    /// Vanilla proofs of the seed's challenges.
    Commit1,
    /// The SNARK (GPU where there is one).
    Commit2,
    /// Hand the sealed file and the cache (without the layers) to the miner's long-term storage.
    Finalize,
    /// The SNARK of a WindowPoSt message from its sectors' vanilla proofs (GPU where there is one); reads no
    /// sector file.
    WindowPoSt,
    /// The SNARK of a won round's WinningPoSt from the challenged sectors' vanilla proofs (GPU where there is
    /// one); reads no sector file. The daemon still signs and submits the block.
    WinningPoSt,
}

impl TaskKind {
    /// Every kind, in pipeline order.
    pub const ALL: [TaskKind; 8] = [
        TaskKind::AddPiece,
        TaskKind::PreCommit1,
        TaskKind::PreCommit2,
        TaskKind::Commit1,
        TaskKind::Commit2,
        TaskKind::Finalize,
        TaskKind::WindowPoSt,
        TaskKind::WinningPoSt,
    ];

    /// The name used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::AddPiece => "AddPiece",
            TaskKind::PreCommit1 => "PreCommit1",
            TaskKind::PreCommit2 => "PreCommit2",
            TaskKind::Commit1 => "Commit1",
            TaskKind::Commit2 => "Commit2",
            TaskKind::Finalize => "Finalize",
            TaskKind::WindowPoSt => "WindowPoSt",
            TaskKind::WinningPoSt => "WinningPoSt",
        }
    }

    /// Whether it runs faster on a GPU (and takes one when the worker has any).
    pub fn uses_gpu(self) -> bool {
        matches!(self, TaskKind::PreCommit2 | TaskKind::Commit2 | TaskKind::WindowPoSt | TaskKind::WinningPoSt)
    }

    /// Whether it takes every CPU core of the worker.
    pub fn takes_all_cpus(self) -> bool {
        matches!(self, TaskKind::PreCommit2 | TaskKind::Commit2 | TaskKind::WindowPoSt | TaskKind::WinningPoSt)
    }

    /// Whether it proves (a PoSt) rather than seals one sector: such tasks come before sealing tasks and carry
    /// their whole input.
    pub fn is_post(self) -> bool {
        matches!(self, TaskKind::WindowPoSt | TaskKind::WinningPoSt)
    }
}

/// How far a worker's local files of a sector got: each stage's files are the next one's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FileStage {
    /// The unsealed file (AddPiece).
    Unsealed,
    /// Labels and tree D, the sealed file holding a copy of the data (PreCommit1).
    PreCommit1,
    /// The replica and its trees (PreCommit2).
    PreCommit2,
}

/// A sector whose files a worker holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldSector {
    /// The sector number.
    pub number: u64,
    /// How far its files got.
    pub stage: FileStage,
    /// The ticket its PreCommit1 used, once it ran.
    pub ticket: Option<LotusJson<Vec<u8>>>,
}

/// What a worker tells the miner each time it asks for a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerReport {
    /// Stable id (kept in the worker's scratch directory).
    pub id: String,
    /// Host name, for people.
    pub name: String,
    /// The task kinds it runs.
    pub tasks: Vec<TaskKind>,
    /// Its resources.
    pub resources: Resources,
    /// Its resources not taken by running tasks.
    pub free: Resources,
    /// The sectors whose files it holds.
    pub held: Vec<HeldSector>,
}

/// A task handed to a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Unique id.
    pub id: String,
    /// The sector a sealing task works on; none for a PoSt task (its input holds what it proves).
    pub sector: Option<SectorRef>,
    /// What to run.
    pub input: TaskInput,
}

/// What a task runs, with the inputs the worker does not hold itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum TaskInput {
    /// AddPiece of a committed-capacity sector.
    AddPiece,
    /// PreCommit1 with this ticket.
    PreCommit1 {
        /// The seal ticket.
        ticket: LotusJson<Vec<u8>>,
    },
    /// PreCommit2 of the worker's PreCommit1 output.
    PreCommit2,
    /// Commit1 with this seed.
    Commit1 {
        /// The interactive seed.
        seed: LotusJson<Vec<u8>>,
    },
    /// Commit2 of a Commit1 output (from any worker).
    Commit2 {
        /// The Commit1 output.
        phase1: LotusJson<Vec<u8>>,
    },
    /// Upload the sealed file and the cache to the miner at `/remote/finalize/<sector>/<task id>/...`.
    Finalize,
    /// The WindowPoSt SNARK of one message's sectors from their vanilla proofs, made by the miner next to its
    /// storage.
    WindowPoSt {
        /// The on-chain `RegisteredPoStProof`.
        post_proof: i64,
        /// The deadline's challenge randomness.
        randomness: LotusJson<Vec<u8>>,
        /// The miner actor's ID.
        miner: u64,
        /// Each sector's vanilla proof.
        vanilla: Vec<crate::sealing::post::VanillaProof>,
    },
    /// The WinningPoSt SNARK of a won round from the challenged sectors' vanilla proofs, made by the miner next
    /// to its storage.
    WinningPoSt {
        /// The on-chain `RegisteredPoStProof` (a WinningPoSt type).
        post_proof: i64,
        /// The round's WinningPoSt randomness.
        randomness: LotusJson<Vec<u8>>,
        /// The miner actor's ID.
        miner: u64,
        /// Each challenged sector's vanilla proof, in the challenge's order.
        vanilla: Vec<crate::sealing::post::VanillaProof>,
    },
}

impl TaskInput {
    /// Its kind.
    pub fn kind(&self) -> TaskKind {
        match self {
            TaskInput::AddPiece => TaskKind::AddPiece,
            TaskInput::PreCommit1 { .. } => TaskKind::PreCommit1,
            TaskInput::PreCommit2 => TaskKind::PreCommit2,
            TaskInput::Commit1 { .. } => TaskKind::Commit1,
            TaskInput::Commit2 { .. } => TaskKind::Commit2,
            TaskInput::Finalize => TaskKind::Finalize,
            TaskInput::WindowPoSt { .. } => TaskKind::WindowPoSt,
            TaskInput::WinningPoSt { .. } => TaskKind::WinningPoSt,
        }
    }
}

/// A task's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum TaskResult {
    /// The pieces of the unsealed file.
    AddPiece {
        /// The pieces (one zero piece for CC).
        pieces: Vec<filecoin_proofs_api::PieceInfo>,
    },
    /// PreCommit1 ran; its output stays with the worker's files.
    PreCommit1,
    /// CommR and CommD.
    PreCommit2 {
        /// The replica commitment.
        comm_r: [u8; 32],
        /// The data commitment.
        comm_d: [u8; 32],
    },
    /// The vanilla proofs.
    Commit1 {
        /// The Commit1 output.
        phase1: LotusJson<Vec<u8>>,
    },
    /// The seal proof.
    Commit2 {
        /// The proof ProveCommit takes.
        proof: LotusJson<Vec<u8>>,
    },
    /// The files were uploaded.
    Finalize,
    /// The WindowPoSt SNARK.
    WindowPoSt {
        /// The proof bytes of the message's one proof.
        proof: LotusJson<Vec<u8>>,
    },
    /// The WinningPoSt SNARK.
    WinningPoSt {
        /// The proof bytes of the block's one proof.
        proof: LotusJson<Vec<u8>>,
    },
    /// The task failed.
    Failed {
        /// Why.
        error: String,
    },
}

/// `WorkerStats`' entry of one worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStats {
    /// Host name.
    pub name: String,
    /// Task kinds.
    pub tasks: Vec<TaskKind>,
    /// Resources.
    pub resources: Resources,
    /// Free resources at its last request.
    pub free: Resources,
    /// Tasks it is running now.
    pub running: Vec<String>,
    /// Seconds since it was last heard from.
    pub last_seen_secs: u64,
}

/// `StorageList`'s entry of one sector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSector {
    /// The sector.
    #[serde(rename = "SectorID")]
    pub sector_id: SectorId,
    /// Which files: `sealed`, `cache`.
    #[serde(rename = "SectorFileType")]
    pub file_types: Vec<String>,
}

/// One long-term store (`SealstackStorageStat`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoreStat {
    /// Its ID (`sectorstore.json`).
    #[serde(rename = "ID")]
    pub id: String,
    /// Its directory.
    pub path: String,
    /// Its weight: its share of new sectors.
    pub weight: u64,
    /// Bytes its sectors may take (0: no limit but the file system's).
    pub max_storage: u64,
    /// Sectors it holds.
    pub sectors: u64,
    /// Bytes of their files.
    pub used: u64,
    /// The file system's size.
    pub capacity: u64,
    /// Bytes the file system has free.
    pub available: u64,
    /// Bytes it can still take: its room within its limit (0 when missing).
    pub room: u64,
    /// Whether its directory is gone: its sectors are not readable.
    pub missing: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_method_has_a_spec_and_worker_methods_need_admin() {
        for name in ["SectorsList", "SectorsStatus", "SectorPledge", "SealstackTaskAcquire"] {
            assert!(method_spec(&format!("Filecoin.{name}")).is_some(), "{name}");
        }
        assert_eq!(method_spec("Filecoin.SealstackTaskDone").unwrap().permission, Permission::Admin);
        assert_eq!(method_spec("Filecoin.SectorPledge").unwrap().permission, Permission::Write);
        assert!(method_spec("SectorsList").is_none(), "the namespace is required");
    }

    #[test]
    fn tasks_serialise_with_their_kind() {
        let input = TaskInput::PreCommit1 { ticket: LotusJson(vec![1; 32]) };
        let json = serde_json::to_value(&input).unwrap();
        assert_eq!(json["kind"], "PreCommit1");
        assert_eq!(serde_json::from_value::<TaskInput>(json).unwrap().kind(), TaskKind::PreCommit1);
        let done = serde_json::to_value(TaskResult::Failed { error: "x".into() }).unwrap();
        assert_eq!(done, serde_json::json!({"kind": "Failed", "error": "x"}));
    }

    #[test]
    fn resources_fit() {
        let free = Resources { cpus: 2, memory_bytes: 100, gpus: 0 };
        assert!(free.fits(&Resources { cpus: 1, memory_bytes: 100, gpus: 0 }));
        assert!(!free.fits(&Resources { cpus: 1, memory_bytes: 10, gpus: 1 }));
        assert!(FileStage::Unsealed < FileStage::PreCommit2);
    }
}
