//! Making a batch (its sectors chosen, its message built and journaled) and driving it to its end (pushed once,
//! landed, its sectors moved on; or refused, its sectors sent back to go alone).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fvm_ipld_encoding::RawBytes;
use fvm_shared::econ::TokenAmount;
use sealstack_chain::actors::{methods, miner_state};
use sealstack_chain::message::unsigned_message;
use sealstack_chain::push::push_once;
use sealstack_chain::{ChainError, FullNodeClient, LotusJson, TipSetKey};

use super::{
    Batch, BatchKind, COMMIT_SLACK_EPOCHS, Candidate, MAX_PRE_COMMIT_RANDOMNESS_LOOKBACK, PRE_COMMIT_SLACK_EPOCHS,
    PROVE_COMMIT_DAYS, aggregates, dir, due_batch, waiting,
};
use crate::daemon::Daemon;
use crate::daemon::pipeline::{
    batch_entry, initial_pledge, pre_commit_deposit, pre_commit_epoch, pre_commit_info, prove_commit_params,
};
use crate::daemon::sectors::{SectorRecord, SectorState, now_secs};
use crate::repo::{FileJournal, read_json_dir, write_json};
use crate::sealing::{SealToAggregate, aggregate_seal_proofs};

/// Every batch journaled in `dir`, oldest first.
pub fn journaled(dir: &Path) -> anyhow::Result<Vec<Batch>> {
    let mut batches: Vec<Batch> = read_json_dir(dir)?;
    batches.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(batches)
}

fn journal_path(daemon: &Daemon, id: &str) -> PathBuf {
    dir(daemon).join(format!("{id}.json"))
}

/// Since when a sector has been in its state: its last state change in its log.
fn ready_since(record: &SectorRecord) -> u64 {
    record.log.iter().rev().find(|l| l.kind == "state").map_or(0, |l| l.timestamp)
}

/// The epoch by which a sector's batched message must go out; `period` is the network's proving period (its
/// "day": builtin-actors' EPOCHS_IN_DAY on mainnet, a devnet's shorter one there).
fn due_epoch(daemon: &Daemon, kind: BatchKind, record: &SectorRecord, period: i64) -> i64 {
    match kind {
        BatchKind::PreCommit => {
            record.ticket.map_or(i64::MIN / 2, |t| t.epoch) + MAX_PRE_COMMIT_RANDOMNESS_LOOKBACK
                - PRE_COMMIT_SLACK_EPOCHS
        }
        BatchKind::ProveCommit => {
            record.pre_commit_epoch.unwrap_or(i64::MIN / 2)
                + PROVE_COMMIT_DAYS * period
                + daemon.network.pre_commit_challenge_delay
                - COMMIT_SLACK_EPOCHS
        }
    }
}

/// Makes a `kind` batch when one is due: chooses its sectors, builds its message, journals it, marks its
/// sectors and starts driving it.
pub async fn form(daemon: &Arc<Daemon>, kind: BatchKind) -> anyhow::Result<()> {
    let (max, wait) = match kind {
        BatchKind::PreCommit => match &daemon.config.batching.pre_commit {
            Some(knobs) => (knobs.max_batch, knobs.wait),
            None => return Ok(()),
        },
        BatchKind::ProveCommit => match &daemon.config.batching.commit {
            Some(knobs) => (knobs.max_batch, knobs.wait),
            None => return Ok(()),
        },
    };
    // `sectors batching --publish-now`: what waits now goes now (a request finding nothing waiting is dropped).
    let wait = if daemon.batch_flush.take(kind) { Duration::ZERO } else { wait };
    let records = waiting(daemon, kind);
    if records.is_empty() {
        return Ok(());
    }
    let api = daemon.node.api();
    let head = api.chain_head().await.map_err(daemon.node.err())?;
    let period = match kind {
        BatchKind::PreCommit => 0,
        BatchKind::ProveCommit => {
            let deadline = api.state_miner_proving_deadline(LotusJson(daemon.actor), TipSetKey::head());
            deadline.await.map_err(daemon.node.err())?.wpost_proving_period
        }
    };
    let candidates: Vec<Candidate> = records
        .iter()
        .map(|r| Candidate {
            number: r.sector.number,
            ready_since: ready_since(r),
            due_epoch: due_epoch(daemon, kind, r, period),
        })
        .collect();
    let Some(numbers) = due_batch(&candidates, max, wait, now_secs(), head.height) else { return Ok(()) };
    let chosen: Vec<&SectorRecord> = records.iter().filter(|r| numbers.contains(&r.sector.number)).collect();
    let base_fee = head.blocks.first().map(|b| b.parent_base_fee.0.clone()).unwrap_or_default();
    let batch = match kind {
        BatchKind::PreCommit => pre_commit_batch(daemon, &chosen, head.height).await?,
        BatchKind::ProveCommit => prove_commit_batch(daemon, &chosen, &base_fee).await?,
    };
    write_json(&journal_path(daemon, &batch.id), &batch)?;
    let what = format!("in {} {} of {} sectors", batch.step(), batch.id, batch.sectors.len());
    for number in &batch.sectors {
        daemon.store.update(*number, |r| r.note("chain", what.clone()))?;
    }
    tracing::info!(batch = batch.id, step = batch.step(), sectors = ?batch.sectors, "batch made");
    crash_after_batching(&batch);
    spawn_drive(daemon.clone(), batch);
    Ok(())
}

