//! The daemon's side of [`MinerApi`]: the CLI methods over the sector store, and the worker protocol over the
//! scheduler.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fvm_shared::address::Address;
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::types::ErrorObjectOwned;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use super::Daemon;
use super::batching::{self, BatchKind};
use super::scheduler::Scheduler;
use super::sectors::{SectorRecord, steps};
use crate::protocol::{
    Demand, MinerApiServer, OpenBatch, Randomness, SectorId, SectorInfo, StoreStat, StoredSector, Task, TaskKind,
    TaskResult, WorkerReport, WorkerStats,
};
use crate::sealing::{sealed_cid, unsealed_cid};

/// How long `SealstackTaskAcquire` waits for a task before answering `null` (at most half a lease, so a worker
/// waiting in it is never taken for gone).
const ACQUIRE_WAIT: Duration = Duration::from_secs(5);

fn error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(1, message.into(), None)
}

/// The API server, over the daemon.
pub struct MinerApiImpl(pub Arc<Daemon>);

impl MinerApiImpl {
    fn pending(&self, kind: BatchKind) -> Vec<SectorId> {
        let miner = self.0.actor_id;
        batching::pending(&self.0, kind).into_iter().map(|number| SectorId { miner, number }).collect()
    }
}

/// The sector number and task kind a task id names (`<run>-<n>-s<number>-<Kind>`), so a result handed back after
/// a daemon restart (its lease gone with the old process) can still be applied.
fn parse_task_id(id: &str) -> Option<(u64, TaskKind)> {
    let mut parts = id.rsplitn(3, '-');
    let kind = parts.next()?;
    let number = parts.next()?.strip_prefix('s')?.parse().ok()?;
    let kind = TaskKind::ALL.into_iter().find(|k| k.as_str() == kind)?;
    Some((number, kind))
}

fn sector_info(record: &SectorRecord) -> SectorInfo {
    let cid_of = |step: &str| {
        record
            .messages
            .0
            .get(step)
            .and_then(|r| r.cid.as_deref())
            .and_then(|c| cid::Cid::try_from(c).ok())
            .map(LotusJson)
    };
    SectorInfo {
        sector_id: record.sector.number,
        state: record.display_state().to_string(),
        comm_d: record.commitments.map(|c| LotusJson(unsealed_cid(c.comm_d))),
        comm_r: record.commitments.map(|c| LotusJson(sealed_cid(c.comm_r))),
        proof: record.proof.clone(),
        ticket: record.ticket.map(|t| Randomness { value: LotusJson(t.value.to_vec()), epoch: t.epoch }),
        seed: record.seed.map(|s| Randomness { value: LotusJson(s.value.to_vec()), epoch: s.epoch }),
        pre_commit_msg: cid_of(steps::PRE_COMMIT),
        commit_msg: cid_of(steps::PROVE_COMMIT),
        retries: record.retries,
        last_err: record.last_error.clone(),
        log: record.log.clone(),
        seal_proof: i64::from(record.sector.proof),
        activation: 0,
        expiration: 0,
    }
}

#[async_trait]
impl MinerApiServer for MinerApiImpl {
    async fn actor_address(&self) -> RpcResult<LotusJson<Address>> {
        Ok(LotusJson(self.0.actor))
    }

    async fn actor_sector_size(&self, actor: LotusJson<Address>) -> RpcResult<u64> {
        if actor.0 == self.0.actor {
            return Ok(self.0.sector_size);
        }
        let info =
            self.0.node.api().state_miner_info(actor, TipSetKey::head()).await.map_err(|e| error(e.to_string()))?;
        Ok(info.sector_size)
    }

    async fn sectors_list(&self) -> RpcResult<Vec<u64>> {
        Ok(self.0.store.all().iter().map(|r| r.sector.number).collect())
    }

