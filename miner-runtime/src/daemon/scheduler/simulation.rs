//! A simulation of sealing at scale: the scheduler's own decision code ([`Scheduler::acquire`]) hands out the tasks
//! of many 32GiB sectors to simulated workers, in simulated time, with the resource table of [`task_needs`] and the
//! stage durations of [`StageDurations::SECTOR_32GIB`]; sectors move through their real records
//! ([`SectorRecord::apply`]) and the chain's waits are fixed delays. No proof is computed. The same simulation runs a
//! first-come-first-served scheduler for comparison, and [`makespan_lower_bound`] gives the best any scheduler could
//! do with the same workers. `cargo bench -p sealstack-miner --bench scheduler` prints the table.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::Duration;

use fvm_shared::sector::RegisteredSealProof;
use sealstack_chain::LotusJson;

use super::{Scheduler, task_needs};
use crate::daemon::sectors::{Drawn, SectorRecord, SectorState};
use crate::protocol::{FileStage, HeldSector, Resources, TaskKind, TaskResult, WorkerReport};
use crate::sealing::SectorRef;

const GIB: u64 = 1 << 30;
/// The simulated sectors' size.
pub const SECTOR_SIZE: u64 = 32 * GIB;

/// Seconds each step of a sector takes: its tasks on a worker, and the chain's waits between them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageDurations {
    /// AddPiece (a committed-capacity sector's zeroes).
    pub add_piece: f64,
    /// PreCommit1 (SDR labelling).
    pub pre_commit1: f64,
    /// PreCommit2 (column hashing and trees, GPU).
    pub pre_commit2: f64,
    /// Commit1.
    pub commit1: f64,
    /// Commit2 (the Groth16 seal proof, GPU).
    pub commit2: f64,
    /// Finalize (the sealed file and cache to long-term storage).
    pub finalize: f64,
    /// From PreCommit2's end to its message landing.
    pub pre_commit_landing: f64,
    /// From the PreCommit landing to the seed's epoch (builtin-actors' PreCommitChallengeDelay).
    pub seed_wait: f64,
    /// From Commit2's end to the ProveCommit landing.
    pub prove_commit_landing: f64,
}

impl StageDurations {
    /// A 32GiB sector on current hardware. AddPiece 882 s and PreCommit1 on a CPU with SHA extensions come from
    /// lotus-bench (jimpick's r5ad.12xlarge gist: AddPiece 14m42s; PreCommit1 there took 6h48m without multicore
    /// SDR, and 3 to 4 h is what the lotus-bench threads (lotus#694, #839) report with it: 3.5 h taken); PreCommit2
    /// 775 s is lotus's CUDA PC2 on an RTX A4000 (Lotus docs, "SupraSeal PC2 Setup"); Commit2 900 s is an assumption
    /// for a recent GPU with lotus's bellperson (SupraSeal C2 does it in 2 to 3 minutes); Commit1 a few seconds;
    /// Finalize a 32 GiB copy at about 110 MiB/s. Chain waits: 2 epochs of 30 s for each message to land, and
    /// PreCommitChallengeDelay, 150 epochs. The table is an input: the scheduler's ratio to the bound is the
    /// measurement, not the durations.
    pub const SECTOR_32GIB: Self = StageDurations {
        add_piece: 882.0,
        pre_commit1: 12_600.0,
        pre_commit2: 775.0,
        commit1: 2.0,
        commit2: 900.0,
        finalize: 300.0,
        pre_commit_landing: 60.0,
        seed_wait: 4_500.0,
        prove_commit_landing: 60.0,
    };

    /// How long a task of `kind` runs.
    pub fn task(&self, kind: TaskKind) -> f64 {
        match kind {
            TaskKind::AddPiece => self.add_piece,
            TaskKind::PreCommit1 => self.pre_commit1,
            TaskKind::PreCommit2 => self.pre_commit2,
            TaskKind::Commit1 => self.commit1,
            TaskKind::Commit2 => self.commit2,
            TaskKind::Finalize => self.finalize,
            TaskKind::WindowPoSt | TaskKind::WinningPoSt => 0.0,
        }
    }

