//! Block production through the daemon against the bare WinningPoSt, in one run on this machine
//! (`cargo bench -p sealstack-miner --bench winning_post`; needs `SEALSTACK_GENERATED_PARAMS`, see
//! scripts/params.sh). A genesis miner with 2 pre-sealed 2KiB sectors on an in-process devnet whose rest of the
//! network holds as much power (the miner wins about 92 % of the rounds), for each block time of
//! `SEALSTACK_BENCH_BLOCK_TIMES` (ms, default 4000 and 6000), mining `SEALSTACK_BENCH_WINS` blocks (default 8):
//!
//! - daemon: `sealstack-miner run` (warm-up on: its WinningPoSt is the daemon's cold one): from its metrics, the
//!   mean WinningPoSt (vanilla proofs and SNARK)
//!   and the mean time from a new base to the block submitted (base info, two VRFs through the node's wallet,
//!   the WinningPoSt, the messages, the journal, the block made and signed by the node, and submitted: the node
//!   verifies the WinningPoSt before it answers); blocks submitted, included and lost late;
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

/// Mean of one of the daemon's histograms.
fn mean(world: &world::World, name: &str) -> f64 {
    let sum = world.metric(&format!("sealstack_miner_{name}_sum"));
    let count = world.metric(&format!("sealstack_miner_{name}_count"));
    if count > 0.0 { sum / count } else { f64::NAN }
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
    println!(
        "| block time (s) | blocks submitted | included | lost late | daemon warm-up (cold, s) | daemon WinningPoSt (s) | daemon base to submitted (s) | bare cold (s) | bare warm (s) | runtime's part |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for block_time in block_times {
        let dir = tempfile::tempdir().unwrap();
        let options = world::GenesisOptions {
            block_time_ms: block_time,
            challenge_window: 60,
            period_deadlines: 4,
            rest_of_network_power: Some(2 * 2048),
        };
        let mut world = world::World::start_genesis_miners(dir.path(), params.clone(), &options, &[2]).await;
        world.run_args.clear();
        world.run_args.extend(["--block-delay-ms".into(), block_time.to_string()]);
        let daemon = world.daemon("daemon.log", None);
        let submitted = |w: &world::World| w.metric("sealstack_miner_blocks_submitted_total");
        let give_up = Instant::now() + Duration::from_secs(900);
        while submitted(&world) < wins {
            assert!(Instant::now() < give_up, "too few blocks: see {}", dir.path().display());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // The last block's epoch closes, and its fate is looked up.
        tokio::time::sleep(Duration::from_millis(block_time * 2)).await;
        let submitted = submitted(&world);
        let included = world.metric("sealstack_miner_blocks_included_total");
        let warm_up = world.metric("sealstack_miner_winning_post_warmup_seconds");
        let late = world.metric("sealstack_miner_blocks_lost_total{reason=\"late\"}");
        let proof = mean(&world, "winning_post_seconds");
        let production = mean(&world, "block_production_seconds");
        drop(daemon);
        let (cold, warm) = bare(&world).await;
        println!(
            "| {:.0} | {submitted} | {included} | {late} | {warm_up:.3} | {proof:.3} | {production:.3} | {cold:.3} | {warm:.3} | {:+.1} % |",
            block_time as f64 / 1000.0,
            (production - warm) / warm * 100.0
        );
    }
}
