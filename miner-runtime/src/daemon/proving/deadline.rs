//! Proving one deadline: the sectors due in its partitions, each checked and given a vanilla proof of the
//! deadline's challenge (a sector that fails is skipped, not fatal), the partitions in messages of at most
//! [`POSTED_PARTITIONS_MAX`] each, every message's SNARK made on the PoSt workers (or by the daemon: see
//! [`super::snark`]) and every message delivered as soon as its proof is ready.
//!
//! Journaled in `<repo>/posts/<open epoch>.json`, one step per message named after its partitions: a daemon
//! restarted inside the deadline first waits for what it already sent, then proves only the partitions the
//! chain does not show as proven.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fvm_ipld_encoding::RawBytes;
use fvm_shared::econ::TokenAmount;
use fvm_shared::randomness::Randomness;
use sealstack_chain::actors::{POSTED_PARTITIONS_MAX, methods, miner_state};
use sealstack_chain::message::unsigned_message;
use sealstack_chain::miner::{BitFieldJson, DeadlineInfo};
use sealstack_chain::push::{MessageLog, parse_cid, push_journaled};
use sealstack_chain::randomness::tags;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};
use tokio::task::JoinSet;

use super::check::{Purpose, ToCheck, check_sectors};
use super::landing::{Delivery, Landing, watch};
use super::snark::{SnarkJob, give_up_epoch, window_post_snark};
use crate::daemon::Daemon;
use crate::repo::FileJournal;
use crate::sealing::post::VanillaProof;
use crate::sealing::{SEALED_CODEC, commitment_of, window_post_proof_of};

/// The kind of a WindowPoSt message, in metrics.
const STEP_KIND: &str = "window-post";

/// A partition to prove and its sectors due: live and not faulty, or declared recovering (what lotus proves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuePartition {
    /// The partition's index in the deadline.
    pub index: u64,
    /// Its sectors to prove.
    pub sectors: Vec<u64>,
}

/// What became of a deadline's proof.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeadlineOutcome {
    /// Partitions proven by a message that landed (this run's or an earlier run's).
    pub proven: BTreeSet<u64>,
    /// Partitions whose message failed or missed the close.
    pub failed: BTreeSet<u64>,
    /// Sectors left out of the proof because their check failed.
    pub skipped: BTreeSet<u64>,
}

/// The messages of a deadline: its due partitions in chunks of at most `per_message`, in index order. The same
/// partitions always give the same chunks, so a restarted daemon names its messages as the earlier run did.
pub fn batches(due: &[DuePartition], per_message: usize) -> Vec<Vec<DuePartition>> {
    let mut sorted = due.to_vec();
    sorted.sort_by_key(|p| p.index);
    sorted.chunks(per_message.max(1)).map(|c| c.to_vec()).collect()
}

/// The journal step of a message proving `partitions`: `window-post-p0-1-2`.
pub fn step_name(partitions: &[DuePartition]) -> String {
    let indexes: Vec<String> = partitions.iter().map(|p| p.index.to_string()).collect();
    format!("{STEP_KIND}-p{}", indexes.join("-"))
}

/// The partitions of deadline `info` that still need a proof: those with sectors to prove that the chain does not
/// show as proven in this deadline yet.
async fn due_partitions(daemon: &Daemon, info: &DeadlineInfo) -> anyhow::Result<Vec<DuePartition>> {
    let api = daemon.node.api();
    let actor = LotusJson(daemon.actor);
    let partitions =
        api.state_miner_partitions(actor.clone(), info.index, TipSetKey::head()).await.map_err(daemon.node.err())?;
    let deadlines = api.state_miner_deadlines(actor, TipSetKey::head()).await.map_err(daemon.node.err())?;
    let proven: BTreeSet<u64> = deadlines
        .get(info.index as usize)
        .map(|d| d.post_submissions.numbers().into_iter().collect())
        .unwrap_or_default();
    let mut due = Vec::new();
    for (index, partition) in partitions.iter().enumerate() {
        let index = index as u64;
        if proven.contains(&index) {
            continue;
        }
        let live: BTreeSet<u64> = partition.live_sectors.numbers().into_iter().collect();
        let faulty: BTreeSet<u64> = partition.faulty_sectors.numbers().into_iter().collect();
        let recovering: BTreeSet<u64> = partition.recovering_sectors.numbers().into_iter().collect();
        let sectors: Vec<u64> =
            live.difference(&faulty).chain(recovering.iter()).copied().collect::<BTreeSet<_>>().into_iter().collect();
        if !sectors.is_empty() {
            due.push(DuePartition { index, sectors });
        }
    }
    Ok(due)
}