    /// A sector's path: its tasks in order, with the chain waits as steps without a task.
    fn path(&self) -> [(Option<TaskKind>, f64); 8] {
        [
            (Some(TaskKind::AddPiece), self.add_piece),
            (Some(TaskKind::PreCommit1), self.pre_commit1),
            (Some(TaskKind::PreCommit2), self.pre_commit2),
            (None, self.pre_commit_landing + self.seed_wait),
            (Some(TaskKind::Commit1), self.commit1),
            (Some(TaskKind::Commit2), self.commit2),
            (None, self.prove_commit_landing),
            (Some(TaskKind::Finalize), self.finalize),
        ]
    }

    /// The time a sector spends on its path before `kind` starts, and after it ends.
    fn around(&self, kind: TaskKind) -> (f64, f64) {
        let path = self.path();
        let at = path.iter().position(|(k, _)| *k == Some(kind)).expect("a sealing task");
        (path[..at].iter().map(|(_, d)| d).sum(), path[at + 1..].iter().map(|(_, d)| d).sum())
    }
}

/// The sealing tasks of a sector, in pipeline order.
fn sealing() -> impl Iterator<Item = TaskKind> {
    TaskKind::ALL.into_iter().filter(|kind| !kind.is_post())
}

/// A kind of worker machine, and how many of them.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerShape {
    /// Its name in the table.
    pub name: &'static str,
    /// How many.
    pub count: usize,
    /// What each has.
    pub resources: Resources,
    /// The tasks each runs.
    pub tasks: Vec<TaskKind>,
}

impl WorkerShape {
    /// A PreCommit box (64 cores, 1 TiB, one GPU for PreCommit2): AddPiece to Commit1 and Finalize, so a sector's
    /// 11 layers never cross the network, as lotus's sealing workers are usually set up.
    pub fn pre_commit_box(count: usize) -> Self {
        WorkerShape {
            name: "PC1 box (64 cores, 1 TiB, 1 GPU)",
            count,
            resources: Resources { cpus: 64, memory_bytes: 1024 * GIB, gpus: 1 },
            tasks: vec![
                TaskKind::AddPiece,
                TaskKind::PreCommit1,
                TaskKind::PreCommit2,
                TaskKind::Commit1,
                TaskKind::Finalize,
            ],
        }
    }

    /// A Commit2 box (32 cores, 1 TiB, 4 GPUs).
    pub fn commit_box(count: usize) -> Self {
        WorkerShape {
            name: "C2 box (32 cores, 1 TiB, 4 GPUs)",
            count,
            resources: Resources { cpus: 32, memory_bytes: 1024 * GIB, gpus: 4 },
            tasks: vec![TaskKind::Commit2],
        }
    }
}

/// Who hands out the tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The daemon's scheduler ([`Scheduler::acquire`]), asked by each worker with room.
    Sealstack,
    /// The oldest ready task to the first worker that runs its type, has room and holds its files.
    FirstComeFirstServed,
}

/// What one run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Sectors sealed.
    pub sectors: usize,
    /// Seconds from the pledge to the last sector proving.
    pub makespan_secs: f64,
    /// Per shape: its name, the share of its GPU-seconds and of its memory-seconds used.
    pub utilisation: Vec<(&'static str, f64, f64)>,
}

impl Outcome {
    /// Sealed sectors per day.
    pub fn sectors_per_day(&self) -> f64 {
        self.sectors as f64 * 86_400.0 / self.makespan_secs
    }
}

/// One kind of resource's amount in [`Resources`].
type Amount = fn(&Resources) -> f64;

