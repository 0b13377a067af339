//! The sealing pipeline through the runtime against the bare library, in one run on this machine
//! (`cargo bench -p sealstack-miner --bench pipeline`; needs `SEALSTACK_GENERATED_PARAMS`, see scripts/params.sh).
//!
//! - bare: AddPiece, PreCommit1, PreCommit2, Commit1 and Commit2 of two 2KiB CC sectors called in this process
//!   (the first Commit2 loads the parameters: cold; the second finds them in the library's cache: warm);
//! - runtime: the same two sectors pledged one after the other to a `sealstack-miner run` daemon with one
//!   `worker` process on a devnet; per stage, the daemon's task duration (hand-out to result: RPC, scheduling,
//!   JSON of the outputs and the stage itself). The chain's waits (message inclusion, the seed delay) are not
//!   sealing work and are reported apart, as the wall time from pledge to Proving.
//!
//! Writes a Markdown table to stdout.

#[path = "../tests/support/world.rs"]
mod world;

use std::time::{Duration, Instant};

use sealstack_miner::protocol::{MinerApiClient, TaskKind};
use sealstack_miner::sealing::{self, SectorFiles, SectorRef};
use sealstack_miner::worker::miner_client;

const STAGES: [TaskKind; 5] =
    [TaskKind::AddPiece, TaskKind::PreCommit1, TaskKind::PreCommit2, TaskKind::Commit1, TaskKind::Commit2];

/// Seconds of each stage of one sector sealed with the library in this process.
fn bare_sector(root: &std::path::Path, number: u64) -> Vec<f64> {
    let sector = SectorRef { miner: 1000, number, proof: fvm_shared::sector::RegisteredSealProof::StackedDRG2KiBV1P1 };
    let files = SectorFiles::new(root, &sector);
    let (ticket, seed) = ([3; 32], [5; 32]);
    let mut times = Vec::new();
    let mut timed = |f: &mut dyn FnMut()| {
        let started = Instant::now();
        f();
        times.push(started.elapsed().as_secs_f64());
    };
    let mut pieces = Vec::new();
    timed(&mut || pieces = vec![sealing::add_piece_cc(&sector, &files).unwrap()]);
    let mut phase1 = None;
    timed(&mut || phase1 = Some(sealing::precommit1(&sector, &files, ticket, &pieces).unwrap()));
    let mut commitments = None;
    timed(&mut || commitments = Some(sealing::precommit2(&sector, &files, phase1.as_ref().unwrap()).unwrap()));
    let mut c1 = None;
    timed(&mut || {
        c1 = Some(sealing::commit1(&sector, &files, ticket, seed, commitments.as_ref().unwrap(), &pieces).unwrap())
    });
    timed(&mut || {
        sealing::commit2(&sector, c1.as_ref().unwrap()).unwrap();
    });
    times
}

/// `sum` and `count` of the daemon's task duration histogram for `kind`.
fn task_seconds(world: &world::World, kind: TaskKind) -> (f64, f64) {
    let name = |suffix: &str| format!("sealstack_miner_task_duration_seconds_{suffix}{{task=\"{}\"}}", kind.as_str());
    (world.metric(&name("sum")), world.metric(&name("count")))
}

#[tokio::main]
async fn main() {
    let Some(params) = std::env::var_os("SEALSTACK_GENERATED_PARAMS") else {
        eprintln!("SEALSTACK_GENERATED_PARAMS is not set: run `scripts/params.sh 2KiB` and point it at the directory");
        std::process::exit(2);
    };
    // SAFETY: set before any other thread reads the environment (the proofs library reads it once).
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let dir = tempfile::tempdir().unwrap();

    let bare_root = dir.path().join("bare");
    let bare: Vec<Vec<f64>> = (0..2).map(|n| bare_sector(&bare_root, n)).collect();

    let (mut world, _actor) = world::World::start(dir.path(), params.into(), 250, 40).await;
    // Leases long enough that a loaded machine never hands a running task out twice.
    world.lease_secs = 60;
    let _daemon = world.daemon("daemon.log", None);
    let _worker = world.worker("worker.log", "scratch", None, None);
    let client = miner_client(&world.miner_api(), Duration::from_secs(10)).unwrap();
    let mut runtime = Vec::new();
    let mut walls = Vec::new();
    let mut task_runs = Vec::new();
    for number in 0..2u64 {
        let before: Vec<(f64, f64)> = STAGES.iter().map(|&k| task_seconds(&world, k)).collect();
        let started = Instant::now();
        assert_eq!(client.sector_pledge().await.unwrap().number, number);
        world.wait_sector_state(number, &["Proving"], Duration::from_secs(1200)).await;
        walls.push(started.elapsed().as_secs_f64());
        let after: Vec<(f64, f64)> = STAGES.iter().map(|&k| task_seconds(&world, k)).collect();
        let times: Vec<f64> = before.iter().zip(&after).map(|(b, a)| a.0 - b.0).collect();
        // A task handed out again (a lease that ran out on a loaded machine) counts with all its runs.
        let runs: Vec<f64> = before.iter().zip(&after).map(|(b, a)| a.1 - b.1).collect();
        runtime.push(times);
        task_runs.push(runs);
    }

    println!("| stage | bare, sector 0 (s) | runtime, sector 0 (s) | bare, sector 1 (s) | runtime, sector 1 (s) |");
    println!("|---|---|---|---|---|");
    for (i, kind) in STAGES.iter().enumerate() {
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            kind.as_str(),
            bare[0][i],
            runtime[0][i],
            bare[1][i],
            runtime[1][i]
        );
    }
    for (n, runs) in task_runs.iter().enumerate() {
        if runs.iter().any(|r| *r != 1.0) {
            println!("\nsector {n}: task runs per stage {runs:?} (a lease ran out and the task was handed out again)");
        }
    }
    let total = |t: &Vec<f64>| t.iter().sum::<f64>();
    println!(
        "| **sealing total** | {:.3} | {:.3} | {:.3} | {:.3} |",
        total(&bare[0]),
        total(&runtime[0]),
        total(&bare[1]),
        total(&runtime[1])
    );
    for n in 0..2 {
        println!(
            "\nsector {n}: runtime / bare = {:.3} (overhead {:+.1} %); wall time pledge -> Proving {:.1} s (chain waits included)",
            total(&runtime[n]) / total(&bare[n]),
            (total(&runtime[n]) / total(&bare[n]) - 1.0) * 100.0,
            walls[n]
        );
    }
    println!(
        "Commit2 cold -> warm: bare {:.3} -> {:.3} s, worker {:.3} -> {:.3} s (the worker process keeps the parameters loaded)",
        bare[0][4], bare[1][4], runtime[0][4], runtime[1][4]
    );
}
