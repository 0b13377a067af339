//! The miner daemon (`sealstack-miner run`, what `lotus-miner run` does): the JSON-RPC API with JWT auth and the
//! `/remote` sector file endpoints, the sealing scheduler handing tasks to workers, the chain steps of sealing
//! (one message per sector, or batched and aggregated: [`batching`]),
//! WindowPoSt at each deadline with its checks, fault and recovery declarations ([`proving`]), mining blocks
//! ([`mining`]), a libp2p host, and
//! `/metrics` with health endpoints.

pub mod api;
pub mod batching;
pub mod lifecycle;
pub mod metrics;
pub mod mining;
pub mod p2p;
pub mod pipeline;
pub mod post_jobs;
pub mod proving;
pub mod scheduler;
pub mod sectors;
pub mod storage;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fvm_shared::address::Address;
use fvm_shared::sector::RegisteredSealProof;
use jsonrpsee::core::middleware::RpcServiceBuilder;
use jsonrpsee::server::{BatchRequestConfig, ServerBuilder, ServerConfig, ServerHandle};
use sealstack_chain::api::FullNodeClient;
use sealstack_chain::node::NetworkParams;
use sealstack_chain::randomness::miner_entropy;
use sealstack_chain::server_auth::{HttpAuth, RpcAuth};
use sealstack_chain::{LotusJson, Node, TipSetKey, repo_files};
use tokio::sync::Notify;

use crate::protocol::{MinerApiServer, Task, TaskKind, TaskResult, WorkerReport, method_spec};
use crate::repo::MinerRepo;
use crate::sealing::{PreCommit2Output, verify_seal};
use metrics::Metrics;
use scheduler::{Lease, Scheduler};
use sectors::{SectorRecord, SectorStore};
use storage::{RemoteFiles, Storage};

/// Settings of the daemon.
#[derive(Clone)]
pub struct DaemonConfig {
    /// JSON-RPC API (and `/remote`) listen address.
    pub api_listen: SocketAddr,
    /// `/metrics` and health endpoints.
    pub metrics_listen: SocketAddr,
    /// libp2p listen multiaddr.
    pub p2p_listen: String,
    /// Long-term sector storage (default `<repo>/storage`).
    pub storage: PathBuf,
    /// Long-term stores attached beside it (`--store`).
    pub stores: Vec<storage::StoreConfig>,
    /// How long a task lease lasts without a progress report, and a worker stays known without a request.
    pub lease: Duration,
    /// How often the chain is polled.
    pub poll: Duration,
    /// Epochs before the head that the seal ticket is drawn at (lotus: chain finality, 900).
    pub seal_randomness_lookback: i64,
    /// Epochs from PreCommit to a sector's expiration.
    pub sector_lifetime: i64,
    /// Epochs a message must be buried under before it counts as landed.
    pub confidence: u64,
    /// The secret the API's tokens are signed with.
    pub jwt_secret: Vec<u8>,
    /// The libp2p identity (the one whose peer ID is on chain).
    pub libp2p_key: libp2p_identity::Keypair,
    /// The most a WindowPoSt or a fault or recovery declaration may cost in fees, replacements included.
    pub post_max_fee: fvm_shared::econ::TokenAmount,
    /// Epochs a proving message may wait in the message pool before it is replaced by fee.
    pub stuck_epochs: i64,
    /// How long one sector's check (its files and a vanilla proof) may take before the sector counts as bad.
    pub check_timeout: Duration,
    /// Sectors checked at once.
    pub check_parallel: usize,
    /// Under this balance the worker is warned about (a log line and a metric).
    pub worker_balance_low: fvm_shared::econ::TokenAmount,
    /// PoSt workers each PoSt SNARK is handed to at once (as many as are connected, up to this).
    pub post_redundancy: usize,
    /// Mining: on or off, the epoch's timing, the warm-up.
    pub mining: mining::MiningConfig,
    /// The sector extension policy (`None`: sectors expire on their date).
    pub extension: Option<lifecycle::ExtensionPolicy>,
    /// Batched PreCommits and ProveCommits (none by default: one message per sector).
    pub batching: batching::BatchingConfig,
}