/// The least time any scheduler needs to seal `sectors` on `shapes`: for every resource (cores, memory, GPUs of
/// each shape) its total work divided by its capacity, and for every task type its whole tasks in waves of the
/// most that fit at once; each plus the time a sector must spend on its path before the resource can start on it
/// and after it is done with it. Each sealing task must be run by exactly one shape (what makes the bound exact to
/// compute); an `Err` says which is not.
pub fn makespan_lower_bound(shapes: &[WorkerShape], times: &StageDurations, sectors: usize) -> Result<f64, String> {
    let n = sectors as f64;
    let mut shape_of = HashMap::new();
    for kind in sealing() {
        let runners: Vec<usize> = (0..shapes.len()).filter(|i| shapes[*i].tasks.contains(&kind)).collect();
        match runners[..] {
            [one] => shape_of.insert(kind, one),
            _ => return Err(format!("{} must be run by exactly one shape, not {}", kind.as_str(), runners.len())),
        };
    }
    let mut bound: f64 = 0.0;
    for (index, shape) in shapes.iter().enumerate() {
        let kinds: Vec<TaskKind> = sealing().filter(|k| shape_of[k] == index).collect();
        let needs: Vec<(TaskKind, Resources)> =
            kinds.iter().map(|k| (*k, task_needs(*k, SECTOR_SIZE, &shape.resources))).collect();
        let resources: [(Amount, &str); 3] =
            [(|r| f64::from(r.cpus), "cores"), (|r| r.memory_bytes as f64, "memory"), (|r| f64::from(r.gpus), "GPUs")];
        for (amount, what) in resources {
            let using: Vec<&(TaskKind, Resources)> = needs.iter().filter(|(_, need)| amount(need) > 0.0).collect();
            if using.is_empty() {
                continue;
            }
            let capacity = shape.count as f64 * amount(&shape.resources);
            if capacity <= 0.0 {
                return Err(format!("{} has no {what}", shape.name));
            }
            let work: f64 = using.iter().map(|(kind, need)| n * amount(need) * times.task(*kind)).sum();
            let head = using.iter().map(|(kind, _)| times.around(*kind).0).fold(f64::MAX, f64::min);
            let tail = using.iter().map(|(kind, _)| times.around(*kind).1).fold(f64::MAX, f64::min);
            bound = bound.max(head + work / capacity + tail);
        }
        for (kind, need) in &needs {
            let slots = shape.resources.how_many(need) as f64 * shape.count as f64;
            if slots < 1.0 {
                return Err(format!("{} cannot run {}", shape.name, kind.as_str()));
            }
            let (head, tail) = times.around(*kind);
            bound = bound.max(head + (n / slots).ceil() * times.task(*kind) + tail);
        }
    }
    Ok(bound)
}

/// A simulated worker.
struct SimWorker {
    shape: usize,
    report: WorkerReport,
    /// Free resources, as the first-come-first-served policy counts them (the daemon's scheduler counts its own).
    free: Resources,
}

/// Something that happens at a simulated time.
enum Event {
    /// A task ends.
    TaskDone { worker: usize, task: String, kind: TaskKind, sector: u64 },
    /// A sector's chain wait ends.
    ChainDone { sector: u64 },
}

/// The simulation's state.
struct Simulation<'a> {
    times: &'a StageDurations,
    policy: Policy,
    now_ms: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: HashMap<u64, Event>,
    next_event: u64,
    sectors: Vec<SectorRecord>,
    /// When each sector's current need became ready (first-come-first-served order).
    ready_since: Vec<u64>,
    running: HashSet<u64>,
    workers: Vec<SimWorker>,
    scheduler: Scheduler,
    next_task: u64,
    proven: usize,
    gpu_secs: Vec<f64>,
    memory_secs: Vec<f64>,
}

