//! Batched PreCommits and batched or aggregated ProveCommits, as lotus-miner's PreCommitBatcher and
//! CommitBatcher make them: the sectors ready for a message wait (up to a batch wait, or a chain deadline less a
//! slack) and go out together in one PreCommitSectorBatch2, or one ProveCommitSectors3 with one SnarkPack proof
//! for all of them (4 or more sectors and a base fee above a threshold) or one proof each.
//!
//! Crash safety: a batch is journaled in `<repo>/batches/<id>.json`, its sectors, value and parameters fixed,
//! before its message is pushed (through `push_once`: the MsgUuid before the push, the CID after). A restarted
//! daemon drives every journaled batch to its end, sending its message at most once, and a sector is in at most
//! one open batch. A batch the chain refuses puts its sectors back with an error: each then goes alone (the
//! single-message path in `pipeline`), so one bad sector cannot hold the others twice.

mod plan;
mod send;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fvm_shared::econ::TokenAmount;
use sealstack_chain::LotusJson;
use sealstack_chain::push::MessageLog;
use serde::{Deserialize, Serialize};

use super::Daemon;
use super::sectors::{SectorRecord, SectorState, steps};
pub use plan::{Candidate, MAX_AGGREGATED_SECTORS, MIN_AGGREGATED_SECTORS, aggregates, due_batch};

/// Batching of PreCommits, lotus-miner's `BatchPreCommits` knobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreCommitBatching {
    /// Most sectors in one PreCommitSectorBatch2 (lotus `MaxPreCommitBatch`, 256).
    pub max_batch: usize,
    /// How long the first ready sector waits for others (lotus `PreCommitBatchWait`, 24h).
    pub wait: Duration,
}

/// Batching of ProveCommits, lotus-miner's `AggregateCommits` knobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitBatching {
    /// Fewest sectors aggregated (lotus `MinCommitBatch`, 4; builtin-actors' least); fewer go with one proof each.
    pub min_aggregate: usize,
    /// Most sectors in one ProveCommitSectors3 (lotus `MaxCommitBatch`, 819; builtin-actors' most in an aggregate).
    pub max_batch: usize,
    /// How long the first ready sector waits for others (lotus `CommitBatchWait`, 24h).
    pub wait: Duration,
    /// Base fee (attoFIL) at and above which a batch is aggregated (lotus `AggregateAboveBaseFee`, 0.15 nanoFIL).
    pub aggregate_above_base_fee: TokenAmount,
}

/// What the daemon batches: nothing by default (one message per sector).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchingConfig {
    /// PreCommits, when batched.
    pub pre_commit: Option<PreCommitBatching>,
    /// ProveCommits, when batched.
    pub commit: Option<CommitBatching>,
}

/// Epochs before a ticket gets too old (builtin-actors `MAX_PRE_COMMIT_RANDOMNESS_LOOKBACK`: a day and finality)
/// that a PreCommit batch goes out whatever its wait (lotus `PreCommitBatchSlack`, 3h of 30 s epochs).
pub const PRE_COMMIT_SLACK_EPOCHS: i64 = 360;
/// builtin-actors' oldest seal ticket a PreCommit takes, in epochs before the PreCommit
/// (`MAX_PRE_COMMIT_RANDOMNESS_LOOKBACK` = EPOCHS_IN_DAY + CHAIN_FINALITY).
pub const MAX_PRE_COMMIT_RANDOMNESS_LOOKBACK: i64 = 2880 + 900;
/// Epochs before a pre-commit expires unproven that a ProveCommit batch goes out whatever its wait (lotus
/// `CommitBatchSlack`, 1h of 30 s epochs).
pub const COMMIT_SLACK_EPOCHS: i64 = 120;
/// builtin-actors' longest time from PreCommit to ProveCommit for V1_1 seal proofs, in days (proving periods),
/// less the challenge delay (`max_prove_commit_duration` = 30 * EPOCHS_IN_DAY + PreCommitChallengeDelay).
pub const PROVE_COMMIT_DAYS: i64 = 30;