/// Fault injection for the crash test: with `SEALSTACK_CRASH_AFTER_BATCHING=<step>` the daemon aborts once a
/// batch of that step is journaled, before its message is pushed.
fn crash_after_batching(batch: &Batch) {
    if std::env::var("SEALSTACK_CRASH_AFTER_BATCHING").is_ok_and(|s| s == batch.step()) {
        eprintln!("injected crash: {} {} journaled, not pushed", batch.step(), batch.id);
        std::process::abort();
    }
}

async fn pre_commit_batch(daemon: &Daemon, chosen: &[&SectorRecord], head: i64) -> anyhow::Result<Batch> {
    let mut sectors = Vec::with_capacity(chosen.len());
    let mut deposit = TokenAmount::from_atto(0);
    for record in chosen {
        let info = pre_commit_info(daemon, record, head + daemon.config.sector_lifetime)?;
        deposit += pre_commit_deposit(daemon, info.clone()).await?;
        sectors.push(batch_entry(daemon, info));
    }
    let params = miner_state::PreCommitSectorBatchParams2 { sectors };
    new_batch(BatchKind::PreCommit, chosen, false, methods::PRE_COMMIT_SECTOR_BATCH2, deposit, &params)
}

async fn prove_commit_batch(
    daemon: &Daemon,
    chosen: &[&SectorRecord],
    base_fee: &TokenAmount,
) -> anyhow::Result<Batch> {
    let knobs = daemon.config.batching.commit.as_ref().expect("commit batching is on");
    let mut pledge = TokenAmount::from_atto(0);
    for record in chosen {
        pledge += initial_pledge(daemon, record).await?;
    }
    let above = knobs.aggregate_above_base_fee.atto().try_into().unwrap_or(u128::MAX);
    let fee = base_fee.atto().try_into().unwrap_or(u128::MAX);
    let numbers: Vec<u64> = chosen.iter().map(|r| r.sector.number).collect();
    let proofs: Vec<Vec<u8>> = chosen.iter().map(|r| r.proof.clone().map(|p| p.0).unwrap_or_default()).collect();
    let aggregated = if aggregates(chosen.len(), knobs.min_aggregate, fee, above) {
        // A batch that cannot be aggregated (no SRS, a bad proof) still goes, with each sector's proof.
        let made = aggregate(chosen, &proofs).await;
        made.inspect_err(|error| {
            tracing::warn!(error = format!("{error:#}"), "cannot aggregate the seal proofs: each goes in the batch");
        })
        .ok()
    } else {
        None
    };
    let aggregate = aggregated.is_some();
    let params = match aggregated {
        Some(bytes) => prove_commit_params(&numbers, Vec::new(), Some(bytes)),
        None => prove_commit_params(&numbers, proofs, None),
    };
    new_batch(BatchKind::ProveCommit, chosen, aggregate, methods::PROVE_COMMIT_SECTORS3, pledge, &params)
}

