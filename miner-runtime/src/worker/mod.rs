//! The sealing worker (`sealstack-miner worker`, what `lotus-worker run` does): asks its miner for tasks that fit
//! its task types and free resources, runs them with the sealing library in its scratch directory while renewing
//! their leases, hands the results back, and uploads finalized sectors to the miner. One long-lived process, so the
//! proofs library keeps its parameters loaded between tasks. When the miner is unreachable (restarting) it keeps
//! asking; results are retried until the miner takes them.

pub mod execute;
pub mod local;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpsee::http_client::HttpClient;
use sealstack_chain::ApiInfo;

use crate::daemon::scheduler::task_needs;
use crate::daemon::storage::kept_in_cache;
use crate::protocol::{MinerApiClient, Resources, Task, TaskInput, TaskKind, TaskResult, WorkerReport};
use local::Scratch;

/// Settings of a worker.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The miner's API.
    pub miner: ApiInfo,
    /// Task kinds it runs (empty: all).
    pub tasks: Vec<TaskKind>,
    /// Scratch directory.
    pub scratch: PathBuf,
    /// Its resources.
    pub resources: Resources,
    /// Name shown by the miner.
    pub name: String,
    /// How often a running task's lease is renewed.
    pub heartbeat: Duration,
}

/// The resources of this machine (or container): CPU cores, memory (a cgroup limit when lower) and NVIDIA GPUs.
pub fn detect_resources(gpus: Option<u32>) -> Resources {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024);
    let limit = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|t| t.trim().parse::<u64>().ok());
    let memory_bytes = limit.map_or(total, |l| l.min(total));
    let gpus = gpus.unwrap_or_else(|| {
        std::fs::read_dir("/dev").map_or(0, |entries| {
            entries
                .flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("nvidia").is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
                })
                .count() as u32
        })
    });
    Resources { cpus, memory_bytes, gpus }
}

/// A client of the miner's API with the token.
pub fn miner_client(info: &ApiInfo, timeout: Duration) -> anyhow::Result<HttpClient> {
    sealstack_chain::worker_pool::miner_api_client(info, timeout)
}

/// A running worker's shared state.
struct Worker {
    config: WorkerConfig,
    id: String,
    scratch: Scratch,
    client: HttpClient,
    http: reqwest::Client,
    running: Mutex<Vec<(String, Resources)>>,
}

impl Worker {
    fn report(&self) -> anyhow::Result<WorkerReport> {
        let mut free = self.config.resources;
        for (_, need) in self.running.lock().expect("running lock").iter() {
            free.take(need);
        }
        let tasks = if self.config.tasks.is_empty() { TaskKind::ALL.to_vec() } else { self.config.tasks.clone() };
        Ok(WorkerReport {
            id: self.id.clone(),
            name: self.config.name.clone(),
            tasks,
            resources: self.config.resources,
            free,
            held: self.scratch.held()?,
        })
    }

