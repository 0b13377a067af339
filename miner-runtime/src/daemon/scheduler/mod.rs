//! The scheduler: hands each sector's next task to a worker that runs that task type, has the resources free and,
//! for the stages that read a sector's files, holds those files.
//!
//! A handed-out task is leased: the worker renews the lease with progress reports, and a task whose lease runs
//! out (a killed worker) is handed out again. Sector files live with the worker that made them; when no live
//! worker holds the files a stage needs (that worker is gone), another worker rebuilds them from AddPiece with the
//! same ticket (sealing is deterministic, and the rebuilt CommR is checked against the recorded one). The leases
//! are in memory only: after a daemon restart the workers report what they hold and unfinished tasks are handed
//! out again.
//!
//! PoSt jobs (a WindowPoSt message's or a won round's WinningPoSt SNARK) come before sealing: each is handed to up
//! to its redundancy of distinct workers with the task type at once, and to another one when a hand-out's lease
//! runs out; the proving code takes the first valid result and drops the job.

pub mod simulation;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sealstack_chain::LotusJson;

use super::sectors::{Need, SectorRecord};
use crate::protocol::{
    Demand, FileStage, HeldSector, PoolWorker, Resources, Task, TaskInput, TaskKind, WorkerReport, WorkerStats,
};

/// Cores a GPU task takes (lotus's `MaxParallelismGPU` for PreCommit2, Commit2 and the PoSts).
const MAX_PARALLELISM_GPU: u32 = 6;

/// What a task needs of a worker, by kind and sector size (after lotus's resource table, scaled for small sectors).
pub fn task_needs(kind: TaskKind, sector_size: u64, worker: &Resources) -> Resources {
    const GIB: u64 = 1 << 30;
    // Memory for a 32GiB sector, as lotus's table has it.
    let memory_32g = match kind {
        TaskKind::AddPiece => 4 * GIB,
        TaskKind::PreCommit1 => 64 * GIB,
        TaskKind::PreCommit2 => 15 * GIB,
        TaskKind::Commit1 => GIB,
        TaskKind::Commit2 => 190 * GIB,
        TaskKind::Finalize => GIB,
        TaskKind::WindowPoSt => 96 * GIB,
        TaskKind::WinningPoSt => GIB,
    };
    let memory_bytes = if sector_size < GIB { 64 << 20 } else { memory_32g * (sector_size.max(GIB) / GIB) / 32 };
    let gpus = u32::from(kind.uses_gpu() && worker.gpus > 0);
    // A task that takes every core takes lotus's MaxParallelismGPU (6) of them where a GPU does the work, so it can
    // run beside PreCommit1s on the same machine.
    let cpus = match (kind.takes_all_cpus(), gpus) {
        (false, _) => 1,
        (true, 0) => worker.cpus.max(1),
        (true, _) => worker.cpus.clamp(1, MAX_PARALLELISM_GPU),
    };
    Resources { cpus, memory_bytes, gpus }
}

/// A worker as last heard from.
struct WorkerEntry {
    report: WorkerReport,
    last_seen: Instant,
}

/// A task handed out.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The worker running it.
    pub worker: String,
    /// The sector of a sealing task; none for a PoSt job's hand-out.
    pub sector: Option<u64>,
    /// The PoSt job of a PoSt hand-out.
    pub job: Option<String>,
    /// The task kind.
    pub kind: TaskKind,
    /// When it was handed out.
    pub started: Instant,
    expires: Instant,
}

/// A PoSt SNARK wanted from workers.
struct PostJob {
    input: TaskInput,
    /// Workers to hand it to at once.
    redundancy: usize,
    /// Workers it was handed to (a worker gets a job once).
    handed: HashSet<String>,
    /// Answers in and being checked: they count as live hand-outs until refused (`answer_refused`), so a job
    /// whose answer turns out valid is not handed to one more worker meanwhile.
    checking: usize,
}