/// One SnarkPack proof of the sectors' seal proofs (`proofs`, in `chosen`'s order).
async fn aggregate(chosen: &[&SectorRecord], proofs: &[Vec<u8>]) -> anyhow::Result<Vec<u8>> {
    let seals = chosen
        .iter()
        .zip(proofs)
        .map(|(r, proof)| {
            Ok(SealToAggregate {
                sector: r.sector,
                comm_r: r.commitments.ok_or_else(|| anyhow::anyhow!("no commitments recorded"))?.comm_r,
                seed: r.seed.ok_or_else(|| anyhow::anyhow!("no seed recorded"))?.value,
                proof: proof.clone(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = std::time::Instant::now();
    let bytes = tokio::task::spawn_blocking(move || aggregate_seal_proofs(&seals)).await??;
    let secs = started.elapsed().as_secs_f64();
    tracing::info!(sectors = chosen.len(), bytes = bytes.len(), secs, "seal proofs aggregated");
    Ok(bytes)
}

fn new_batch(
    kind: BatchKind,
    chosen: &[&SectorRecord],
    aggregate: bool,
    method: u64,
    value: TokenAmount,
    params: &impl serde::Serialize,
) -> anyhow::Result<Batch> {
    let sectors: Vec<u64> = chosen.iter().map(|r| r.sector.number).collect();
    let first = sectors.first().copied().unwrap_or_default();
    Ok(Batch {
        id: format!("{}-{first}-{}", kind.step(aggregate), now_secs()),
        kind,
        sectors,
        aggregate,
        method,
        value: LotusJson(value),
        params: LotusJson(RawBytes::serialize(params)?.to_vec()),
        messages: Default::default(),
    })
}

/// Drives a batch in a task of its own, retrying after a failure that is not the chain's answer.
pub fn spawn_drive(daemon: Arc<Daemon>, batch: Batch) {
    daemon.batches.insert(&batch);
    tokio::spawn(async move {
        let mut retries = 0;
        while let Err(error) = drive(&daemon, batch.clone()).await {
            tracing::warn!(batch = batch.id, error = format!("{error:#}"), "batch step failed");
            tokio::time::sleep(crate::daemon::pipeline::backoff(retries)).await;
            retries += 1;
        }
        daemon.batches.remove(&batch.id);
        daemon.changed.notify_waiters();
    });
}

/// Pushes the batch's message once, waits for it, and moves its sectors on (or back, when the chain refused it);
/// then removes its journal.
async fn drive(daemon: &Daemon, mut batch: Batch) -> anyhow::Result<()> {
    let path = journal_path(daemon, &batch.id);
    let message = unsigned_message(
        daemon.worker,
        daemon.actor,
        batch.value.0.clone(),
        batch.method,
        RawBytes::new(batch.params.0.clone()),
    );
    let step = batch.step();
    let sent = push_once(
        &daemon.node,
        &mut batch,
        &mut FileJournal::new(path.clone()),
        step,
        &message,
        daemon.config.confidence,
    )
    .await;
    match sent {
        Ok(lookup) => {
            let cid = batch.messages.0.get(step).and_then(|m| m.cid.clone()).unwrap_or_default();
            let landed = lookup.height - 1;
            for number in &batch.sectors {
                landed_sector(daemon, &batch, *number, landed, &cid).await?;
            }
            daemon.metrics.chain_message(step, "ok");
            daemon.metrics.batched_sectors(step, batch.sectors.len());
        }
        Err(error @ ChainError::MessageFailed { .. }) => {
            let why = format!("the chain refused {step} {}: {error}; the sector goes alone", batch.id);
            for number in &batch.sectors {
                daemon.store.update(*number, |r| r.fail(why.clone()))?;
            }
            daemon.metrics.chain_message(step, "failed");
        }
        Err(error) => return Err(error.into()),
    }
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(anyhow::anyhow!("cannot remove {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Moves one sector of a landed batch on (a sector already moved on, after a restart, is left as it is).
async fn landed_sector(daemon: &Daemon, batch: &Batch, number: u64, landed: i64, cid: &str) -> anyhow::Result<()> {
    let Some(record) = daemon.store.get(number) else { return Ok(()) };
    if record.state != batch.kind.state() {
        return Ok(());
    }
    let how = format!("in {} {} of {} sectors ({cid})", batch.step(), batch.id, batch.sectors.len());
    match batch.kind {
        BatchKind::PreCommit => {
            let epoch = pre_commit_epoch(daemon, number, landed).await?;
            daemon.store.update(number, |r| {
                r.pre_commit_epoch = Some(epoch);
                r.enter(SectorState::WaitSeed, &format!("PreCommit landed at epoch {epoch} {how}"));
            })?;
        }
        BatchKind::ProveCommit => {
            daemon.store.update(number, |r| {
                r.enter(SectorState::FinalizeSector, &format!("proven on chain at epoch {landed} {how}"));
            })?;
        }
    }
    Ok(())
}
