//! The chain's part of sealing: the seal ticket, PreCommitSectorBatch2 with its deposit, the interactive seed,
//! ProveCommitSectors3 with the initial pledge. Each message goes through `push_once` journaled in the sector's
//! record (MsgUuid saved before the push, CID after), so a restarted daemon waits for a sent message instead of
//! sending it again. Sectors whose PreCommit or ProveCommit goes in a batch are left to [`super::batching`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use fvm_ipld_encoding::RawBytes;
use fvm_shared::econ::TokenAmount;
use fvm_shared::sector::RegisteredAggregateProof;
use sealstack_chain::actors::{methods, miner_state};
use sealstack_chain::message::unsigned_message;
use sealstack_chain::miner::SectorPreCommitInfoJson;
use sealstack_chain::push::{Journal, push_once};
use sealstack_chain::randomness::tags;
use sealstack_chain::{ChainError, FullNodeClient, LotusJson, TipSetKey};
use tokio::sync::mpsc;

use super::Daemon;
use super::sectors::{Drawn, SectorRecord, SectorState, steps};
use crate::sealing::sealed_cid;

/// Saves a sector's record (and with it its message log) in the sector store.
struct SectorJournal<'a>(&'a super::sectors::SectorStore);

impl Journal<SectorRecord> for SectorJournal<'_> {
    async fn save(&mut self, record: &SectorRecord) -> Result<(), ChainError> {
        crate::repo::crash_point(record);
        self.0
            .save(record)
            .map_err(|e| ChainError::Client(format!("cannot save sector {}: {e:#}", record.sector.number)))
    }
}

/// Whether a sector waits on the chain (as opposed to a worker) for a step of this path (not a batch's).
fn on_chain_step(daemon: &Daemon, record: &SectorRecord) -> bool {
    let waits = matches!(record.state, SectorState::PreCommitting | SectorState::WaitSeed | SectorState::SubmitCommit)
        || (record.state == SectorState::PreCommit1 && record.ticket.is_none());
    waits && !super::batching::batches(daemon, record)
}

/// Drives every sector's chain steps, one task per sector at a time, until the process ends.
pub async fn run(daemon: Arc<Daemon>) {
    let mut active = HashSet::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    loop {
        let changed = daemon.changed.notified();
        for record in daemon.store.all() {
            let number = record.sector.number;
            if on_chain_step(&daemon, &record) && !daemon.is_paused(number) && active.insert(number) {
                let (daemon, done) = (daemon.clone(), done_tx.clone());
                tokio::spawn(async move {
                    let stepped = step(&daemon, number).await;
                    if let Err(error) = stepped {
                        daemon.step_failed(number, error);
                    }
                    let _ = done.send(number);
                });
            }
        }
        tokio::select! {
            _ = changed => {}
            Some(number) = done_rx.recv() => { active.remove(&number); }
            _ = tokio::time::sleep(daemon.config.poll) => {}
        }
    }
}

/// One chain step of one sector; `Ok` also when it has to wait (the loop calls again).
async fn step(daemon: &Daemon, number: u64) -> anyhow::Result<()> {
    let mut record = daemon.store.get(number).ok_or_else(|| anyhow::anyhow!("no sector {number}"))?;
    let api = daemon.node.api();
    let head = api.chain_head().await.map_err(daemon.node.err())?.height;
    match record.state {
        SectorState::PreCommit1 => {
            let epoch = (head - daemon.config.seal_randomness_lookback).max(0);
            let value = daemon.randomness(tags::SEAL_RANDOMNESS, epoch, false).await?;
            daemon.store.update(number, |r| {
                r.ticket = Some(Drawn { value, epoch });
                r.note("chain", format!("seal ticket drawn at epoch {epoch}"));
            })?;
        }
        SectorState::PreCommitting => pre_commit(daemon, &mut record, head).await?,
        SectorState::WaitSeed => {
            let landed = record.pre_commit_epoch.ok_or_else(|| anyhow::anyhow!("no PreCommit epoch recorded"))?;
            let seed_epoch = landed + daemon.network.pre_commit_challenge_delay;
            if head <= seed_epoch {
                return Ok(());
            }
            let value = daemon.randomness(tags::INTERACTIVE_SEAL_CHALLENGE_SEED, seed_epoch, true).await?;
            daemon.store.update(number, |r| {
                r.seed = Some(Drawn { value, epoch: seed_epoch });
                r.enter(SectorState::Committing, &format!("seed drawn at epoch {seed_epoch}"));
            })?;
        }
        SectorState::SubmitCommit => prove_commit(daemon, &mut record).await?,
        _ => return Ok(()),
    }
    daemon.changed.notify_waiters();
    Ok(())
}