/// The two kinds of batched message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchKind {
    /// PreCommitSectorBatch2.
    PreCommit,
    /// ProveCommitSectors3.
    ProveCommit,
}

impl BatchKind {
    /// The step name of its message in the batch's log (and the metric's `method` label).
    pub fn step(self, aggregate: bool) -> &'static str {
        match (self, aggregate) {
            (BatchKind::PreCommit, _) => "pre-commit-batch",
            (BatchKind::ProveCommit, true) => "prove-commit-aggregate",
            (BatchKind::ProveCommit, false) => "prove-commit-batch",
        }
    }

    /// The state its sectors wait in.
    fn state(self) -> SectorState {
        match self {
            BatchKind::PreCommit => SectorState::PreCommitting,
            BatchKind::ProveCommit => SectorState::SubmitCommit,
        }
    }

    /// The single-message step a sector sent alone has in its own log.
    fn single_step(self) -> &'static str {
        match self {
            BatchKind::PreCommit => steps::PRE_COMMIT,
            BatchKind::ProveCommit => steps::PROVE_COMMIT,
        }
    }
}

/// A batch as journaled: everything its message is made of, fixed before it is pushed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch {
    /// Its name (and file name): kind, first sector, Unix seconds of its making.
    pub id: String,
    /// What it sends.
    pub kind: BatchKind,
    /// Its sectors, by number (the message's order).
    pub sectors: Vec<u64>,
    /// Whether its ProveCommit carries one aggregate proof.
    #[serde(default)]
    pub aggregate: bool,
    /// The message's method number.
    pub method: u64,
    /// The value sent with it (deposits or pledges).
    pub value: LotusJson<TokenAmount>,
    /// Its CBOR parameters.
    pub params: LotusJson<Vec<u8>>,
    /// Its message (MsgUuid before the push, CID after).
    #[serde(default)]
    pub messages: MessageLog,
}

impl AsMut<MessageLog> for Batch {
    fn as_mut(&mut self) -> &mut MessageLog {
        &mut self.messages
    }
}

impl Batch {
    /// Its step name.
    pub fn step(&self) -> &'static str {
        self.kind.step(self.aggregate)
    }
}

/// The open batches (journaled, not yet settled), by id, with their sectors.
#[derive(Default)]
pub struct OpenBatches(Mutex<BTreeMap<String, Vec<u64>>>);

impl OpenBatches {
    /// Whether `number` is in an open batch.
    pub fn holds(&self, number: u64) -> bool {
        self.0.lock().expect("batches lock").values().any(|sectors| sectors.contains(&number))
    }

    fn insert(&self, batch: &Batch) {
        self.0.lock().expect("batches lock").insert(batch.id.clone(), batch.sectors.clone());
    }

    fn remove(&self, id: &str) {
        self.0.lock().expect("batches lock").remove(id);
    }
}

/// Requests to send the waiting sectors of a kind at the next pass, whatever their wait (`sectors batching
/// --publish-now`).
#[derive(Default)]
pub struct FlushRequests([AtomicBool; 2]);

impl FlushRequests {
    fn flag(&self, kind: BatchKind) -> &AtomicBool {
        &self.0[kind as usize]
    }

    /// Asks for the `kind` batch to go at the next pass.
    pub fn request(&self, kind: BatchKind) {
        self.flag(kind).store(true, Ordering::SeqCst);
    }

    /// Whether a `kind` batch was asked for, clearing the request.
    fn take(&self, kind: BatchKind) -> bool {
        self.flag(kind).swap(false, Ordering::SeqCst)
    }
}

/// Whether the daemon batches `kind` messages.
pub fn enabled(daemon: &Daemon, kind: BatchKind) -> bool {
    match kind {
        BatchKind::PreCommit => daemon.config.batching.pre_commit.is_some(),
        BatchKind::ProveCommit => daemon.config.batching.commit.is_some(),
    }
}