    async fn sectors_status(&self, number: u64, show_on_chain: bool) -> RpcResult<SectorInfo> {
        let record = self.0.store.get(number).ok_or_else(|| error(format!("sector {number} not found")))?;
        let mut info = sector_info(&record);
        if let Some(state) = super::batching::display_state(&self.0, &record) {
            info.state = state.to_owned();
        }
        if show_on_chain {
            let filter = sealstack_chain::miner::BitFieldJson::from_numbers(&[number]);
            let api = self.0.node.api();
            let on_chain = api
                .state_miner_sectors(LotusJson(self.0.actor), Some(filter), TipSetKey::head())
                .await
                .map_err(|e| error(e.to_string()))?;
            if let Some(sector) = on_chain.into_iter().find(|s| s.sector_number == number) {
                info.activation = sector.activation;
                info.expiration = sector.expiration;
            }
        }
        Ok(info)
    }

    async fn sector_pledge(&self) -> RpcResult<SectorId> {
        let record = self.0.pledge().map_err(|e| error(format!("{e:#}")))?;
        Ok(SectorId { miner: record.sector.miner, number: record.sector.number })
    }

    async fn worker_stats(&self) -> RpcResult<BTreeMap<String, WorkerStats>> {
        Ok(self.0.scheduler.lock().expect("scheduler lock").stats().into_iter().collect())
    }

    async fn storage_list(&self) -> RpcResult<BTreeMap<String, Vec<StoredSector>>> {
        let miner = self.0.actor_id;
        let stored = |number: &u64| StoredSector {
            sector_id: SectorId { miner, number: *number },
            file_types: vec!["sealed".into(), "cache".into()],
        };
        let stores = self.0.storage.stats();
        Ok(stores.iter().map(|s| (s.store.meta.id.clone(), s.usage.sectors.iter().map(stored).collect())).collect())
    }

    async fn storage_stat(&self) -> RpcResult<Vec<StoreStat>> {
        Ok(self.0.storage.stats().iter().map(|s| s.stat()).collect())
    }

    async fn storage_move(&self, sector: u64, store: String) -> RpcResult<()> {
        let storage = self.0.storage.clone();
        let moved = tokio::task::spawn_blocking(move || storage.move_sector(sector, &store));
        moved.await.map_err(|e| error(e.to_string()))?.map_err(|e| error(format!("{e:#}")))
    }

    async fn storage_redeclare_local(&self) -> RpcResult<Vec<StoreStat>> {
        let storage = self.0.storage.clone();
        let stores =
            tokio::task::spawn_blocking(move || storage.redeclare()).await.map_err(|e| error(e.to_string()))?;
        tracing::info!(stores = stores.len(), "stores redeclared");
        Ok(stores.iter().map(|s| s.stat()).collect())
    }

    async fn check_provable(&self, sectors: Vec<u64>) -> RpcResult<BTreeMap<u64, String>> {
        let daemon = &self.0;
        if sectors.is_empty() {
            return Ok(BTreeMap::new());
        }
        let wanted: std::collections::BTreeSet<u64> = sectors.iter().copied().collect();
        let filter = Some(sealstack_chain::miner::BitFieldJson::from_numbers(&wanted));
        let on_chain = daemon
            .node
            .api()
            .state_miner_sectors(LotusJson(daemon.actor), filter, TipSetKey::head())
            .await
            .map_err(|e| error(format!("reading the sectors from the chain: {e}")))?;
        let known: std::collections::BTreeSet<u64> = on_chain.iter().map(|s| s.sector_number).collect();
        let unknown: Vec<u64> = wanted.difference(&known).copied().collect();
        if !unknown.is_empty() {
            return Err(error(format!("the miner has no sector {unknown:?} on chain")));
        }
        let mut to_check = Vec::new();
        for sector in &on_chain {
            let comm_r = crate::sealing::commitment_of(&sector.sealed_cid.0, crate::sealing::SEALED_CODEC)
                .map_err(|e| error(e.to_string()))?;
            to_check.push(super::proving::check::ToCheck { number: sector.sector_number, comm_r });
        }
        let randomness = super::proving::check::random_challenge();
        let purpose = super::proving::check::Purpose::Request;
        Ok(super::proving::check::check_sectors(daemon, &to_check, randomness, purpose).await.bad)
    }

    async fn sector_pre_commit_pending(&self) -> RpcResult<Vec<SectorId>> {
        Ok(self.pending(BatchKind::PreCommit))
    }