/// Seals `sectors` committed-capacity sectors, pledged at once, on `shapes` with `policy`.
pub fn simulate(shapes: &[WorkerShape], times: &StageDurations, sectors: usize, policy: Policy) -> Outcome {
    let lease = Duration::from_secs(365 * 86_400); // simulated tasks end in microseconds of real time
    let mut scheduler = Scheduler::new(lease);
    scheduler.restart_grace = Duration::ZERO;
    let workers = shapes
        .iter()
        .enumerate()
        .flat_map(|(index, shape)| (0..shape.count).map(move |i| (index, shape, i)))
        .map(|(index, shape, i)| SimWorker {
            shape: index,
            report: WorkerReport {
                id: format!("{index}-{i}"),
                name: format!("{}-{i}", shape.name),
                tasks: shape.tasks.clone(),
                resources: shape.resources,
                free: shape.resources,
                held: Vec::new(),
            },
            free: shape.resources,
        })
        .collect();
    let records = (0..sectors as u64)
        .map(|number| {
            let mut record =
                SectorRecord::new(SectorRef { miner: 1000, number, proof: RegisteredSealProof::StackedDRG32GiBV1P1 });
            record.ticket = Some(Drawn { value: ticket(number), epoch: 1 });
            record
        })
        .collect();
    let mut sim = Simulation {
        times,
        policy,
        now_ms: 0,
        queue: BinaryHeap::new(),
        events: HashMap::new(),
        next_event: 0,
        sectors: records,
        ready_since: vec![0; sectors],
        running: HashSet::new(),
        workers,
        scheduler,
        next_task: 0,
        proven: 0,
        gpu_secs: vec![0.0; shapes.len()],
        memory_secs: vec![0.0; shapes.len()],
    };
    for worker in &sim.workers {
        sim.scheduler.heard_from(worker.report.clone());
    }
    let mut dirty: HashSet<usize> = (0..sim.workers.len()).collect();
    loop {
        sim.dispatch(&dirty);
        dirty.clear();
        let Some(Reverse((at, _))) = sim.queue.peek().copied() else { break };
        while let Some(Reverse((when, id))) = sim.queue.peek().copied() {
            if when != at {
                break;
            }
            sim.queue.pop();
            sim.now_ms = when;
            let event = sim.events.remove(&id).expect("queued");
            sim.handle(event, &mut dirty);
        }
    }
    assert_eq!(sim.proven, sectors, "every sector sealed: the simulation stalled");
    let makespan_secs = sim.now_ms as f64 / 1000.0;
    let utilisation = shapes
        .iter()
        .enumerate()
        .map(|(i, shape)| {
            let share = |used: f64, each: f64| {
                let capacity = each * shape.count as f64 * makespan_secs;
                if capacity > 0.0 { used / capacity } else { 0.0 }
            };
            (
                shape.name,
                share(sim.gpu_secs[i], f64::from(shape.resources.gpus)),
                share(sim.memory_secs[i], shape.resources.memory_bytes as f64),
            )
        })
        .collect();
    Outcome { sectors, makespan_secs, utilisation }
}

/// A sector's ticket (its number in the first bytes).
fn ticket(number: u64) -> [u8; 32] {
    let mut ticket = [0; 32];
    ticket[..8].copy_from_slice(&number.to_le_bytes());
    ticket
}