/// Waits, at most `budget`, until none of `sectors` awaits Finalize: a sector whose ProveCommit landed just before
/// its deadline opened is due while its files may still be on the worker that sealed it (for a 32GiB sector a
/// copy of minutes). A quarter of the deadline's window leaves the rest for the proof.
async fn wait_for_finalize(daemon: &Daemon, sectors: &[u64], budget: Duration) {
    let until = tokio::time::Instant::now() + budget;
    loop {
        let changed = daemon.changed.notified();
        let count = daemon.store.awaiting_finalize(sectors.iter().copied()).len();
        if count == 0 {
            return;
        }
        tracing::info!(sectors = count, "due sectors await Finalize before the deadline's proof");
        if tokio::time::timeout_at(until, changed).await.is_err() {
            return;
        }
    }
}

/// Proves deadline `info` (open now) and returns what became of it.
pub async fn prove_deadline(daemon: Arc<Daemon>, info: DeadlineInfo) -> anyhow::Result<DeadlineOutcome> {
    let mut outcome = DeadlineOutcome::default();
    let path = daemon.repo.file(&format!("posts/{}.json", info.open));
    let journal = FileJournal::new(path);
    let log: MessageLog = journal.load()?.unwrap_or_default();
    let max_fee = daemon.config.post_max_fee.clone();

    // What an earlier run of this deadline sent: wait for it first, so its partitions show as proven.
    for (step, record) in log.0.clone() {
        let Some(cid) = record.cid.as_deref() else { continue };
        let delivery =
            Delivery { kind: STEP_KIND, step: step.clone(), max_fee: max_fee.clone(), land_before: info.close };
        let landing = watch(&daemon, parse_cid(cid)?, &delivery).await?;
        tracing::info!(deadline = info.index, step, ?landing, "WindowPoSt message of an earlier run");
    }

    let started = Instant::now();
    let due = due_partitions(&daemon, &info).await?;
    if due.is_empty() {
        return Ok(outcome);
    }
    let numbers: Vec<u64> = due.iter().flat_map(|p| p.sectors.iter().copied()).collect();
    let api = daemon.node.api();
    let on_chain = api
        .state_miner_sectors(LotusJson(daemon.actor), Some(BitFieldJson::from_numbers(&numbers)), TipSetKey::head())
        .await
        .map_err(daemon.node.err())?;
    let sectors: Vec<ToCheck> = on_chain
        .iter()
        .map(|s| Ok(ToCheck { number: s.sector_number, comm_r: commitment_of(&s.sealed_cid.0, SEALED_CODEC)? }))
        .collect::<anyhow::Result<_>>()?;

    let randomness = daemon.randomness(tags::WINDOWED_POST_CHALLENGE_SEED, info.challenge, true).await?;
    let finalize_budget = Duration::from_secs(daemon.network.block_delay_secs * info.wpost_challenge_window as u64 / 4);
    wait_for_finalize(&daemon, &numbers, finalize_budget).await;
    let checking = Instant::now();
    let checked = check_sectors(&daemon, &sectors, randomness, Purpose::Proof).await;
    outcome.skipped = checked.bad.keys().copied().collect();
    tracing::info!(
        deadline = info.index,
        partitions = due.len(),
        sectors = sectors.len(),
        skipped = checked.bad.len(),
        secs = checking.elapsed().as_secs_f64(),
        "WindowPoSt vanilla proofs made"
    );

    // One message per batch, all at once: each batch's SNARK goes to the PoSt workers (or the daemon, one SNARK
    // at a time), and each message is pushed as soon as its proof is ready and delivered alongside the others.
    let post_type = window_post_proof_of(daemon.seal_proof)?;
    let good = Arc::new(checked.good);
    let comm_rs: Arc<BTreeMap<u64, [u8; 32]>> = Arc::new(sectors.iter().map(|s| (s.number, s.comm_r)).collect());
    let journal = Arc::new(tokio::sync::Mutex::new((log, journal)));
    let mut deliveries = JoinSet::new();
    for batch in batches(&due, POSTED_PARTITIONS_MAX as usize) {
        let indexes: BTreeSet<u64> = batch.iter().map(|p| p.index).collect();
        let proven: Vec<u64> =
            batch.iter().flat_map(|p| p.sectors.iter().copied()).filter(|n| good.contains_key(n)).collect();
        if proven.is_empty() {
            // builtin-actors refuses a proof with no active sector: these partitions fault at the deadline's end.
            tracing::warn!(deadline = info.index, partitions = ?indexes, "no sector of these partitions can be proven");
            outcome.failed.extend(indexes);
            continue;
        }
        let job = SnarkJob {
            post_type,
            randomness,
            vanilla: proven.iter().map(|n| good[n].clone()).collect(),
            sectors: proven.iter().map(|n| (*n, comm_rs[n])).collect(),
            partitions: batch.len(),
        };
        let (daemon, good, journal, info, max_fee) =
            (daemon.clone(), good.clone(), journal.clone(), info.clone(), max_fee.clone());
        deliveries.spawn(async move {
            let sent = prove_and_send(&daemon, &info, batch, job, &good, &journal, max_fee).await;
            (indexes, sent)
        });
    }
    let mut last_push = None;
    while let Some(joined) = deliveries.join_next().await {
        let (indexes, sent) = joined?;
        let landing = sent.map(|(pushed, landing)| {
            last_push = last_push.max(Some(pushed));
            landing
        });
        match landing {
            Ok(Landing::Landed(lookup)) => {
                tracing::info!(deadline = info.index, partitions = ?indexes, epoch = lookup.height - 1, "WindowPoSt accepted");
                daemon.metrics.window_post("accepted");
                outcome.proven.extend(indexes);
            }
            Ok(Landing::Refused { exit_code, cid }) => {
                tracing::error!(deadline = info.index, partitions = ?indexes, exit_code, %cid, "WindowPoSt refused by the chain");
                daemon.metrics.window_post("refused");
                outcome.failed.extend(indexes);
            }
            Ok(Landing::Missed) => {
                daemon.metrics.window_post("missed");
                outcome.failed.extend(indexes);
            }
            Err(error) => {
                tracing::warn!(deadline = info.index, partitions = ?indexes, error = format!("{error:#}"), "WindowPoSt delivery");
                daemon.metrics.window_post("error");
                outcome.failed.extend(indexes);
            }
        }
    }
    if let Some(pushed) = last_push {
        daemon.metrics.window_post_deadline(pushed.duration_since(started).as_secs_f64());
    }
    Ok(outcome)
}