/// The daemon's state, shared by the API, the scheduler, the chain steps and WindowPoSt.
pub struct Daemon {
    /// The repo.
    pub repo: MinerRepo,
    /// The miner actor (ID address).
    pub actor: Address,
    /// Its id.
    pub actor_id: u64,
    /// The worker address, which sends the miner's messages.
    pub worker: Address,
    /// Sector size in bytes.
    pub sector_size: u64,
    /// The seal proof of new sectors.
    pub seal_proof: RegisteredSealProof,
    /// The full node.
    pub node: Node,
    /// The network's parameters.
    pub network: NetworkParams,
    /// Every sector.
    pub store: SectorStore,
    /// Long-term sector storage.
    pub storage: Arc<Storage>,
    /// Tasks and workers.
    pub scheduler: Mutex<Scheduler>,
    /// Woken whenever a sector or a lease changes.
    pub changed: Notify,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Where each PoSt job's results go (the proving task waiting for them), by job id.
    pub post_results: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<post_jobs::WorkerProof>>>,
    /// Epochs the daemon's own last WindowPoSt SNARK took per partition: what it plans a fallback with.
    pub local_snark_epochs: Mutex<Option<f64>>,
    /// How long the daemon's own last WinningPoSt SNARK took: what it plans a fallback with.
    pub local_winning_snark: Mutex<Option<std::time::Duration>>,
    /// The daemon's own SNARKs run one at a time (each takes every core).
    pub local_prover: tokio::sync::Semaphore,
    /// Settings.
    pub config: DaemonConfig,
    /// The batches journaled and not settled, with their sectors.
    pub batches: batching::OpenBatches,
    /// Requests to send the waiting sectors of a batch kind now.
    pub batch_flush: batching::FlushRequests,
    paused: Mutex<HashMap<u64, Instant>>,
}

impl Daemon {
    /// Chain randomness for the miner: from tickets, or from the beacon, drawn from the current head. The head's
    /// key is given, not the empty key: Lotus reads the empty key as the head for the beacon, but refuses it for
    /// tickets ("NewTipSet called with zero length array of blocks": its GetRandomnessFromTickets loads the key
    /// as it is, lotus chain/stmgr/stmgr.go), as lotus-miner never sends it.
    pub async fn randomness(&self, tag: i64, epoch: i64, beacon: bool) -> anyhow::Result<[u8; 32]> {
        self.draw(tag, epoch, miner_entropy(&self.actor), beacon).await
    }

    /// The WindowPoSt chain commit: ticket randomness drawn with no entropy, as the miner actor checks it
    /// (builtin-actors `submit_windowed_post`; real Lotus refused ours drawn with the miner's address:
    /// "post commit randomness mismatched").
    pub async fn chain_commit_randomness(&self, epoch: i64) -> anyhow::Result<[u8; 32]> {
        self.draw(sealstack_chain::randomness::tags::POST_CHAIN_COMMIT, epoch, Vec::new(), false).await
    }

    /// Draws randomness at the head's tipset key (Lotus refuses the empty key for ticket randomness).
    async fn draw(&self, tag: i64, epoch: i64, entropy: Vec<u8>, beacon: bool) -> anyhow::Result<[u8; 32]> {
        let entropy = LotusJson(entropy);
        let api = self.node.api();
        let head = api.chain_head().await.map_err(self.node.err())?.key();
        let bytes = if beacon {
            api.state_get_randomness_from_beacon(tag, epoch, entropy, head).await
        } else {
            api.state_get_randomness_from_tickets(tag, epoch, entropy, head).await
        }
        .map_err(self.node.err())?;
        bytes.0.try_into().map_err(|b: Vec<u8>| anyhow::anyhow!("{} bytes of randomness, expected 32", b.len()))
    }

    /// Starts sealing a new committed-capacity sector.
    pub fn pledge(&self) -> anyhow::Result<SectorRecord> {
        let record = self.store.pledge(self.actor_id, self.seal_proof)?;
        tracing::info!(sector = record.sector.number, "pledged a committed-capacity sector");
        self.changed.notify_waiters();
        Ok(record)
    }

    /// Whether a sector is backing off after a failure.
    pub fn is_paused(&self, number: u64) -> bool {
        self.paused.lock().expect("pause lock").get(&number).is_some_and(|until| *until > Instant::now())
    }