impl Simulation<'_> {
    fn at(&mut self, after_secs: f64, event: Event) {
        let when = self.now_ms + (after_secs * 1000.0).round() as u64;
        self.next_event += 1;
        self.events.insert(self.next_event, event);
        self.queue.push(Reverse((when, self.next_event)));
    }

    /// The workers that may run the sector's next task: its files' holder, or every worker with the task type.
    fn candidates(&self, sector: u64) -> Vec<usize> {
        let Some(need) = self.sectors[sector as usize].need() else { return Vec::new() };
        if need.files.is_some() {
            return (0..self.workers.len())
                .filter(|w| self.workers[*w].report.held.iter().any(|h| h.number == sector))
                .collect();
        }
        (0..self.workers.len()).filter(|w| self.workers[*w].report.tasks.contains(&need.kind)).collect()
    }

    fn handle(&mut self, event: Event, dirty: &mut HashSet<usize>) {
        let sector = match event {
            Event::TaskDone { worker, task, kind, sector } => {
                self.finish(worker, &task, kind, sector);
                dirty.insert(worker);
                sector
            }
            Event::ChainDone { sector } => {
                let record = &mut self.sectors[sector as usize];
                match record.state {
                    SectorState::WaitSeed => {
                        record.seed = Some(Drawn { value: ticket(sector), epoch: 2 });
                        record.enter(SectorState::Committing, "seed drawn");
                    }
                    SectorState::SubmitCommit => record.enter(SectorState::FinalizeSector, "ProveCommit landed"),
                    state => unreachable!("no chain wait in {state:?}"),
                }
                sector
            }
        };
        let record = &mut self.sectors[sector as usize];
        match record.state {
            SectorState::PreCommitting => {
                record.enter(SectorState::WaitSeed, "PreCommit landed");
                let wait = self.times.pre_commit_landing + self.times.seed_wait;
                self.at(wait, Event::ChainDone { sector });
            }
            SectorState::SubmitCommit => self.at(self.times.prove_commit_landing, Event::ChainDone { sector }),
            SectorState::Proving => self.proven += 1,
            _ => {}
        }
        self.ready_since[sector as usize] = self.now_ms;
        dirty.extend(self.candidates(sector));
    }

    fn finish(&mut self, worker: usize, task: &str, kind: TaskKind, sector: u64) {
        self.running.remove(&sector);
        let sim_worker = &mut self.workers[worker];
        match self.policy {
            Policy::Sealstack => {
                self.scheduler.finish(&sim_worker.report.id, task).expect("a leased task");
            }
            Policy::FirstComeFirstServed => {
                sim_worker.free.give(&task_needs(kind, SECTOR_SIZE, &sim_worker.report.resources));
            }
        }
        let held = &mut sim_worker.report.held;
        let stage = match kind {
            TaskKind::AddPiece => Some(FileStage::Unsealed),
            TaskKind::PreCommit1 => Some(FileStage::PreCommit1),
            TaskKind::PreCommit2 => Some(FileStage::PreCommit2),
            _ => None,
        };
        if let Some(stage) = stage {
            held.retain(|h| h.number != sector);
            let ticket = (stage > FileStage::Unsealed).then(|| LotusJson(ticket(sector).to_vec()));
            held.push(HeldSector { number: sector, stage, ticket });
        }
        if kind == TaskKind::Finalize {
            held.retain(|h| h.number != sector);
        }
        if self.policy == Policy::Sealstack {
            self.scheduler.heard_from(sim_worker.report.clone()); // as a worker reports with its next request
        }
        let number = sector.to_le_bytes()[0];
        let result = match kind {
            TaskKind::AddPiece => TaskResult::AddPiece {
                pieces: vec![filecoin_proofs_api::PieceInfo {
                    commitment: [number; 32],
                    size: filecoin_proofs_api::UnpaddedBytesAmount(SECTOR_SIZE / 128 * 127),
                }],
            },
            TaskKind::PreCommit1 => TaskResult::PreCommit1,
            TaskKind::PreCommit2 => TaskResult::PreCommit2 { comm_r: [number; 32], comm_d: [number; 32] },
            TaskKind::Commit1 => TaskResult::Commit1 { phase1: LotusJson(vec![number]) },
            TaskKind::Commit2 => TaskResult::Commit2 { proof: LotusJson(vec![number]) },
            _ => TaskResult::Finalize,
        };
        self.sectors[sector as usize].apply(kind, result).expect("a simulated result fits");
    }

    fn start(&mut self, worker: usize, task: String, kind: TaskKind, sector: u64) {
        let sim_worker = &self.workers[worker];
        let need = task_needs(kind, SECTOR_SIZE, &sim_worker.report.resources);
        let secs = self.times.task(kind);
        self.gpu_secs[sim_worker.shape] += f64::from(need.gpus) * secs;
        self.memory_secs[sim_worker.shape] += need.memory_bytes as f64 * secs;
        self.running.insert(sector);
        self.at(secs, Event::TaskDone { worker, task, kind, sector });
    }

    fn dispatch(&mut self, dirty: &HashSet<usize>) {
        match self.policy {
            Policy::Sealstack => {
                let mut workers: Vec<usize> = dirty.iter().copied().collect();
                workers.sort_unstable();
                for worker in workers {
                    while let Some(task) =
                        self.scheduler.acquire(&self.workers[worker].report, &self.sectors, SECTOR_SIZE, |_| false)
                    {
                        let sector = task.sector.expect("a sealing task").number;
                        self.start(worker, task.id, task.input.kind(), sector);
                    }
                }
            }
            Policy::FirstComeFirstServed if !dirty.is_empty() => self.dispatch_first_come(),
            Policy::FirstComeFirstServed => {}
        }
    }

    fn dispatch_first_come(&mut self) {
        let mut ready: Vec<u64> = (0..self.sectors.len() as u64)
            .filter(|s| !self.running.contains(s) && self.sectors[*s as usize].need().is_some())
            .collect();
        ready.sort_by_key(|s| (self.ready_since[*s as usize], *s));
        let mut placeless: HashSet<TaskKind> = HashSet::new();
        for sector in ready {
            let need = self.sectors[sector as usize].need().expect("ready");
            if need.files.is_none() && placeless.contains(&need.kind) {
                continue; // no worker has room for this type: the sectors after this one wait too
            }
            let fits = |w: &SimWorker| {
                w.report.tasks.contains(&need.kind)
                    && w.free.fits(&task_needs(need.kind, SECTOR_SIZE, &w.report.resources))
                    && need
                        .files
                        .is_none_or(|files| w.report.held.iter().any(|h| h.number == sector && h.stage >= files))
            };
            let Some(worker) = self.workers.iter().position(fits) else {
                placeless.insert(need.kind);
                continue;
            };
            let sim_worker = &mut self.workers[worker];
            sim_worker.free.take(&task_needs(need.kind, SECTOR_SIZE, &sim_worker.report.resources));
            self.next_task += 1;
            let task = format!("fcfs-{}", self.next_task);
            self.start(worker, task, need.kind, sector);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Vec<WorkerShape> {
        vec![WorkerShape::pre_commit_box(2), WorkerShape::commit_box(1)]
    }

    #[test]
    fn every_sector_is_sealed_within_the_bound_by_both_policies() {
        let times = StageDurations::SECTOR_32GIB;
        let bound = makespan_lower_bound(&small(), &times, 40).unwrap();
        for policy in [Policy::Sealstack, Policy::FirstComeFirstServed] {
            let outcome = simulate(&small(), &times, 40, policy);
            assert_eq!(outcome.sectors, 40);
            assert!(outcome.makespan_secs >= bound, "{policy:?}: {} under the bound {bound}", outcome.makespan_secs);
            let (_, gpu, memory) = outcome.utilisation[0];
            assert!(gpu > 0.0 && gpu <= 1.0 && memory > 0.0 && memory <= 1.0, "{:?}", outcome.utilisation);
        }
    }

    #[test]
    fn one_sector_takes_its_path_and_nothing_more() {
        let times = StageDurations::SECTOR_32GIB;
        let path: f64 = times.path().iter().map(|(_, d)| d).sum();
        assert_eq!(makespan_lower_bound(&small(), &times, 1).unwrap(), path);
        assert_eq!(simulate(&small(), &times, 1, Policy::Sealstack).makespan_secs, path);
    }

    #[test]
    fn sectors_spread_over_the_boxes_and_the_bound_is_reached() {
        // Without the AddPiece admission (`room_for_a_sector`) the first boxes to ask took every sector.
        let shapes = vec![WorkerShape::pre_commit_box(8), WorkerShape::commit_box(2)];
        let times = StageDurations::SECTOR_32GIB;
        let bound = makespan_lower_bound(&shapes, &times, 200).unwrap();
        let ours = simulate(&shapes, &times, 200, Policy::Sealstack);
        let fcfs = simulate(&shapes, &times, 200, Policy::FirstComeFirstServed);
        assert!(bound / ours.makespan_secs >= 0.9, "{} against the bound {bound}", ours.makespan_secs);
        assert!(ours.makespan_secs < fcfs.makespan_secs, "{ours:?} against {fcfs:?}");
    }

    #[test]
    fn the_bound_needs_one_shape_per_task() {
        let shapes = vec![WorkerShape::pre_commit_box(1)];
        let error = makespan_lower_bound(&shapes, &StageDurations::SECTOR_32GIB, 10).unwrap_err();
        assert!(error.contains("Commit2"), "{error}");
    }
}
