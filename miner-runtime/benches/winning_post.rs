//! Block production through the daemon against the bare WinningPoSt, in one run on this machine
//! (`cargo bench -p sealstack-miner --bench winning_post`; needs `SEALSTACK_GENERATED_PARAMS`, see
//! scripts/params.sh). A genesis miner with 2 pre-sealed 2KiB sectors on an in-process devnet whose rest of the
//! network holds as much power (the miner wins about 92 % of the rounds), for each block time of
//! `SEALSTACK_BENCH_BLOCK_TIMES` (ms, default 4000 and 6000) and each prover of `SEALSTACK_BENCH_PROVERS`
//! (`daemon`, `worker`: default both), mining `SEALSTACK_BENCH_WINS` blocks (default 8) after a first one:
//!
//! - daemon: `sealstack-miner run` (warm-up on: its WinningPoSt is the daemon's cold one); with `worker`, a
//!   `sealstack-miner worker` with the `WinningPoSt` task beside it, warm (the blocks counted come after the
//!   worker's first SNARK). From the daemon's metrics, over the counted blocks: the mean WinningPoSt (vanilla
//!   proofs and SNARK, wherever made) and the mean time from a new base to the block submitted (base info, two
//!   VRFs through the node's wallet, the WinningPoSt, the messages, the journal, the block made and signed by the
//!   node, and submitted: the node verifies the WinningPoSt before it answers); blocks submitted, included, lost
//!   late, and how many SNARKs the worker made;
//! - bare: `generate_winning_post` of one sector in this process, cold (first call, the parameters read) and
//!   warm (the mean of three more).
//!
//! The runtime's part is (daemon base-to-submitted − bare warm) / bare warm. Writes a Markdown table to stdout.

#[path = "../tests/support/world.rs"]
mod world;

use std::time::{Duration, Instant};

use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_miner::sealing::winning::generate_winning_post;
use sealstack_miner::sealing::{ProvingSector, SEALED_CODEC, SectorFiles, SectorRef, commitment_of};

/// Sum and count of one of the daemon's histograms.
fn histogram(world: &world::World, name: &str) -> (f64, f64) {
    (world.metric(&format!("sealstack_miner_{name}_sum")), world.metric(&format!("sealstack_miner_{name}_count")))
}

/// Mean of a histogram's observations since `before`.
fn mean_since(world: &world::World, name: &str, before: (f64, f64)) -> f64 {
    let (sum, count) = histogram(world, name);
    if count > before.1 { (sum - before.0) / (count - before.1) } else { f64::NAN }
}