    /// Records a failed step of a sector and backs it off.
    pub fn step_failed(&self, number: u64, error: anyhow::Error) {
        let message = format!("{error:#}");
        tracing::warn!(sector = number, error = %message, "sector step failed");
        if let Ok((record, ())) = self.store.update(number, |r| r.fail(message)) {
            let until = Instant::now() + pipeline::backoff(record.retries);
            self.paused.lock().expect("pause lock").insert(number, until);
        }
    }

    /// A task for `worker`, if one fits.
    pub fn try_acquire(&self, worker: &WorkerReport) -> Option<Task> {
        let mut scheduler = self.scheduler.lock().expect("scheduler lock");
        scheduler.heard_from(worker.clone());
        for (task, lease) in scheduler.expire() {
            tracing::warn!(
                task,
                worker = lease.worker,
                sector = lease.sector,
                job = lease.job,
                "task lease expired: handing it out again"
            );
            self.metrics.task(lease.kind.as_str(), "expired", None);
        }
        let sectors = self.store.all();
        let task = scheduler.acquire(worker, &sectors, self.sector_size, |n| self.is_paused(n))?;
        drop(scheduler);
        let sector = task.sector.map(|s| s.number);
        tracing::info!(task = task.id, worker = worker.name, sector, "task handed out");
        if let Some(number) = sector {
            let _ = self.store.update(number, |r| {
                r.note("task", format!("{} handed to worker {}", task.input.kind().as_str(), worker.name))
            });
        }
        Some(task)
    }

    /// Applies a worker's result: checks a seal proof, moves finalized files into place, advances the sector.
    pub async fn task_finished(
        &self,
        task: &str,
        number: u64,
        kind: TaskKind,
        lease: Option<Lease>,
        mut result: TaskResult,
    ) -> anyhow::Result<()> {
        let record = self.store.get(number).ok_or_else(|| anyhow::anyhow!("no sector {number}"))?;
        let awaited = record.need().map(|n| n.kind) == Some(kind);
        match &result {
            TaskResult::Finalize if awaited => {
                if let Err(error) = self.storage.finalize(task, &record.sector) {
                    result = TaskResult::Failed { error: format!("{error:#}") };
                }
            }
            TaskResult::Commit2 { proof } if awaited => {
                if let Err(error) = check_seal_proof(&record, proof.0.clone()).await {
                    // Make the vanilla proofs again too: the next Commit2 gets a fresh Commit1 output.
                    self.store.update(number, |r| r.commit1 = None)?;
                    result = TaskResult::Failed { error: format!("{error:#}") };
                }
            }
            _ => {}
        }
        let failed = matches!(result, TaskResult::Failed { .. });
        let seconds = lease.as_ref().map(|l| l.started.elapsed().as_secs_f64());
        self.metrics.task(kind.as_str(), if failed { "failed" } else { "ok" }, seconds);
        let (record, applied) = self.store.update(number, |r| r.apply(kind, result))?;
        if failed && awaited {
            let until = Instant::now() + pipeline::backoff(record.retries);
            self.paused.lock().expect("pause lock").insert(number, until);
        }
        tracing::info!(task, sector = number, state = record.display_state(), failed, "task result");
        self.changed.notify_waiters();
        applied.map_err(|e| anyhow::anyhow!(e))
    }
}

/// Verifies a seal proof as the chain will, before it is sent.
async fn check_seal_proof(record: &SectorRecord, proof: Vec<u8>) -> anyhow::Result<()> {
    let commitments: PreCommit2Output = record.commitments.ok_or_else(|| anyhow::anyhow!("no commitments"))?;
    let ticket = record.ticket.ok_or_else(|| anyhow::anyhow!("no ticket"))?.value;
    let seed = record.seed.ok_or_else(|| anyhow::anyhow!("no seed"))?.value;
    let sector = record.sector;
    let valid = tokio::task::spawn_blocking(move || verify_seal(&sector, &commitments, ticket, seed, &proof)).await??;
    anyhow::ensure!(valid, "the seal proof of sector {} does not verify", sector.number);
    Ok(())
}

/// A running daemon.
pub struct RunningDaemon {
    /// The daemon.
    pub daemon: Arc<Daemon>,
    /// The API's bound address.
    pub api_addr: SocketAddr,
    server: ServerHandle,
}