/// The scheduler's state (callers hold it behind a lock).
pub struct Scheduler {
    workers: HashMap<String, WorkerEntry>,
    leases: HashMap<String, Lease>,
    post_jobs: HashMap<String, PostJob>,
    lease: Duration,
    started: Instant,
    /// How long after a start the workers get to report the files they hold before a sector nobody reports is
    /// rebuilt from AddPiece (one lease).
    restart_grace: Duration,
    /// Workers being drained (by name): they finish the sectors whose files they hold and take nothing else.
    draining: HashSet<String>,
    next_id: u64,
    run_id: String,
}

impl Scheduler {
    /// A scheduler whose leases last `lease` without progress; a worker unheard of for that long is gone.
    pub fn new(lease: Duration) -> Self {
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        Scheduler {
            workers: HashMap::new(),
            leases: HashMap::new(),
            post_jobs: HashMap::new(),
            lease,
            started: Instant::now(),
            restart_grace: lease,
            draining: HashSet::new(),
            next_id: 0,
            run_id,
        }
    }

    /// Records a worker's report.
    pub fn heard_from(&mut self, report: WorkerReport) {
        let now = Instant::now();
        self.workers.insert(report.id.clone(), WorkerEntry { report, last_seen: now });
    }

    /// Drops expired leases, returning them (their tasks will be handed out again).
    pub fn expire(&mut self) -> Vec<(String, Lease)> {
        let now = Instant::now();
        let expired: Vec<String> =
            self.leases.iter().filter(|(_, l)| l.expires <= now).map(|(id, _)| id.clone()).collect();
        expired.into_iter().filter_map(|id| self.leases.remove_entry(&id)).collect()
    }

    fn alive(&self, worker: &WorkerEntry) -> bool {
        worker.last_seen.elapsed() < self.lease
    }

    /// How far `worker`'s files of `sector` got, counting only files made with the sector's ticket from
    /// PreCommit1 on.
    fn held(report: &WorkerReport, sector: &SectorRecord) -> Option<FileStage> {
        let held: &HeldSector = report.held.iter().find(|h| h.number == sector.sector.number)?;
        Some(Self::stage(held, sector))
    }

    /// How far the files `held` got, counting only files made with the sector's ticket from PreCommit1 on.
    fn stage(held: &HeldSector, sector: &SectorRecord) -> FileStage {
        let ticket_matches = match (&held.ticket, &sector.ticket) {
            (Some(LotusJson(held)), Some(drawn)) => held.as_slice() == drawn.value.as_slice(),
            _ => false,
        };
        if held.stage > FileStage::Unsealed && !ticket_matches {
            return FileStage::Unsealed;
        }
        held.stage
    }

    /// The furthest stage of each sector's files on the live workers other than the one with id `worker` (one
    /// pass over what the workers hold, rather than one per sector).
    fn held_elsewhere(&self, worker: &str, sectors: &[SectorRecord]) -> HashMap<u64, FileStage> {
        let by_number: HashMap<u64, &SectorRecord> = sectors.iter().map(|s| (s.sector.number, s)).collect();
        let mut best: HashMap<u64, FileStage> = HashMap::new();
        for other in self.workers.values().filter(|w| w.report.id != worker && self.alive(w)) {
            for held in &other.report.held {
                let Some(sector) = by_number.get(&held.number) else { continue };
                let stage = Self::stage(held, sector);
                best.entry(held.number).and_modify(|b| *b = (*b).max(stage)).or_insert(stage);
            }
        }
        best
    }

    /// The task `worker` should run for `sector`, if any: the sector's own next task when the worker holds what it
    /// needs (or it needs no files), else a rebuild step when no live worker holds more of the sector's files.
    fn task_for(
        &self,
        worker: &WorkerReport,
        sector: &SectorRecord,
        need: Need,
        elsewhere: &mut Option<HashMap<u64, FileStage>>,
        sectors: &[SectorRecord],
    ) -> Option<TaskKind> {
        let Some(required) = need.files else { return Some(need.kind) };
        let mine = Self::held(worker, sector);
        if mine >= Some(required) {
            return Some(need.kind);
        }
        let elsewhere = elsewhere.get_or_insert_with(|| self.held_elsewhere(&worker.id, sectors));
        let others_best = elsewhere.get(&sector.sector.number).copied();
        if others_best > mine || others_best >= Some(required) {
            return None; // the files are (further along) elsewhere
        }
        if self.started.elapsed() < self.restart_grace && mine.is_none() {
            return None; // after a restart, give the holders time to report
        }
        Some(match mine {
            None => TaskKind::AddPiece,
            Some(FileStage::Unsealed) => TaskKind::PreCommit1,
            Some(_) => TaskKind::PreCommit2,
        })
    }

