//! The scheduler at scale, simulated (`cargo bench -p sealstack-miner --bench scheduler`): 1000 committed-capacity
//! 32GiB sectors pledged at once on (a) 4 PreCommit boxes and 1 Commit2 box, (b) 16 and 4, (c) 64 and 16 (see
//! `daemon::scheduler::simulation` for the shapes, the resource table and the cited stage durations). For each,
//! the daemon's scheduler and a first-come-first-served one seal the same sectors on the same workers; the table
//! gives sectors per day (1000 over the time to the last sector proving) and its ratio to the best any scheduler
//! could do (`makespan_lower_bound`: the busiest resource's work over its capacity, or a task type's whole waves,
//! plus a sector's unavoidable time before and after it). No proof is computed: seconds of this machine's time.
//! `SEALSTACK_BENCH_SECTORS` changes the number of sectors.

use std::time::Instant;

use sealstack_miner::daemon::scheduler::simulation::{
    Policy, StageDurations, WorkerShape, makespan_lower_bound, simulate,
};

fn main() {
    let sectors: usize = std::env::var("SEALSTACK_BENCH_SECTORS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let times = StageDurations::SECTOR_32GIB;
    println!(
        "| workers ({sectors} sectors of 32 GiB) | bound (sectors/day) | sealstack | ratio | first-come-first-served | ratio | sealstack: GPU use, PC1 boxes / C2 boxes | run |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (pre_commit, commit) in [(4, 1), (16, 4), (64, 16)] {
        let shapes = vec![WorkerShape::pre_commit_box(pre_commit), WorkerShape::commit_box(commit)];
        let bound = makespan_lower_bound(&shapes, &times, sectors).expect("one shape per task");
        let best = sectors as f64 * 86_400.0 / bound;
        let started = Instant::now();
        let ours = simulate(&shapes, &times, sectors, Policy::Sealstack);
        let fcfs = simulate(&shapes, &times, sectors, Policy::FirstComeFirstServed);
        let gpu = |i: usize| ours.utilisation[i].1 * 100.0;
        println!(
            "| {pre_commit} PC1 + {commit} C2 | {best:.1} | {:.1} | {:.3} | {:.1} | {:.3} | {:.0} % / {:.0} % | {:.1} s |",
            ours.sectors_per_day(),
            ours.sectors_per_day() / best,
            fcfs.sectors_per_day(),
            fcfs.sectors_per_day() / best,
            gpu(0),
            gpu(1),
            started.elapsed().as_secs_f64(),
        );
    }
}
