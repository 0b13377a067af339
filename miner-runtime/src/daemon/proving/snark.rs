//! Where a WindowPoSt message's SNARK is made. Its vanilla proofs are made next to the storage (the daemon reads
//! the sector files); the SNARK reads no file, so PoSt-capable workers (a SealingWorker pool with the
//! `WindowPoSt` task, on GPUs) make it. Each message's SNARK is a PoSt job in the scheduler, handed to up to
//! `--post-redundancy` workers at once (lotus: "compute on N workers, submit the first valid"); the daemon
//! verifies each answer and takes the first valid one, drops a wrong one (and logs it), and counts answers that
//! come after the job was settled as late. When no worker runs the task, all of them are lost, or none answers
//! validly by the time that still leaves the daemon room to prove it itself before the deadline closes, the
//! daemon makes the SNARK itself (and still takes a worker's valid answer that comes first): a lost worker pod
//! never costs the deadline.

use std::sync::Arc;
use std::time::Duration;

use fvm_shared::sector::{PoStProof, RegisteredPoStProof};
use sealstack_chain::{FullNodeClient, LotusJson};
use tokio::sync::mpsc;

use crate::daemon::Daemon;
use crate::daemon::scheduler::Scheduler;
use crate::protocol::{TaskInput, TaskKind, TaskResult};
use crate::sealing::post::{VanillaProof, verify_window_post, window_post_from_vanilla};

/// How often a job waiting for workers looks whether any PoSt worker is still alive.
const LIVENESS_CHECK: Duration = Duration::from_millis(500);

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

/// Makes `job`'s SNARK: on workers until the chain reaches epoch `give_up`, then in the daemon, still taking a
/// worker's valid answer that comes before the daemon's own proof.
pub async fn window_post_snark(
    daemon: &Arc<Daemon>,
    job: SnarkJob,
    head: i64,
    give_up: i64,
) -> anyhow::Result<(Vec<PoStProof>, Prover)> {
    let workers = daemon.scheduler.lock().expect("scheduler lock").workers_for(TaskKind::WindowPoSt);
    if workers == 0 || head >= give_up {
        if workers > 0 {
            tracing::warn!(head, give_up, "no time left for PoSt workers: the daemon proves this message itself");
        }
        return Ok((locally(daemon, &job).await?, Prover::Daemon));
    }
    let mut hand_out = HandOut::start(daemon, &job, workers);
    let found = match hand_out.first_valid(daemon, &job, Some(give_up)).await {
        Some(found) => Ok(found),
        None => {
            // No new hand-outs; those running may still win against the daemon's own proof.
            daemon.scheduler.lock().expect("scheduler lock").drop_post_job(&hand_out.id);
            let local = locally(daemon, &job);
            tokio::pin!(local);
            tokio::select! {
                proofs = &mut local => proofs.map(|p| (p, Prover::Daemon)),
                Some(found) = hand_out.first_valid(daemon, &job, None) => Ok(found),
            }
        }
    };
    hand_out.settle(daemon);
    found
}

/// A PoSt job handed to workers: its id and where their answers come in.
struct HandOut {
    id: String,
    answers: mpsc::UnboundedReceiver<WorkerProof>,
}

impl HandOut {
    /// Hands `job` to up to `--post-redundancy` of the `workers` PoSt workers.
    fn start(daemon: &Daemon, job: &SnarkJob, workers: usize) -> Self {
        let redundancy = daemon.config.post_redundancy.min(workers);
        let input = TaskInput::WindowPoSt {
            post_proof: i64::from(job.post_type),
            randomness: LotusJson(job.randomness.to_vec()),
            miner: daemon.actor_id,
            vanilla: job.vanilla.clone(),
        };
        let (sender, answers) = mpsc::unbounded_channel();
        let id = {
            let mut scheduler = daemon.scheduler.lock().expect("scheduler lock");
            let id = scheduler.add_post_job(input, redundancy);
            daemon.post_results.lock().expect("post results lock").insert(id.clone(), sender);
            id
        };
        daemon.changed.notify_waiters();
        tracing::info!(job = id, redundancy, partitions = job.partitions, "WindowPoSt SNARK handed to PoSt workers");
        HandOut { id, answers }
    }

    /// The first answer that verifies (each wrong one dropped, counted and logged). With `give_up`, `None` once the
    /// chain reaches that epoch or no PoSt worker is left; without, it waits for answers only.
    async fn first_valid(
        &mut self,
        daemon: &Daemon,
        job: &SnarkJob,
        give_up: Option<i64>,
    ) -> Option<(Vec<PoStProof>, Prover)> {
        let id = &self.id;
        loop {
            tokio::select! {
                answer = self.answers.recv() => {
                    let answer = answer?;
                    match check(daemon, job, answer.result).await {
                        Ok(proofs) => {
                            daemon.metrics.post_task(&answer.worker, "done");
                            tracing::info!(job = id, worker = answer.worker, "WindowPoSt SNARK from a worker verified");
                            return Some((proofs, Prover::Worker(answer.worker)));
                        }
                        Err(why) => {
                            daemon.metrics.post_task(&answer.worker, "failed");
                            tracing::warn!(job = id, worker = answer.worker, why, "a worker's WindowPoSt dropped");
                        }
                    }
                }
                _ = tokio::time::sleep(LIVENESS_CHECK), if give_up.is_some() => {
                    // Workers lost (no report within a lease): nobody is left to answer, so waiting is time lost.
                    if daemon.scheduler.lock().expect("scheduler lock").workers_for(TaskKind::WindowPoSt) == 0 {
                        tracing::warn!(job = id, "no PoSt worker left: the daemon proves it itself");
                        return None;
                    }
                    let head = daemon.node.api().chain_head().await.map(|h| h.height);
                    if let (Ok(head), Some(give_up)) = (head, give_up) && head >= give_up {
                        tracing::warn!(job = id, head, "no valid WindowPoSt from the workers in time: the daemon proves it itself");
                        return None;
                    }
                }
            }
        }
    }

    /// Settles the job: no more hand-outs, and answers still to come (or that came meanwhile) are late.
    fn settle(mut self, daemon: &Daemon) {
        daemon.post_results.lock().expect("post results lock").remove(&self.id);
        daemon.scheduler.lock().expect("scheduler lock").drop_post_job(&self.id);
        self.answers.close();
        while let Ok(answer) = self.answers.try_recv() {
            daemon.metrics.post_task(&answer.worker, "late");
            tracing::info!(job = self.id, worker = answer.worker, "a PoSt result after its job was settled: dropped");
        }
    }
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
