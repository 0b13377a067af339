//! Where a WindowPoSt message's SNARK is made. Its vanilla proofs are made next to the storage (the daemon reads
//! the sector files); the SNARK reads no file, so PoSt-capable workers (a SealingWorker pool with the
//! `WindowPoSt` task, on GPUs) make it: each message's SNARK is a PoSt job handed to up to `--post-redundancy`
//! workers at once (`daemon::post_jobs`). When no worker runs the task, all of them are lost, or none answers
//! validly by the time that still leaves the daemon room to prove it itself before the deadline closes, the
//! daemon makes the SNARK itself (and still takes a worker's valid answer that comes first): a lost worker pod
//! never costs the deadline.

use std::sync::Arc;

use fvm_shared::sector::{PoStProof, RegisteredPoStProof};
use sealstack_chain::{FullNodeClient, LotusJson};

use crate::daemon::Daemon;
use crate::daemon::post_jobs::{self, GiveUp};
pub use crate::daemon::post_jobs::{Prover, WorkerProof};
use crate::protocol::{TaskInput, TaskKind, TaskResult};
use crate::sealing::post::{VanillaProof, verify_window_post, window_post_from_vanilla};

/// One message's SNARK to make.
pub struct SnarkJob {
    /// The miner's WindowPoSt type.
    pub post_type: RegisteredPoStProof,
    /// The deadline's challenge.
    pub randomness: [u8; 32],
    /// The vanilla proofs of the message's sectors.
    pub vanilla: Vec<VanillaProof>,
    /// The message's sectors with their CommR, to verify a worker's answer as the chain will.
    pub sectors: Vec<(u64, [u8; 32])>,
    /// The partitions the SNARK proves (the local estimate scales with them).
    pub partitions: usize,
}

/// Makes `job`'s SNARK: on workers until the chain reaches epoch `give_up`, then in the daemon, still taking a
/// worker's valid answer that comes before the daemon's own proof.
pub async fn window_post_snark(
    daemon: &Arc<Daemon>,
    job: SnarkJob,
    head: i64,
    give_up: i64,
) -> anyhow::Result<(Vec<PoStProof>, Prover)> {
    let workers = post_jobs::workers_for(daemon, TaskKind::WindowPoSt);
    if workers == 0 || head >= give_up {
        if workers > 0 {
            tracing::warn!(head, give_up, "no time left for PoSt workers: the daemon proves this message itself");
        }
        return Ok((locally(daemon, &job).await?, Prover::Daemon));
    }
    let input = TaskInput::WindowPoSt {
        post_proof: i64::from(job.post_type),
        randomness: LotusJson(job.randomness.to_vec()),
        miner: daemon.actor_id,
        vanilla: job.vanilla.clone(),
    };
    tracing::info!(partitions = job.partitions, "a WindowPoSt message's SNARK for the PoSt workers");
    let check = |result| check(daemon, &job, result);
    post_jobs::on_workers_or_locally(daemon, input, workers, GiveUp::Epoch(give_up), check, locally(daemon, &job)).await
}

/// A worker's answer as the chain will take it: a proof of the job's type that verifies over its sectors.
async fn check(daemon: &Daemon, job: &SnarkJob, result: TaskResult) -> Result<Vec<PoStProof>, String> {
    let proof = match result {
        TaskResult::WindowPoSt { proof } => proof.0,
        TaskResult::Failed { error } => return Err(format!("the worker failed: {error}")),
        other => return Err(format!("a {other:?} result to a WindowPoSt job")),
    };
    let proofs = vec![PoStProof { post_proof: job.post_type, proof_bytes: proof }];
    let (randomness, miner, sectors) = (job.randomness, daemon.actor_id, job.sectors.clone());
    let checked = proofs.clone();
    let verified = tokio::task::spawn_blocking(move || verify_window_post(randomness, miner, &checked, &sectors)).await;
    match verified {
        Ok(Ok(true)) => Ok(proofs),
        Ok(Ok(false)) => Err("the proof does not verify".into()),
        Ok(Err(e)) => Err(format!("the proof cannot be verified: {e}")),
        Err(e) => Err(format!("verification task failed: {e}")),
    }
}

/// The daemon's own SNARK (one at a time: each takes every core), measured in epochs for the next give-up.
async fn locally(daemon: &Daemon, job: &SnarkJob) -> anyhow::Result<Vec<PoStProof>> {
    let _turn = daemon.local_prover.acquire().await.expect("the semaphore is never closed");
    let head = || async { daemon.node.api().chain_head().await.map(|h| h.height).ok() };
    let (started, from) = (std::time::Instant::now(), head().await);
    let (post_type, randomness, miner, partitions) = (job.post_type, job.randomness, daemon.actor_id, job.partitions);
    let vanilla = job.vanilla.clone();
    let proofs =
        tokio::task::spawn_blocking(move || window_post_from_vanilla(post_type, randomness, miner, &vanilla)).await??;
    daemon.metrics.window_post_snark(started.elapsed().as_secs_f64());
    if let (Some(from), Some(to)) = (from, head().await) {
        let per_partition = (to - from).max(1) as f64 / partitions.max(1) as f64;
        *daemon.local_snark_epochs.lock().expect("estimate lock") = Some(per_partition);
    }
    Ok(proofs)
}

/// The epoch from which the daemon stops waiting for workers and makes a SNARK of `partitions` itself, with `head`
/// the current epoch and `close` the deadline's: it keeps twice its own last SNARK time (`local`, epochs per
/// partition; before it made one, a third of the epochs left) and `landing` epochs to get the message on chain.
pub fn give_up_epoch(local: Option<f64>, head: i64, close: i64, landing: i64, partitions: usize) -> i64 {
    let left = (close - landing - head).max(0);
    let reserve = match local {
        Some(per_partition) => ((per_partition * partitions.max(1) as f64 * 2.0).ceil() as i64).clamp(1, left.max(1)),
        None => left / 3,
    };
    head + (left - reserve).max(0)
}

#[cfg(test)]
mod tests {
    use super::give_up_epoch;

    #[test]
    fn workers_are_given_what_the_daemon_does_not_need_to_prove_it_itself() {
        // 60 epochs to the close, 3 to land: 57 usable.
        assert_eq!(give_up_epoch(None, 100, 160, 3, 2), 100 + 57 - 19, "before any own SNARK: a third kept");
        assert_eq!(give_up_epoch(Some(2.0), 100, 160, 3, 3), 100 + 57 - 12, "twice 3 partitions of 2 epochs");
        assert_eq!(give_up_epoch(Some(0.1), 100, 160, 3, 1), 100 + 57 - 1, "at least an epoch kept");
        assert_eq!(give_up_epoch(Some(50.0), 100, 160, 3, 1), 100, "no room for workers: prove at once");
        assert_eq!(give_up_epoch(None, 158, 160, 3, 1), 158, "past the landing margin: at once");
    }
}