/// One message of deadline `info`: its SNARK (workers or the daemon), then SubmitWindowedPoSt pushed (journaled)
/// and watched until it lands. Returns when it was pushed, and how it landed.
async fn prove_and_send(
    daemon: &Arc<Daemon>,
    info: &DeadlineInfo,
    batch: Vec<DuePartition>,
    job: SnarkJob,
    good: &BTreeMap<u64, VanillaProof>,
    journal: &tokio::sync::Mutex<(MessageLog, FileJournal)>,
    max_fee: TokenAmount,
) -> anyhow::Result<(Instant, Landing)> {
    let api = daemon.node.api();
    let head = api.chain_head().await.map_err(daemon.node.err())?.height;
    let local = *daemon.local_snark_epochs.lock().expect("estimate lock");
    let give_up = give_up_epoch(local, head, info.close, super::declare::LANDING_EPOCHS, job.partitions);
    let (proofs, prover) = window_post_snark(daemon, job, head, give_up).await?;
    let head = api.chain_head().await.map_err(daemon.node.err())?.height;
    if head + 1 >= info.close {
        tracing::warn!(deadline = info.index, head, close = info.close, ?prover, "WindowPoSt ready too late");
        return Ok((Instant::now(), Landing::Missed));
    }
    let chain_commit_epoch = head - 1;
    let chain_commit_rand = daemon.chain_commit_randomness(chain_commit_epoch).await?;
    let params = miner_state::SubmitWindowedPoStParams {
        deadline: info.index,
        partitions: batch
            .iter()
            .map(|p| miner_state::PoStPartition {
                index: p.index,
                skipped: super::bitfield(p.sectors.iter().copied().filter(|n| !good.contains_key(n))),
            })
            .collect(),
        proofs,
        chain_commit_epoch,
        chain_commit_rand: Randomness(chain_commit_rand.to_vec()),
    };
    let message = unsigned_message(
        daemon.worker,
        daemon.actor,
        TokenAmount::from_atto(0),
        methods::SUBMIT_WINDOWED_POST,
        RawBytes::serialize(&params)?,
    );
    let delivery = Delivery { kind: STEP_KIND, step: step_name(&batch), max_fee, land_before: info.close };
    let cid = {
        let mut guard = journal.lock().await;
        let (log, journal) = &mut *guard;
        push_journaled(&daemon.node, log, journal, &delivery.step, &message, &delivery.spec()).await?
    };
    let pushed = Instant::now();
    tracing::info!(deadline = info.index, step = delivery.step, ?prover, %cid, "WindowPoSt pushed");
    Ok((pushed, watch(daemon, cid, &delivery).await?))
}
#[cfg(test)]
mod tests {
    use super::*;

    fn partition(index: u64, sectors: &[u64]) -> DuePartition {
        DuePartition { index, sectors: sectors.to_vec() }
    }

    #[test]
    fn partitions_are_batched_in_index_order_and_named_by_them() {
        let due = [partition(3, &[6, 7]), partition(0, &[0, 1]), partition(1, &[2, 3]), partition(2, &[4, 5])];
        let batches = batches(&due, 3);
        assert_eq!(batches.len(), 2, "4 partitions, 3 per message");
        assert_eq!(step_name(&batches[0]), "window-post-p0-1-2");
        assert_eq!(step_name(&batches[1]), "window-post-p3");
        assert_eq!(batches, super::batches(&[due[1].clone(), due[2].clone(), due[3].clone(), due[0].clone()], 3));
    }
}