    /// The input of a `kind` task for `sector` (rebuild steps use the sector's recorded ticket).
    fn input(kind: TaskKind, sector: &SectorRecord) -> Option<TaskInput> {
        Some(match kind {
            TaskKind::AddPiece => TaskInput::AddPiece,
            TaskKind::PreCommit1 => TaskInput::PreCommit1 { ticket: LotusJson(sector.ticket?.value.to_vec()) },
            TaskKind::PreCommit2 => TaskInput::PreCommit2,
            TaskKind::Commit1 => TaskInput::Commit1 { seed: LotusJson(sector.seed?.value.to_vec()) },
            TaskKind::Commit2 => TaskInput::Commit2 { phase1: sector.commit1.clone()? },
            TaskKind::Finalize => TaskInput::Finalize,
            // PoSt jobs carry their input from the proving code (`add_post_job`); no sector asks for one.
            TaskKind::WindowPoSt | TaskKind::WinningPoSt => return None,
        })
    }

    /// The name a worker reported.
    pub fn worker_name(&self, id: &str) -> Option<String> {
        self.workers.get(id).map(|w| w.report.name.clone())
    }

    /// Live workers that run `kind`.
    pub fn workers_for(&self, kind: TaskKind) -> usize {
        self.workers.values().filter(|w| self.alive(w) && w.report.tasks.contains(&kind)).count()
    }

    /// Adds a PoSt job with `input`, to be handed to up to `redundancy` workers at once; returns its id.
    pub fn add_post_job(&mut self, input: TaskInput, redundancy: usize) -> String {
        self.next_id += 1;
        let id = format!("{}-{}", self.run_id, self.next_id);
        let job = PostJob { input, redundancy: redundancy.max(1), handed: HashSet::new(), checking: 0 };
        self.post_jobs.insert(id.clone(), job);
        id
    }

    /// Stops handing a PoSt job out (the daemon proves it itself from now on); the workers holding a hand-out keep
    /// their leases, renew them and may still answer, until the job is dropped.
    pub fn stop_post_job(&mut self, job: &str) {
        self.post_jobs.remove(job);
    }

    /// Drops a PoSt job (its result is in, or the daemon's) and its leases, returning the workers still holding a
    /// hand-out of it.
    pub fn drop_post_job(&mut self, job: &str) -> Vec<String> {
        self.post_jobs.remove(job);
        let ids: Vec<String> =
            self.leases.iter().filter(|(_, l)| l.job.as_deref() == Some(job)).map(|(id, _)| id.clone()).collect();
        ids.into_iter().filter_map(|id| self.leases.remove(&id)).map(|l| l.worker).collect()
    }

    /// The PoSt job a hand-out (task id) belongs to: `<job>-p<n>-<Kind>`.
    pub fn post_job_of(task: &str) -> Option<&str> {
        let (rest, kind) = task.rsplit_once('-')?;
        TaskKind::ALL.into_iter().find(|k| k.is_post() && k.as_str() == kind)?;
        let (job, handout) = rest.rsplit_once('-')?;
        handout.strip_prefix('p')?.parse::<u64>().ok()?;
        Some(job)
    }

    /// A PoSt job's live hand-outs: its leases, and its answers being checked.
    fn live_handouts(&self, id: &str, job: &PostJob) -> usize {
        self.leases.values().filter(|l| l.job.as_deref() == Some(id)).count() + job.checking
    }