/// Polls `check` until it holds (fails after 15 minutes).
async fn until(what: &str, check: impl Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(900);
    while !check() {
        assert!(Instant::now() < give_up, "{what}: not within 15 minutes");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Copies the run's daemon and worker logs to `SEALSTACK_BENCH_LOGS` (a directory), when set, for a breakdown
/// of where the time goes (the hand-off to a worker, its SNARK, the daemon's check).
fn keep_logs(dir: &std::path::Path, block_time: u64, prover: &str) {
    let Some(to) = std::env::var_os("SEALSTACK_BENCH_LOGS").map(std::path::PathBuf::from) else { return };
    std::fs::create_dir_all(&to).unwrap();
    for log in ["daemon.log", "worker.log"] {
        if dir.join(log).exists() {
            std::fs::copy(dir.join(log), to.join(format!("{block_time}-{prover}-{log}"))).unwrap();
        }
    }
}

/// Cold and warm seconds of the bare call over the miner's first sector.
async fn bare(world: &world::World) -> (f64, f64) {
    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let miner = LotusJson(sealstack_chain::json::parse_address(world::GENESIS_MINER).unwrap());
    let on_chain = node.api().state_miner_sectors(miner, None, TipSetKey::head()).await.unwrap();
    let first = &on_chain[0];
    let sector = SectorRef {
        miner: 1000,
        number: first.sector_number,
        proof: fvm_shared::sector::RegisteredSealProof::StackedDRG2KiBV1P1,
    };
    let files = SectorFiles::new(&world.repo().join("storage"), &sector);
    let proving = ProvingSector { sector, files, comm_r: commitment_of(&first.sealed_cid.0, SEALED_CODEC).unwrap() };
    let mut times = Vec::new();
    for round in 0..4u8 {
        let proving = proving.clone();
        let started = Instant::now();
        tokio::task::spawn_blocking(move || generate_winning_post([round; 32], &[proving]).unwrap()).await.unwrap();
        times.push(started.elapsed().as_secs_f64());
    }
    (times[0], times[1..].iter().sum::<f64>() / 3.0)
}

#[tokio::main]
async fn main() {
    let Some(params) = std::env::var_os("SEALSTACK_GENERATED_PARAMS") else {
        println!("winning_post needs SEALSTACK_GENERATED_PARAMS (scripts/params.sh prints the directory)");
        return;
    };
    let params = std::path::PathBuf::from(params);
    // SAFETY: set before any thread of this process reads the environment (the runtime's workers do not).
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let block_times: Vec<u64> = std::env::var("SEALSTACK_BENCH_BLOCK_TIMES")
        .unwrap_or_else(|_| "4000,6000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let wins: f64 = std::env::var("SEALSTACK_BENCH_WINS").ok().and_then(|w| w.parse().ok()).unwrap_or(8.0);
    let provers = std::env::var("SEALSTACK_BENCH_PROVERS").unwrap_or_else(|_| "daemon,worker".into());
    println!(
        "| block time (s) | prover | blocks submitted | included | lost late | by the worker | daemon warm-up (cold, s) | WinningPoSt (s) | base to submitted (s) | bare cold (s) | bare warm (s) | runtime's part |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let runs = block_times.iter().flat_map(|b| provers.split(',').map(move |p| (*b, p.trim().to_string())));
    for (block_time, prover) in runs {
        let dir = tempfile::tempdir().unwrap();
        let options = world::GenesisOptions {
            block_time_ms: block_time,
            challenge_window: 60,
            period_deadlines: 4,
            rest_of_network_power: Some(2 * 2048),
            sector_lifetime_periods: None,
        };
        let mut world = world::World::start_genesis_miners(dir.path(), params.clone(), &options, &[2]).await;
        world.run_args.clear();
        world.run_args.extend(["--block-delay-ms".into(), block_time.to_string()]);
        let daemon = world.daemon("daemon.log", None);
        // A worker finds the daemon through the API file the daemon writes once it serves.
        if prover == "worker" {
            until("the daemon's API file", || world.repo().join("api").exists()).await;
        }
        let worker = (prover == "worker").then(|| world.worker("worker.log", "worker", Some("WinningPoSt"), None));
        let by_worker = |w: &world::World| w.metric("sealstack_miner_winning_posts_total{prover=\"worker\"}");
        let counters = |w: &world::World| {
            [
                "sealstack_miner_blocks_submitted_total",
                "sealstack_miner_blocks_included_total",
                "sealstack_miner_blocks_lost_total{reason=\"late\"}",
            ]
            .map(|name| w.metric(name))
        };
        // The first block (and, with a worker, its first SNARK: its parameters loaded) is not counted.
        until("a first block", || counters(&world)[0] >= 1.0 && (worker.is_none() || by_worker(&world) >= 1.0)).await;
        let (before, by_worker_before) = (counters(&world), by_worker(&world));
        let proof_before = histogram(&world, "winning_post_seconds");
        let production_before = histogram(&world, "block_production_seconds");
        until("the blocks to count", || counters(&world)[0] >= before[0] + wins).await;
        // The last block's epoch closes, and its fate is looked up.
        tokio::time::sleep(Duration::from_millis(block_time * 2)).await;
        let after = counters(&world);
        let [submitted, included, late] = [0, 1, 2].map(|i| after[i] - before[i]);
        let worker_snarks = by_worker(&world) - by_worker_before;
        let warm_up = world.metric("sealstack_miner_winning_post_warmup_seconds");
        let proof = mean_since(&world, "winning_post_seconds", proof_before);
        let production = mean_since(&world, "block_production_seconds", production_before);
        drop((daemon, worker));
        keep_logs(dir.path(), block_time, &prover);
        let (cold, warm) = bare(&world).await;
        println!(
            "| {:.0} | {prover} | {submitted} | {included} | {late} | {worker_snarks} | {warm_up:.3} | {proof:.3} | {production:.3} | {cold:.3} | {warm:.3} | {:+.1} % |",
            block_time as f64 / 1000.0,
            (production - warm) / warm * 100.0
        );
    }
}
