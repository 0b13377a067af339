//! Where a WindowPoSt message's SNARK is made. Its vanilla proofs are made next to the storage (the daemon reads
//! the sector files); the SNARK reads no file, so PoSt-capable workers (a SealingWorker pool with the
//! `WindowPoSt` task, on GPUs) make it. Each message's SNARK is a PoSt job in the scheduler, handed to up to
//! `--post-redundancy` workers at once (lotus: "compute on N workers, submit the first valid"); the daemon
//! verifies each answer and takes the first valid one, drops a wrong one (and logs it), and counts answers that
//! come after the job was settled as late. When no worker runs the task, or none answers validly by the time
//! that still leaves the daemon room to prove it itself before the deadline closes, the daemon makes the SNARK
//! itself: a lost worker pod never costs the deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fvm_shared::sector::{PoStProof, RegisteredPoStProof};
use sealstack_chain::LotusJson;
use tokio::sync::mpsc;

use crate::daemon::Daemon;
use crate::daemon::scheduler::Scheduler;
use crate::protocol::{TaskInput, TaskKind, TaskResult};
use crate::sealing::post::{VanillaProof, verify_window_post, window_post_from_vanilla};

/// A worker's answer to a PoSt job.
#[derive(Debug)]
pub struct WorkerProof {
    /// The worker's name.
    pub worker: String,
    /// What it answered.
    pub result: TaskResult,
}

/// Who made a SNARK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prover {
    /// A worker, by name.
    Worker(String),
    /// The daemon itself.
    Daemon,
}

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

/// Makes `job`'s SNARK: on workers while `give_up_at` is ahead, then in the daemon.
pub async fn window_post_snark(
    daemon: &Arc<Daemon>,
    job: SnarkJob,
    give_up_at: Instant,
) -> anyhow::Result<(Vec<PoStProof>, Prover)> {
    let workers = daemon.scheduler.lock().expect("scheduler lock").workers_for(TaskKind::WindowPoSt);
    if workers > 0 && Instant::now() < give_up_at {
        if let Some(found) = on_workers(daemon, &job, workers, give_up_at).await {
            return Ok(found);
        }
    } else if workers > 0 {
        tracing::warn!("no time left for PoSt workers: the daemon proves this message itself");
    }
    let proofs = locally(daemon, job).await?;
    Ok((proofs, Prover::Daemon))
}

/// Hands `job` to up to `--post-redundancy` of the `workers` PoSt workers and waits for the first valid answer
/// until `give_up_at`.
async fn on_workers(
    daemon: &Arc<Daemon>,
    job: &SnarkJob,
    workers: usize,
    give_up_at: Instant,
) -> Option<(Vec<PoStProof>, Prover)> {
    let redundancy = daemon.config.post_redundancy.min(workers);
    let input = TaskInput::WindowPoSt {
        post_proof: i64::from(job.post_type),
        randomness: LotusJson(job.randomness.to_vec()),
        miner: daemon.actor_id,
        vanilla: job.vanilla.clone(),
    };
    let (sender, mut answers) = mpsc::unbounded_channel();
    let id = {
        let mut scheduler = daemon.scheduler.lock().expect("scheduler lock");
        let id = scheduler.add_post_job(input, redundancy);
        daemon.post_results.lock().expect("post results lock").insert(id.clone(), sender);
        id
    };
    daemon.changed.notify_waiters();
    tracing::info!(job = id, redundancy, partitions = job.partitions, "WindowPoSt SNARK handed to PoSt workers");
    let found = loop {
        tokio::select! {
            answer = answers.recv() => {
                let Some(answer) = answer else { break None };
                match check(daemon, job, answer.result).await {
                    Ok(proofs) => {
                        daemon.metrics.post_task(&answer.worker, "done");
                        tracing::info!(job = id, worker = answer.worker, "WindowPoSt SNARK from a worker verified");
                        break Some((proofs, Prover::Worker(answer.worker)));
                    }
                    Err(why) => {
                        daemon.metrics.post_task(&answer.worker, "failed");
                        tracing::warn!(job = id, worker = answer.worker, why, "a worker's WindowPoSt dropped");
                    }
                }
            }
            _ = tokio::time::sleep_until(give_up_at.into()) => {
                tracing::warn!(job = id, "no valid WindowPoSt from the workers in time: the daemon proves it itself");
                break None;
            }
        }
    };
    daemon.post_results.lock().expect("post results lock").remove(&id);
    daemon.scheduler.lock().expect("scheduler lock").drop_post_job(&id);
    // Answers that came in while this one was verified: the job is settled, so they are late.
    answers.close();
    while let Ok(answer) = answers.try_recv() {
        daemon.metrics.post_task(&answer.worker, "late");
        tracing::info!(job = id, worker = answer.worker, "a PoSt result after its job was settled: dropped");
    }
    found
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

/// The daemon's own SNARK (one at a time: each takes every core), timed for the next deadline's planning.
async fn locally(daemon: &Arc<Daemon>, job: SnarkJob) -> anyhow::Result<Vec<PoStProof>> {
    let _turn = daemon.local_prover.acquire().await.expect("the semaphore is never closed");
    let started = Instant::now();
    let (post_type, randomness, miner, partitions) = (job.post_type, job.randomness, daemon.actor_id, job.partitions);
    let proofs =
        tokio::task::spawn_blocking(move || window_post_from_vanilla(post_type, randomness, miner, &job.vanilla))
            .await??;
    let took = started.elapsed();
    daemon.metrics.window_post_snark(took.as_secs_f64());
    *daemon.local_snark_per_partition.lock().expect("estimate lock") = Some(took / partitions.max(1) as u32);
    Ok(proofs)
}

/// When to stop waiting for workers: the daemon still needs twice its own SNARK time for `partitions` (or a third
/// of what is left, before it has made one) and `landing` to get the message on chain, before `close`.
pub fn give_up_at(
    daemon: &Daemon,
    now: Instant,
    until_close: Duration,
    landing: Duration,
    partitions: usize,
) -> Instant {
    let left = until_close.saturating_sub(landing);
    let local = daemon.local_snark_per_partition.lock().expect("estimate lock").map(|p| p * partitions.max(1) as u32);
    let reserve = local.map_or(left / 3, |l| (l * 2).min(left));
    now + left.saturating_sub(reserve)
}

/// Applies a worker's answer to a PoSt hand-out (from the API): to the proof waiting for it, or, when the job was
/// settled already, counted late and dropped.
pub fn worker_result(daemon: &Daemon, worker: &str, task: &str, result: TaskResult) {
    let name = {
        let mut scheduler = daemon.scheduler.lock().expect("scheduler lock");
        scheduler.finish(worker, task);
        scheduler.worker_name(worker).unwrap_or_else(|| worker.to_string())
    };
    let job = Scheduler::post_job_of(task).unwrap_or_default();
    let sender = daemon.post_results.lock().expect("post results lock").get(job).cloned();
    match sender {
        Some(sender) if sender.send(WorkerProof { worker: name.clone(), result }).is_ok() => {}
        _ => {
            daemon.metrics.post_task(&name, "late");
            tracing::info!(task, worker = name, "a PoSt result after its job was settled: dropped");
        }
    }
}