    /// The sectors with a task handed out.
    fn leased_sectors(&self) -> HashSet<u64> {
        self.leases.values().filter_map(|l| l.sector).collect()
    }

    /// A PoSt job's hand-out for `worker`, when one wants it: the worker runs the kind, never got this job,
    /// fewer than the job's redundancy hold a live hand-out, and its free resources fit.
    fn acquire_post(&mut self, worker: &WorkerReport, free: &Resources, sector_size: u64) -> Option<Task> {
        let mut jobs: Vec<&String> = self.post_jobs.keys().collect();
        jobs.sort();
        let mut chosen = None;
        for id in jobs {
            let job = &self.post_jobs[id];
            let kind = job.input.kind();
            if worker.tasks.contains(&kind)
                && !job.handed.contains(&worker.id)
                && self.live_handouts(id, job) < job.redundancy
                && free.fits(&task_needs(kind, sector_size, &worker.resources))
            {
                chosen = Some(id.clone());
                break;
            }
        }
        let id = chosen?;
        let job = self.post_jobs.get_mut(&id).expect("chosen above");
        job.handed.insert(worker.id.clone());
        let (kind, input) = (job.input.kind(), job.input.clone());
        let task_id = format!("{id}-p{}-{}", job.handed.len(), kind.as_str());
        let now = Instant::now();
        let lease = Lease {
            worker: worker.id.clone(),
            sector: None,
            job: Some(id),
            kind,
            started: now,
            expires: now + self.lease,
        };
        self.leases.insert(task_id.clone(), lease);
        Some(Task { id: task_id, sector: None, input })
    }

    /// Picks a task for `worker` among `sectors` (in order) and leases it, or `None`. `sector_size` sizes the
    /// resource needs; `paused` sectors (backing off after a failure) are skipped.
    pub fn acquire(
        &mut self,
        worker: &WorkerReport,
        sectors: &[SectorRecord],
        sector_size: u64,
        paused: impl Fn(u64) -> bool,
    ) -> Option<Task> {
        let mut free = worker.free;
        for lease in self.leases.values().filter(|l| l.worker == worker.id) {
            // Tasks handed out since the worker computed `free`.
            free.take(&task_needs(lease.kind, sector_size, &worker.resources));
        }
        let draining = self.draining.contains(&worker.name);
        if !draining && let Some(task) = self.acquire_post(worker, &free, sector_size) {
            return Some(task);
        }
        let leased = self.leased_sectors();
        let mut elsewhere = None;
        let mut takes_a_sector = None;
        for sector in sectors {
            let number = sector.sector.number;
            if leased.contains(&number) || paused(number) {
                continue;
            }
            let Some(need) = sector.need() else { continue };
            if draining && Self::held(worker, sector).is_none() {
                continue; // a draining worker only finishes what it holds
            }
            let Some(kind) = self.task_for(worker, sector, need, &mut elsewhere, sectors) else { continue };
            if !worker.tasks.contains(&kind) || !free.fits(&task_needs(kind, sector_size, &worker.resources)) {
                continue;
            }
            if kind == TaskKind::AddPiece
                && !*takes_a_sector.get_or_insert_with(|| self.room_for_a_sector(worker, &free, sectors, sector_size))
            {
                continue;
            }
            let Some(input) = Self::input(kind, sector) else { continue };
            self.next_id += 1;
            let id = format!("{}-{}-s{number}-{}", self.run_id, self.next_id, kind.as_str());
            let now = Instant::now();
            let lease = Lease {
                worker: worker.id.clone(),
                sector: Some(number),
                job: None,
                kind,
                started: now,
                expires: now + self.lease,
            };
            self.leases.insert(id.clone(), lease);
            return Some(Task { id, sector: Some(sector.sector), input });
        }
        None
    }