/// The sectors waiting for a `kind` batch (in none yet).
fn waiting(daemon: &Daemon, kind: BatchKind) -> Vec<SectorRecord> {
    let waits = |r: &SectorRecord| waits_for_batch(daemon, kind, r) && !daemon.batches.holds(r.sector.number);
    daemon.store.all().into_iter().filter(waits).collect()
}

/// The sectors waiting for a `kind` batch (in none yet), by number.
pub fn pending(daemon: &Daemon, kind: BatchKind) -> Vec<u64> {
    waiting(daemon, kind).into_iter().map(|r| r.sector.number).collect()
}

/// The batches journaled and not settled, oldest first.
pub fn open(daemon: &Daemon) -> anyhow::Result<Vec<Batch>> {
    send::journaled(&dir(daemon))
}

/// Whether the batcher, not the single-message path, sends this sector's next message: batching is on for its
/// state, it is in an open batch or waits for one, and it has neither failed in a batch nor been sent alone.
pub fn batches(daemon: &Daemon, record: &SectorRecord) -> bool {
    if daemon.batches.holds(record.sector.number) {
        return true;
    }
    [BatchKind::PreCommit, BatchKind::ProveCommit].into_iter().any(|kind| waits_for_batch(daemon, kind, record))
}

/// The state lotus-miner shows for a sector the batcher holds: `SubmitPreCommitBatch` or `SubmitCommitAggregate`
/// while it waits for its batch, `PreCommitBatchWait` or `CommitAggregateWait` once its batch is made.
pub fn display_state(daemon: &Daemon, record: &SectorRecord) -> Option<&'static str> {
    let in_batch = daemon.batches.holds(record.sector.number);
    match record.state {
        SectorState::PreCommitting if in_batch => Some("PreCommitBatchWait"),
        SectorState::PreCommitting if waits_for_batch(daemon, BatchKind::PreCommit, record) => {
            Some("SubmitPreCommitBatch")
        }
        SectorState::SubmitCommit if in_batch => Some("CommitAggregateWait"),
        SectorState::SubmitCommit if waits_for_batch(daemon, BatchKind::ProveCommit, record) => {
            Some("SubmitCommitAggregate")
        }
        _ => None,
    }
}

/// Whether `record` is a candidate for a `kind` batch.
fn waits_for_batch(daemon: &Daemon, kind: BatchKind, record: &SectorRecord) -> bool {
    enabled(daemon, kind)
        && record.state == kind.state()
        && record.retries == 0
        && !record.messages.0.contains_key(kind.single_step())
        && match kind {
            BatchKind::PreCommit => record.ticket.is_some() && record.commitments.is_some(),
            BatchKind::ProveCommit => record.proof.is_some() && record.seed.is_some(),
        }
}

/// The directory of the batch journals.
fn dir(daemon: &Daemon) -> PathBuf {
    daemon.repo.dir().join("batches")
}

/// Drives every batch journaled before a restart to its end, batching on or off (a batch may have been pushed).
/// Called before the sealing loops start, so that no sector of such a batch is sent alone meanwhile.
pub fn resume(daemon: &Arc<Daemon>) -> anyhow::Result<()> {
    for batch in send::journaled(&dir(daemon))? {
        tracing::info!(batch = batch.id, sectors = ?batch.sectors, "resuming a journaled batch");
        send::spawn_drive(daemon.clone(), batch);
    }
    Ok(())
}

/// Makes batches as they come due, until the process ends (nothing when batching is off).
pub async fn run(daemon: Arc<Daemon>) {
    if daemon.config.batching == BatchingConfig::default() {
        return;
    }
    loop {
        let changed = daemon.changed.notified();
        for kind in [BatchKind::PreCommit, BatchKind::ProveCommit] {
            if let Err(error) = send::form(&daemon, kind).await {
                tracing::warn!(?kind, error = format!("{error:#}"), "cannot make a batch");
            }
        }
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(daemon.config.poll) => {}
        }
    }
}
