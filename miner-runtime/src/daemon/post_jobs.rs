//! PoSt SNARKs handed to PoSt workers: a WindowPoSt message's (`proving::snark`) and a won round's WinningPoSt
//! (`mining::prove`). The vanilla proofs are made next to the storage; the SNARK reads no file, so a worker with
//! the task (a SealingWorker pool, on GPUs) makes it. A job goes to up to `--post-redundancy` workers at once
//! (lotus: "compute on N workers, submit the first valid"); the daemon checks each answer as the chain will and
//! takes the first valid one, drops a wrong one (counted and logged), and counts answers that come after the job
//! was settled as late. The callers decide when to stop waiting and prove themselves.

use std::future::Future;
use std::time::Duration;

use fvm_shared::sector::PoStProof;
use sealstack_chain::FullNodeClient;
use tokio::sync::mpsc;

use crate::daemon::Daemon;
use crate::daemon::scheduler::Scheduler;
use crate::protocol::{TaskInput, TaskKind, TaskResult};

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

/// When a caller stops waiting for workers (it proves itself from then on, still taking a valid answer that
/// comes first).
#[derive(Clone, Copy, Debug)]
pub enum GiveUp {
    /// When the chain reaches this epoch (a WindowPoSt deadline).
    Epoch(i64),
    /// At this moment (a mining round's deadline).
    At(tokio::time::Instant),
    /// Never: answers only (the race against the daemon's own proof).
    Never,
}

/// Live workers that run `kind`.
pub fn workers_for(daemon: &Daemon, kind: TaskKind) -> usize {
    daemon.scheduler.lock().expect("scheduler lock").workers_for(kind)
}

/// A PoSt job handed to workers: its id, its kind and where their answers come in.
pub struct HandOut {
    id: String,
    kind: TaskKind,
    answers: mpsc::UnboundedReceiver<WorkerProof>,
}

impl HandOut {
    /// Hands `input` to up to `--post-redundancy` of the `workers` live workers of its kind.
    pub fn start(daemon: &Daemon, input: TaskInput, workers: usize) -> Self {
        let kind = input.kind();
        let redundancy = daemon.config.post_redundancy.min(workers);
        let (sender, answers) = mpsc::unbounded_channel();
        let id = {
            let mut scheduler = daemon.scheduler.lock().expect("scheduler lock");
            let id = scheduler.add_post_job(input, redundancy);
            daemon.post_results.lock().expect("post results lock").insert(id.clone(), sender);
            id
        };
        daemon.changed.notify_waiters();
        tracing::info!(job = id, redundancy, "{} SNARK handed to PoSt workers", kind.as_str());
        HandOut { id, kind, answers }
    }

    /// No new hand-outs of the job; those running keep their leases and may still answer.
    pub fn stop_handing_out(&self, daemon: &Daemon) {
        daemon.scheduler.lock().expect("scheduler lock").stop_post_job(&self.id);
    }

    /// The first answer that `check` accepts (each refused one dropped, counted and logged). `None` at `give_up`,
    /// or once no worker of the job's kind is left (unless `give_up` is [`GiveUp::Never`]).
    pub async fn first_valid<C, F>(
        &mut self,
        daemon: &Daemon,
        check: C,
        give_up: GiveUp,
    ) -> Option<(Vec<PoStProof>, Prover)>
    where
        C: Fn(TaskResult) -> F,
        F: Future<Output = Result<Vec<PoStProof>, String>>,
    {
        let (id, kind) = (&self.id, self.kind.as_str());
        let waiting = !matches!(give_up, GiveUp::Never);
        loop {
            tokio::select! {
                answer = self.answers.recv() => {
                    let answer = answer?;
                    match check(answer.result).await {
                        Ok(proofs) => {
                            daemon.metrics.post_task(&answer.worker, "done");
                            tracing::info!(job = id, worker = answer.worker, "{kind} SNARK from a worker verified");
                            return Some((proofs, Prover::Worker(answer.worker)));
                        }
                        Err(why) => {
                            daemon.scheduler.lock().expect("scheduler lock").answer_refused(id);
                            daemon.changed.notify_waiters();
                            daemon.metrics.post_task(&answer.worker, "failed");
                            tracing::warn!(job = id, worker = answer.worker, why, "a worker's {kind} dropped");
                        }
                    }
                }
                _ = tokio::time::sleep(LIVENESS_CHECK), if waiting => {
                    // Workers lost (no report within a lease): nobody is left to answer, so waiting is time lost.
                    if workers_for(daemon, self.kind) == 0 {
                        tracing::warn!(job = id, "no PoSt worker left: the daemon proves the {kind} itself");
                        return None;
                    }
                    let late = match give_up {
                        GiveUp::Epoch(epoch) => {
                            daemon.node.api().chain_head().await.is_ok_and(|head| head.height >= epoch)
                        }
                        GiveUp::At(at) => tokio::time::Instant::now() >= at,
                        GiveUp::Never => false,
                    };
                    if late {
                        tracing::warn!(job = id, "no valid {kind} from the workers in time: the daemon proves it itself");
                        return None;
                    }
                }
            }
        }
    }

    /// Settles the job: no more hand-outs, and answers still to come (or that came meanwhile) are late.
    pub fn settle(mut self, daemon: &Daemon) {
        daemon.post_results.lock().expect("post results lock").remove(&self.id);
        daemon.scheduler.lock().expect("scheduler lock").drop_post_job(&self.id);
        self.answers.close();
        while let Ok(answer) = self.answers.try_recv() {
            daemon.metrics.post_task(&answer.worker, "late");
            tracing::info!(job = self.id, worker = answer.worker, "a PoSt result after its job was settled: dropped");
        }
    }
}

/// Makes a PoSt SNARK on workers until `give_up`, then also locally (`local`), taking whichever valid proof
/// comes first; `check` verifies a worker's answer as the chain will.
pub async fn on_workers_or_locally<C, F, L>(
    daemon: &Daemon,
    input: TaskInput,
    workers: usize,
    give_up: GiveUp,
    check: C,
    local: L,
) -> anyhow::Result<(Vec<PoStProof>, Prover)>
where
    C: Fn(TaskResult) -> F,
    F: Future<Output = Result<Vec<PoStProof>, String>>,
    L: Future<Output = anyhow::Result<Vec<PoStProof>>>,
{
    let mut hand_out = HandOut::start(daemon, input, workers);
    let found = match hand_out.first_valid(daemon, &check, give_up).await {
        Some(found) => Ok(found),
        None => {
            // No new hand-outs; those running may still win against the daemon's own proof.
            hand_out.stop_handing_out(daemon);
            tokio::pin!(local);
            tokio::select! {
                proofs = &mut local => proofs.map(|p| (p, Prover::Daemon)),
                Some(found) = hand_out.first_valid(daemon, &check, GiveUp::Never) => Ok(found),
            }
        }
    };
    hand_out.settle(daemon);
    found
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