    /// Whether `worker` should take on one more sector (its AddPiece): only while the sectors it is filling or has
    /// filled are fewer than the PreCommit1s it has room to start (at least one). A sector's files stay with the
    /// worker that made them, so a worker that filled more than it can go on with holds them back from the others
    /// (in the simulation of 64 PreCommit boxes, the first boxes to ask took every sector and the others idled).
    fn room_for_a_sector(
        &self,
        worker: &WorkerReport,
        free: &Resources,
        sectors: &[SectorRecord],
        sector_size: u64,
    ) -> bool {
        if !worker.tasks.contains(&TaskKind::PreCommit1) {
            return true;
        }
        let room = free.how_many(&task_needs(TaskKind::PreCommit1, sector_size, &worker.resources)).max(1);
        let mine = self.leases.values().filter(|l| l.worker == worker.id);
        let filling = mine.clone().filter(|l| l.kind == TaskKind::AddPiece).count() as u64;
        let labelling: HashSet<u64> =
            mine.filter(|l| l.kind == TaskKind::PreCommit1).filter_map(|l| l.sector).collect();
        let waiting_for_pc1: HashSet<u64> = sectors
            .iter()
            .filter(|s| s.need().is_some_and(|n| n.kind == TaskKind::PreCommit1))
            .map(|s| s.sector.number)
            .collect();
        let filled = worker
            .held
            .iter()
            .filter(|h| h.stage == FileStage::Unsealed)
            .filter(|h| waiting_for_pc1.contains(&h.number) && !labelling.contains(&h.number))
            .count() as u64;
        filling + filled < room
    }

    /// Renews `worker`'s lease on `task`; `false` when it is not (or no longer) that worker's.
    pub fn renew(&mut self, worker: &str, task: &str) -> bool {
        let now = Instant::now();
        if let Some(entry) = self.workers.get_mut(worker) {
            entry.last_seen = now;
        }
        match self.leases.get_mut(task) {
            Some(lease) if lease.worker == worker => {
                lease.expires = now + self.lease;
                true
            }
            _ => false,
        }
    }

    /// `worker`'s lease on `task`, if it holds it.
    pub fn lease(&self, worker: &str, task: &str) -> Option<Lease> {
        self.leases.get(task).filter(|l| l.worker == worker).cloned()
    }

    /// Ends `worker`'s lease on `task`, returning it (`None` when the lease had expired or is another's).
    pub fn finish(&mut self, worker: &str, task: &str) -> Option<Lease> {
        if self.leases.get(task).is_none_or(|l| l.worker != worker) {
            return None;
        }
        let lease = self.leases.remove(task)?;
        if let Some(job) = lease.job.as_ref().and_then(|job| self.post_jobs.get_mut(job)) {
            job.checking += 1;
        }
        Some(lease)
    }

    /// A PoSt job's answer was checked and refused: its place goes to another worker.
    pub fn answer_refused(&mut self, job: &str) {
        if let Some(job) = self.post_jobs.get_mut(job) {
            job.checking = job.checking.saturating_sub(1);
        }
    }

    /// Marks the worker `name` as draining (it finishes the sectors whose files it holds, takes nothing else) or
    /// not; returns whether that changed anything.
    pub fn set_draining(&mut self, name: &str, drain: bool) -> bool {
        if drain { self.draining.insert(name.to_owned()) } else { self.draining.remove(name) }
    }

    /// What a pool of workers running `tasks` has to do: the tasks waiting that a new worker of the pool could
    /// take (sectors' tasks of those types that need no files, or whose files no live worker holds, and PoSt jobs
    /// short of their redundancy), and each live worker running any of `tasks` with what it holds.
    pub fn demand(&self, tasks: &[TaskKind], sectors: &[SectorRecord], paused: impl Fn(u64) -> bool) -> Demand {
        let leased = self.leased_sectors();
        let held = self.held_elsewhere("", sectors); // every live worker: none has an empty id
        let sector_tasks = sectors
            .iter()
            .filter(|s| !leased.contains(&s.sector.number) && !paused(s.sector.number))
            .filter_map(|s| s.need().map(|need| (s.sector.number, need)))
            .filter(|(number, need)| tasks.contains(&need.kind) && (need.files.is_none() || !held.contains_key(number)))
            .count();
        let post_jobs = self
            .post_jobs
            .iter()
            .filter(|(_, job)| tasks.contains(&job.input.kind()))
            .filter(|(id, job)| self.live_handouts(id, job) < job.redundancy)
            .count();
        let workers = self
            .workers
            .values()
            .filter(|w| self.alive(w) && w.report.tasks.iter().any(|t| tasks.contains(t)))
            .map(|w| PoolWorker {
                name: w.report.name.clone(),
                running: self.leases.values().filter(|l| l.worker == w.report.id).count() as u32,
                holds: w.report.held.len() as u32,
                draining: self.draining.contains(&w.report.name),
            })
            .collect();
        Demand { waiting: (sector_tasks + post_jobs) as u32, workers }
    }