    async fn sector_commit_pending(&self) -> RpcResult<Vec<SectorId>> {
        Ok(self.pending(BatchKind::ProveCommit))
    }

    async fn batches_open(&self) -> RpcResult<Vec<OpenBatch>> {
        let batches = batching::open(&self.0).map_err(|e| error(format!("reading the batch journals: {e:#}")))?;
        Ok(batches
            .into_iter()
            .map(|batch| OpenBatch {
                step: batch.step().to_string(),
                cid: batch.messages.0.get(batch.step()).and_then(|r| r.cid.clone()),
                id: batch.id,
                sectors: batch.sectors,
            })
            .collect())
    }

    async fn batches_flush(&self, kind: String) -> RpcResult<Vec<u64>> {
        let kind = match kind.as_str() {
            "precommit" => BatchKind::PreCommit,
            "commit" => BatchKind::ProveCommit,
            other => return Err(error(format!("no batch kind {other:?}: precommit or commit"))),
        };
        if !batching::enabled(&self.0, kind) {
            let flag = if kind == BatchKind::PreCommit { "--batch-pre-commits" } else { "--batch-commits" };
            return Err(error(format!("this daemon does not batch {kind:?}s (run {flag})")));
        }
        let waiting = batching::pending(&self.0, kind);
        if !waiting.is_empty() {
            self.0.batch_flush.request(kind);
            self.0.changed.notify_waiters();
        }
        Ok(waiting)
    }

    async fn worker_demand(&self, tasks: Vec<TaskKind>) -> RpcResult<Demand> {
        let sectors = self.0.store.all();
        let scheduler = self.0.scheduler.lock().expect("scheduler lock");
        Ok(scheduler.demand(&tasks, &sectors, |n| self.0.is_paused(n)))
    }

    async fn worker_drain(&self, name: String, drain: bool) -> RpcResult<bool> {
        let changed = self.0.scheduler.lock().expect("scheduler lock").set_draining(&name, drain);
        if changed {
            tracing::info!(worker = name, drain, "worker draining changed");
        }
        Ok(changed)
    }

    async fn task_acquire(&self, worker: WorkerReport) -> RpcResult<Option<Task>> {
        let deadline = Instant::now() + ACQUIRE_WAIT.min(self.0.config.lease / 2);
        loop {
            let changed = self.0.changed.notified();
            if let Some(task) = self.0.try_acquire(&worker) {
                return Ok(Some(task));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let _ = tokio::time::timeout(left, changed).await;
        }
    }

    async fn task_progress(&self, worker: String, task: String) -> RpcResult<bool> {
        Ok(self.0.scheduler.lock().expect("scheduler lock").renew(&worker, &task))
    }

    async fn task_done(&self, worker: String, task: String, result: TaskResult) -> RpcResult<()> {
        if Scheduler::post_job_of(&task).is_some() {
            super::post_jobs::worker_result(&self.0, &worker, &task, result);
            self.0.changed.notify_waiters();
            return Ok(());
        }
        let (number, kind) = parse_task_id(&task).ok_or_else(|| error(format!("malformed task id {task:?}")))?;
        // The lease ends only once the result is applied: until then no other request may hand the sector's
        // (still awaited) task out again.
        let lease = self.0.scheduler.lock().expect("scheduler lock").lease(&worker, &task);
        let applied = self.0.task_finished(&task, number, kind, lease, result).await;
        self.0.scheduler.lock().expect("scheduler lock").finish(&worker, &task);
        self.0.changed.notify_waiters();
        applied.map_err(|e| error(format!("{e:#}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_name_their_sector_and_kind() {
        assert_eq!(parse_task_id("ab12cd34-7-s12-PreCommit2"), Some((12, TaskKind::PreCommit2)));
        assert_eq!(parse_task_id("x-1-s0-AddPiece"), Some((0, TaskKind::AddPiece)));
        assert_eq!(parse_task_id("x-1-0-AddPiece"), None);
        assert_eq!(parse_task_id("x-1-s0-Seal"), None);
    }
}