    /// Uploads a sector's sealed file and kept cache files for a Finalize task.
    async fn upload(&self, task: &Task) -> anyhow::Result<()> {
        let sector = task.sector.ok_or_else(|| anyhow::anyhow!("Finalize task {} names no sector", task.id))?;
        let files = self.scratch.files(&sector);
        let mut parts = vec![("sealed".to_string(), files.sealed.clone())];
        for entry in std::fs::read_dir(&files.cache)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_file() && kept_in_cache(&name) {
                parts.push((format!("cache/{name}"), entry.path()));
            }
        }
        for (part, path) in parts {
            let url = format!("{}/remote/finalize/{}/{part}", self.config.miner.base_url, task.id);
            let file = tokio::fs::File::open(&path).await?;
            let mut request = self.http.put(&url).body(reqwest::Body::from(file));
            if let Some(token) = &self.config.miner.token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await?;
            let status = response.status();
            anyhow::ensure!(
                status.is_success(),
                "upload of {part}: {status} {}",
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Runs one task to its end, renewing its lease, and hands the result back.
    async fn run_task(self: Arc<Self>, task: Task) {
        let kind = task.input.kind();
        tracing::info!(task = task.id, sector = task.sector.map(|s| s.number), kind = kind.as_str(), "task started");
        let started = std::time::Instant::now();
        let heartbeat = tokio::spawn({
            let worker = self.clone();
            let id = task.id.clone();
            async move {
                loop {
                    tokio::time::sleep(worker.config.heartbeat).await;
                    match worker.client.task_progress(worker.id.clone(), id.clone()).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(task = id, "the miner no longer leases this task to us"),
                        Err(error) => tracing::warn!(task = id, %error, "cannot renew the task lease"),
                    }
                }
            }
        });
        let result = if kind == TaskKind::Finalize {
            match self.upload(&task).await {
                Ok(()) => TaskResult::Finalize,
                Err(error) => TaskResult::Failed { error: format!("{error:#}") },
            }
        } else {
            let (task, scratch) = (task.clone(), self.scratch.clone());
            match tokio::task::spawn_blocking(move || execute::execute(&task, &scratch)).await {
                Ok(Ok(result)) => result,
                Ok(Err(error)) => TaskResult::Failed { error: format!("{error:#}") },
                Err(panic) => TaskResult::Failed { error: format!("task panicked: {panic}") },
            }
        };
        heartbeat.abort();
        let failed = matches!(result, TaskResult::Failed { .. });
        tracing::info!(
            task = task.id,
            kind = kind.as_str(),
            failed,
            secs = started.elapsed().as_secs_f64(),
            "task ended"
        );
        self.hand_back(&task, result).await;
        if kind == TaskKind::Finalize
            && !failed
            && let Some(sector) = task.sector
            && let Err(error) = self.scratch.remove(&sector)
        {
            tracing::warn!(sector = sector.number, error = format!("{error:#}"), "cannot clean up");
        }
        self.running.lock().expect("running lock").retain(|(id, _)| id != &task.id);
    }

    /// Hands a result back, retrying while the miner is unreachable.
    async fn hand_back(&self, task: &Task, result: TaskResult) {
        loop {
            match self.client.task_done(self.id.clone(), task.id.clone(), result.clone()).await {
                Ok(()) => return,
                Err(jsonrpsee::core::ClientError::Call(error)) => {
                    tracing::warn!(task = task.id, error = error.message(), "the miner refused the result");
                    return;
                }
                Err(error) => {
                    tracing::warn!(task = task.id, %error, "cannot reach the miner to hand back a result; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }
}

/// Runs the worker until the process ends.
pub async fn run(config: WorkerConfig) -> anyhow::Result<()> {
    let scratch = Scratch::open(&config.scratch)?;
    let id = scratch.worker_id()?;
    let client = miner_client(&config.miner, Duration::from_secs(60))?;
    let http = reqwest::Client::builder().build()?;
    let worker = Arc::new(Worker { id, scratch, client, http, running: Mutex::new(Vec::new()), config });
    tracing::info!(id = worker.id, resources = ?worker.config.resources, "worker started");
    let mut reachable = true;
    loop {
        let report = worker.report()?;
        match worker.client.task_acquire(report).await {
            Ok(Some(task)) => {
                reachable = true;
                // A PoSt task's size: its sectors' (the vanilla proofs are of the miner's sectors).
                let size = match (&task.sector, &task.input) {
                    (Some(sector), _) => sector.proof.sector_size().ok(),
                    (None, TaskInput::WindowPoSt { post_proof, .. } | TaskInput::WinningPoSt { post_proof, .. }) => {
                        fvm_shared::sector::RegisteredPoStProof::from(*post_proof).sector_size().ok()
                    }
                    (None, _) => None,
                };
                let size = size.map_or(0, |s| s as u64);
                let need = task_needs(task.input.kind(), size, &worker.config.resources);
                worker.running.lock().expect("running lock").push((task.id.clone(), need));
                tokio::spawn(worker.clone().run_task(task));
            }
            Ok(None) => reachable = true,
            Err(error) => {
                if reachable {
                    tracing::warn!(%error, "cannot reach the miner; retrying");
                }
                reachable = false;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