/// The on-chain pre-commit of a sector (also what the deposit and pledge are computed for).
pub(crate) fn pre_commit_info(
    daemon: &Daemon,
    record: &SectorRecord,
    expiration: i64,
) -> anyhow::Result<SectorPreCommitInfoJson> {
    let commitments = record.commitments.ok_or_else(|| anyhow::anyhow!("no commitments recorded"))?;
    let ticket = record.ticket.ok_or_else(|| anyhow::anyhow!("no ticket recorded"))?;
    Ok(SectorPreCommitInfoJson {
        seal_proof: i64::from(daemon.seal_proof),
        sector_number: record.sector.number,
        sealed_cid: LotusJson(sealed_cid(commitments.comm_r)),
        seal_rand_epoch: ticket.epoch,
        deal_ids: None,
        expiration,
        unsealed_cid: None,
    })
}

/// A committed-capacity sector's entry in a PreCommitSectorBatch2.
pub(crate) fn batch_entry(daemon: &Daemon, info: SectorPreCommitInfoJson) -> miner_state::SectorPreCommitInfo {
    miner_state::SectorPreCommitInfo {
        seal_proof: daemon.seal_proof,
        sector_number: info.sector_number,
        sealed_cid: info.sealed_cid.0,
        seal_rand_epoch: info.seal_rand_epoch,
        deal_ids: Vec::new(),
        expiration: info.expiration,
        unsealed_cid: miner_state::CompactCommD(None),
    }
}

/// A message from the worker address to the miner actor.
fn miner_message(
    daemon: &Daemon,
    method: u64,
    params: &impl serde::Serialize,
    value: TokenAmount,
) -> anyhow::Result<fvm_shared::message::Message> {
    let params = RawBytes::serialize(params)?;
    Ok(unsigned_message(daemon.worker, daemon.actor, value, method, params))
}

/// After a message failed on chain: forget it, so the next attempt sends a new one.
fn forget_failed(daemon: &Daemon, record: &mut SectorRecord, step: &str, error: &ChainError) -> anyhow::Result<()> {
    if let ChainError::MessageFailed { .. } = error {
        record.messages.0.remove(step);
        daemon.store.save(record)?;
        daemon.metrics.chain_message(step, "failed");
    }
    Ok(())
}

/// The deposit the node asks for pre-committing `info`.
pub(crate) async fn pre_commit_deposit(daemon: &Daemon, info: SectorPreCommitInfoJson) -> anyhow::Result<TokenAmount> {
    let api = daemon.node.api();
    let deposit = api.state_miner_pre_commit_deposit_for_power(LotusJson(daemon.actor), info, TipSetKey::head());
    Ok(deposit.await.map_err(daemon.node.err())?.0)
}

/// The initial pledge the node asks for proving a pre-committed sector.
pub(crate) async fn initial_pledge(daemon: &Daemon, record: &SectorRecord) -> anyhow::Result<TokenAmount> {
    let info = pre_commit_info(daemon, record, 0)?;
    let api = daemon.node.api();
    let pledge = api.state_miner_initial_pledge_collateral(LotusJson(daemon.actor), info, TipSetKey::head());
    Ok(pledge.await.map_err(daemon.node.err())?.0)
}

/// The epoch a sector's PreCommit landed at, as the chain records it (`landed`, from the message's lookup, when
/// the pre-commit is gone already).
pub(crate) async fn pre_commit_epoch(daemon: &Daemon, number: u64, landed: i64) -> anyhow::Result<i64> {
    let api = daemon.node.api();
    let on_chain = api.state_sector_pre_commit_info(LotusJson(daemon.actor), number, TipSetKey::head());
    Ok(on_chain.await.map_err(daemon.node.err())?.map_or(landed, |p| p.pre_commit_epoch))
}