impl RunningDaemon {
    /// Runs until the API server stops (or the process is told to end).
    pub async fn stopped(self) {
        self.server.stopped().await;
    }
}

/// Loads the repo's sectors, connects the pieces and starts serving. `actor` is the miner actor (from the repo or
/// the command line).
pub async fn start(repo: MinerRepo, node: Node, actor: Address, config: DaemonConfig) -> anyhow::Result<RunningDaemon> {
    let api = node.api();
    let info = api.state_miner_info(LotusJson(actor), TipSetKey::head()).await.map_err(node.err())?;
    let actor = api.state_lookup_id(LotusJson(actor), TipSetKey::head()).await.map_err(node.err())?.0;
    let actor_id = actor.id().map_err(|_| anyhow::anyhow!("{actor} is not an ID address"))?;
    let size = sealstack_chain::actors::sector_size(info.sector_size)
        .ok_or_else(|| anyhow::anyhow!("unsupported sector size {}", info.sector_size))?;
    let network = api.state_get_network_params().await.map_err(node.err())?;
    let store = SectorStore::open(repo.dir())?;
    let storage = Arc::new(Storage::open(actor_id, info.sector_size, &config.storage, &config.stores)?);
    let metrics = Arc::new(Metrics::default());
    let daemon = Arc::new(Daemon {
        actor,
        actor_id,
        worker: info.worker.0,
        sector_size: info.sector_size,
        seal_proof: sealstack_chain::actors::seal_proof(size),
        node,
        network,
        store,
        storage: storage.clone(),
        scheduler: Mutex::new(Scheduler::new(config.lease)),
        changed: Notify::new(),
        metrics: metrics.clone(),
        post_results: Mutex::new(HashMap::new()),
        local_snark_epochs: Mutex::new(None),
        local_winning_snark: Mutex::new(None),
        local_prover: tokio::sync::Semaphore::new(1),
        config: config.clone(),
        batches: batching::OpenBatches::default(),
        batch_flush: batching::FlushRequests::default(),
        paused: Mutex::new(HashMap::new()),
        repo: repo.clone(),
    });

    let secret = Arc::new(config.jwt_secret.clone());
    let http = tower::ServiceBuilder::new()
        .layer_fn({
            let secret = secret.clone();
            move |inner| HttpAuth::new(inner, secret.clone())
        })
        .layer_fn(move |inner| RemoteFiles::new(inner, storage.clone()));
    let server = ServerBuilder::default()
        .set_config(ServerConfig::builder().set_batch_request_config(BatchRequestConfig::Disabled).build())
        .set_http_middleware(http)
        .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(|inner| RpcAuth::new(inner, method_spec)))
        .build(config.api_listen)
        .await?;
    let api_addr = server.local_addr()?;
    repo_files::write_api_files(repo.dir(), api_addr, &secret)?;
    let module = api::MinerApiImpl(daemon.clone()).into_rpc();
    sealstack_chain::server_auth::table_matches(module.method_names(), crate::protocol::METHODS)
        .map_err(anyhow::Error::msg)?;
    let server = server.start(module);

    let refresh = {
        let daemon = daemon.clone();
        Arc::new(move || {
            daemon.metrics.set_sectors(daemon.store.all().iter().map(|r| r.state));
            daemon.metrics.workers.set(daemon.scheduler.lock().expect("scheduler lock").stats().len() as i64);
            daemon.metrics.storage.record(&daemon.storage.stats());
        })
    };
    let endpoints = metrics::Endpoints { metrics: metrics.clone(), refresh };
    tokio::spawn(async move {
        if let Err(error) = metrics::serve(config.metrics_listen, endpoints).await {
            tracing::error!(error = format!("{error:#}"), "metrics endpoint failed");
        }
    });
    p2p::spawn(config.libp2p_key.clone(), &config.p2p_listen)?;
    batching::resume(&daemon)?;
    tokio::spawn(pipeline::run(daemon.clone()));
    tokio::spawn(batching::run(daemon.clone()));
    tokio::spawn(proving::run(daemon.clone()));
    tokio::spawn(mining::run(daemon.clone()));
    tokio::spawn(lifecycle::run(daemon.clone()));
    metrics.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(%actor, %api_addr, sectors = daemon.store.all().len(), "miner daemon running");
    Ok(RunningDaemon { daemon, api_addr, server })
}