    /// The live workers, for `WorkerStats` and metrics.
    pub fn stats(&self) -> HashMap<String, WorkerStats> {
        self.workers
            .iter()
            .filter(|(_, w)| self.alive(w))
            .map(|(id, w)| {
                let running = self.leases.iter().filter(|(_, l)| &l.worker == id).map(|(t, _)| t.clone()).collect();
                let stats = WorkerStats {
                    name: w.report.name.clone(),
                    tasks: w.report.tasks.clone(),
                    resources: w.report.resources,
                    free: w.report.free,
                    running,
                    last_seen_secs: w.last_seen.elapsed().as_secs(),
                };
                (id.clone(), stats)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::sectors::{Drawn, SectorState};
    use crate::sealing::SectorRef;
    use fvm_shared::sector::RegisteredSealProof;

    const SIZE: u64 = 2048;

    fn sector(number: u64, state: SectorState) -> SectorRecord {
        let mut record =
            SectorRecord::new(SectorRef { miner: 1000, number, proof: RegisteredSealProof::StackedDRG2KiBV1P1 });
        record.state = state;
        record.ticket = Some(Drawn { value: [1; 32], epoch: 3 });
        record
    }

    fn worker(id: &str, tasks: &[TaskKind], held: &[(u64, FileStage)]) -> WorkerReport {
        let resources = Resources { cpus: 2, memory_bytes: 8 << 30, gpus: 0 };
        WorkerReport {
            id: id.into(),
            name: id.into(),
            tasks: tasks.to_vec(),
            resources,
            free: resources,
            held: held
                .iter()
                .map(|&(number, stage)| HeldSector { number, stage, ticket: Some(LotusJson(vec![1; 32])) })
                .collect(),
        }
    }

    fn settled(lease: Duration) -> Scheduler {
        let mut scheduler = Scheduler::new(lease);
        scheduler.started -= lease; // past the restart grace
        scheduler
    }

    #[test]
    fn needs_scale_with_the_sector_and_take_gpus_only_where_useful() {
        let gpu_worker = Resources { cpus: 16, memory_bytes: 256 << 30, gpus: 1 };
        let c2 = task_needs(TaskKind::Commit2, 32 << 30, &gpu_worker);
        assert_eq!(c2, Resources { cpus: 6, memory_bytes: 190 << 30, gpus: 1 }, "lotus's MaxParallelismGPU");
        assert_eq!(task_needs(TaskKind::PreCommit1, 64 << 30, &gpu_worker).memory_bytes, 128 << 30);
        assert_eq!(
            task_needs(TaskKind::PreCommit1, 2048, &gpu_worker),
            Resources { cpus: 1, memory_bytes: 64 << 20, gpus: 0 }
        );
        assert_eq!(task_needs(TaskKind::Commit2, 2048, &Resources { cpus: 2, memory_bytes: 0, gpus: 0 }).gpus, 0);
    }

    #[test]
    fn tasks_go_to_workers_with_the_type_and_the_files() {
        let mut s = settled(Duration::from_secs(30));
        let sectors = [sector(0, SectorState::PreCommit2), sector(1, SectorState::Packing)];
        let holder = worker("a", &TaskKind::ALL, &[(0, FileStage::PreCommit1)]);
        let other = worker("b", &TaskKind::ALL, &[]);
        s.heard_from(holder.clone());
        s.heard_from(other.clone());
        // The other worker cannot take sector 0's PreCommit2 (the files are on "a"): it gets sector 1's AddPiece.
        let task = s.acquire(&other, &sectors, SIZE, |_| false).unwrap();
        assert_eq!((task.sector.unwrap().number, task.input.kind()), (1, TaskKind::AddPiece));
        let task = s.acquire(&holder, &sectors, SIZE, |_| false).unwrap();
        assert_eq!((task.sector.unwrap().number, task.input.kind()), (0, TaskKind::PreCommit2));
        // Both sectors are leased now.
        assert!(s.acquire(&other, &sectors, SIZE, |_| false).is_none());
        assert!(s.renew("a", &task.id));
        assert!(!s.renew("b", &task.id), "not b's task");
        assert_eq!(s.finish("a", &task.id).unwrap().kind, TaskKind::PreCommit2);
        assert!(s.finish("a", &task.id).is_none(), "finished once");
    }

    #[test]
    fn a_worker_without_the_task_type_or_resources_gets_nothing() {
        let mut s = settled(Duration::from_secs(30));
        let sectors = [sector(0, SectorState::Packing)];
        let sealer = worker("c2-only", &[TaskKind::Commit2], &[]);
        assert!(s.acquire(&sealer, &sectors, SIZE, |_| false).is_none());
        let mut busy = worker("busy", &TaskKind::ALL, &[]);
        busy.free = Resources::default();
        assert!(s.acquire(&busy, &sectors, SIZE, |_| false).is_none());
        assert!(s.acquire(&worker("x", &TaskKind::ALL, &[]), &sectors, SIZE, |n| n == 0).is_none(), "paused");
    }

    #[test]
    fn an_expired_lease_frees_the_task_and_a_gone_holder_means_a_rebuild() {
        let lease = Duration::from_millis(50);
        let mut s = settled(lease);
        let sectors = [sector(0, SectorState::FinalizeSector)];
        let holder = worker("a", &TaskKind::ALL, &[(0, FileStage::PreCommit2)]);
        s.heard_from(holder.clone());
        let task = s.acquire(&holder, &sectors, SIZE, |_| false).unwrap();
        assert_eq!(task.input, TaskInput::Finalize);
        let fresh = worker("b", &TaskKind::ALL, &[]);
        s.heard_from(fresh.clone());
        assert!(s.acquire(&fresh, &sectors, SIZE, |_| false).is_none(), "leased to a");
        std::thread::sleep(lease * 2);
        assert_eq!(s.expire().len(), 1);
        // "a" is gone: "b" rebuilds the files, step by step, with the recorded ticket.
        s.heard_from(fresh.clone());
        assert_eq!(s.acquire(&fresh, &sectors, SIZE, |_| false).unwrap().input, TaskInput::AddPiece);
        s.expire();
        s.leases.clear();
        let unsealed = worker("b", &TaskKind::ALL, &[(0, FileStage::Unsealed)]);
        s.heard_from(unsealed.clone());
        let pc1 = s.acquire(&unsealed, &sectors, SIZE, |_| false).unwrap();
        assert_eq!(pc1.input, TaskInput::PreCommit1 { ticket: LotusJson(vec![1; 32]) });
    }

    #[test]
    fn post_jobs_go_first_to_as_many_post_workers_as_their_redundancy_each_once() {
        let mut s = settled(Duration::from_secs(30));
        let sectors = [sector(0, SectorState::Packing)];
        let input = TaskInput::WindowPoSt {
            post_proof: 10,
            randomness: LotusJson(vec![7; 32]),
            miner: 1000,
            vanilla: Vec::new(),
        };
        let job = s.add_post_job(input.clone(), 2);
        let (a, b, c) = (
            worker("a", &TaskKind::ALL, &[]),
            worker("b", &[TaskKind::WindowPoSt], &[]),
            worker("c", &TaskKind::ALL, &[]),
        );
        let sealer = worker("sealer", &[TaskKind::AddPiece], &[]);
        for w in [&a, &b, &c, &sealer] {
            s.heard_from(w.clone());
        }
        assert_eq!(s.workers_for(TaskKind::WindowPoSt), 3);
        // The job before sealing: a (which could also seal) gets it, and its SNARK takes all its cores.
        let first = s.acquire(&a, &sectors, SIZE, |_| false).unwrap();
        assert_eq!((first.input.clone(), first.sector), (input.clone(), None));
        assert_eq!(Scheduler::post_job_of(&first.id), Some(job.as_str()));
        assert_eq!(s.acquire(&a, &sectors, SIZE, |_| false), None, "a is busy with the SNARK");
        // A worker without the task type seals as before.
        let sealing = s.acquire(&sealer, &sectors, SIZE, |_| false).unwrap();
        assert_eq!((sealing.input, sealing.sector.map(|s| s.number)), (TaskInput::AddPiece, Some(0)));
        // A second hand-out to b; c waits: the job's redundancy is reached and the sector is leased.
        let second = s.acquire(&b, &sectors, SIZE, |_| false).unwrap();
        assert_eq!((second.input.clone(), Scheduler::post_job_of(&second.id)), (input.clone(), Some(job.as_str())));
        assert_ne!(second.id, first.id);
        assert_eq!(s.acquire(&c, &sectors, SIZE, |_| false), None);
        // a answers: while its answer is checked, nobody takes its place (a valid one settles the job).
        assert!(s.finish("a", &first.id).is_some());
        assert_eq!(s.acquire(&c, &sectors, SIZE, |_| false), None, "a's answer is being checked");
        // A wrong proof: the job is still open, so c takes a's place; a never gets it twice.
        s.answer_refused(&job);
        let third = s.acquire(&c, &sectors, SIZE, |_| false).unwrap();
        assert_eq!(third.input, input);
        assert_eq!(s.acquire(&a, &sectors, SIZE, |_| false), None, "a had the job once; the sector is leased");
        // The daemon proves it itself: no more hand-outs, but b and c still hold theirs (and may answer).
        s.stop_post_job(&job);
        assert!(s.renew("b", &second.id) && s.renew("c", &third.id), "the running hand-outs keep their leases");
        // Dropped once settled: its live hand-outs (b's and c's) go with it, the sealing lease stays.
        let mut holders = s.drop_post_job(&job);
        holders.sort();
        assert_eq!(holders, ["b", "c"]);

        assert!(s.lease("sealer", &sealing.id).is_some());
        assert_eq!(s.acquire(&b, &sectors, SIZE, |_| false), None, "no job left for a PoSt-only worker");
    }

    #[test]
    fn post_hand_outs_are_told_from_sealing_tasks_by_their_id() {
        assert_eq!(Scheduler::post_job_of("ab12cd34-7-p2-WindowPoSt"), Some("ab12cd34-7"));
        assert_eq!(Scheduler::post_job_of("ab12cd34-7-s3-PreCommit1"), None, "sealing tasks belong to no job");
        assert_eq!(Scheduler::post_job_of("ab12cd34-7-p2-Commit2"), None);
        assert_eq!(Scheduler::post_job_of("ab12cd34-7-px-WindowPoSt"), None);
        assert_eq!(Scheduler::post_job_of("WindowPoSt"), None);
    }

    #[test]
    fn files_made_with_another_ticket_count_as_unsealed_only() {
        let s = settled(Duration::from_secs(30));
        let record = sector(0, SectorState::PreCommit2);
        let mut report = worker("a", &TaskKind::ALL, &[(0, FileStage::PreCommit1)]);
        report.held[0].ticket = Some(LotusJson(vec![2; 32]));
        assert_eq!(Scheduler::held(&report, &record), Some(FileStage::Unsealed));
        let need = record.need().unwrap();
        let sectors = [record.clone()];
        assert_eq!(s.task_for(&report, &record, need, &mut None, &sectors), Some(TaskKind::PreCommit1));
    }
}