/// ProveCommitSectors3 of committed-capacity `sectors`, with one proof each (`sector_proofs`) or one aggregate.
pub(crate) fn prove_commit_params(
    sectors: &[u64],
    sector_proofs: Vec<Vec<u8>>,
    aggregate: Option<Vec<u8>>,
) -> miner_state::ProveCommitSectors3Params {
    miner_state::ProveCommitSectors3Params {
        sector_activations: sectors
            .iter()
            .map(|&sector_number| miner_state::SectorActivationManifest { sector_number, pieces: Vec::new() })
            .collect(),
        sector_proofs: sector_proofs.into_iter().map(RawBytes::new).collect(),
        aggregate_proof_type: aggregate.as_ref().map(|_| RegisteredAggregateProof::SnarkPackV2),
        aggregate_proof: RawBytes::new(aggregate.unwrap_or_default()),
        require_activation_success: true,
        require_notification_success: true,
    }
}

async fn pre_commit(daemon: &Daemon, record: &mut SectorRecord, head: i64) -> anyhow::Result<()> {
    let info = pre_commit_info(daemon, record, head + daemon.config.sector_lifetime)?;
    let deposit = pre_commit_deposit(daemon, info.clone()).await?;
    let params = miner_state::PreCommitSectorBatchParams2 { sectors: vec![batch_entry(daemon, info)] };
    let message = miner_message(daemon, methods::PRE_COMMIT_SECTOR_BATCH2, &params, deposit)?;
    let confidence = daemon.config.confidence;
    let sent =
        push_once(&daemon.node, record, &mut SectorJournal(&daemon.store), steps::PRE_COMMIT, &message, confidence)
            .await;
    if let Err(error) = &sent {
        forget_failed(daemon, record, steps::PRE_COMMIT, error)?;
    }
    let lookup = sent?;
    daemon.metrics.chain_message(steps::PRE_COMMIT, "ok");
    let landed = pre_commit_epoch(daemon, record.sector.number, lookup.height - 1).await?;
    record.pre_commit_epoch = Some(landed);
    record.enter(SectorState::WaitSeed, &format!("PreCommit landed at epoch {landed}"));
    daemon.store.save(record)?;
    Ok(())
}

async fn prove_commit(daemon: &Daemon, record: &mut SectorRecord) -> anyhow::Result<()> {
    let proof = record.proof.clone().ok_or_else(|| anyhow::anyhow!("no seal proof recorded"))?;
    let pledge = initial_pledge(daemon, record).await?;
    let params = prove_commit_params(&[record.sector.number], vec![proof.0], None);
    let message = miner_message(daemon, methods::PROVE_COMMIT_SECTORS3, &params, pledge)?;
    let confidence = daemon.config.confidence;
    let sent =
        push_once(&daemon.node, record, &mut SectorJournal(&daemon.store), steps::PROVE_COMMIT, &message, confidence)
            .await;
    match sent {
        Ok(lookup) => {
            daemon.metrics.chain_message(steps::PROVE_COMMIT, "ok");
            record.enter(SectorState::FinalizeSector, &format!("proven on chain at epoch {}", lookup.height - 1));
            daemon.store.save(record)?;
            Ok(())
        }
        Err(error @ ChainError::MessageFailed { .. }) => {
            // The chain refused the proof: make it again (Commit1 and Commit2) before another ProveCommit.
            forget_failed(daemon, record, steps::PROVE_COMMIT, &error)?;
            record.proof = None;
            record.enter(SectorState::Committing, "the chain refused the seal proof");
            daemon.store.save(record)?;
            Err(error.into())
        }
        Err(error) => Err(error.into()),
    }
}

/// How long a sector backs off after its `retries`-th failure: 1 s doubling to a minute.
pub fn backoff(retries: u64) -> Duration {
    Duration::from_secs(1u64 << retries.min(6)).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(50), Duration::from_secs(60));
    }
}
