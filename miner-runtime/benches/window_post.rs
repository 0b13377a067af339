//! WindowPoSt of one deadline through the daemon against the bare library call, in one run on this machine
//! (`cargo bench -p sealstack-miner --bench window_post`; needs `SEALSTACK_GENERATED_PARAMS`, see
//! scripts/params.sh). For N pre-sealed 2KiB sectors (default 2, 8 and 32; `SEALSTACK_BENCH_SECTORS=2,8`) of a
//! genesis miner, all in one deadline of N/2 partitions on an in-process devnet:
//!
//! - daemon: `sealstack-miner run` proving the deadline: every sector checked (its files, then a vanilla proof of
//!   the deadline's challenge), the partitions in messages of at most 3, each message's SNARK, each message
//!   pushed; from its metrics, at the deadline's second occurrence (parameters loaded, as a running daemon has
//!   them): the time from the deadline's start to the last push, and the checks' and SNARKs' shares of it;
//! - bare: `generate_window_post` of the same N sectors from their files in one call, in this process (run twice:
//!   the second, with the parameters loaded, is the one compared).
//!
//! Writes a Markdown table to stdout.

#[path = "support/bare_post.rs"]
mod bare_post;
#[path = "../tests/support/world.rs"]
mod world;

use std::time::{Duration, Instant};

/// `sum` of one of the daemon's histograms (`labels` as written in the exposition, or empty).
fn histogram_sum(world: &world::World, name: &str, labels: &str) -> f64 {
    world.metric(&format!("sealstack_miner_{name}_sum{labels} "))
}

#[tokio::main]
async fn main() {
    let Some(params) = std::env::var_os("SEALSTACK_GENERATED_PARAMS") else {
        println!("window_post needs SEALSTACK_GENERATED_PARAMS (scripts/params.sh prints the directory)");
        return;
    };
    let params = std::path::PathBuf::from(params);
    // SAFETY: set before any thread of this process reads the environment (the runtime's workers do not).
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let sizes: Vec<u64> = std::env::var("SEALSTACK_BENCH_SECTORS")
        .unwrap_or_else(|_| "2,8,32".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!(
        "| sectors | partitions | messages | daemon: checks (s) | daemon: SNARKs (s) | daemon: start to last push (s) | bare generate_window_post (s) | daemon / bare | check per sector (ms) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        // Deadlines long enough for 32 sectors on 2 cores: 40 epochs of 500 ms.
        let world = world::World::start_genesis(dir.path(), params.clone(), 500, 40, 4, n).await;
        let partitions = n.div_ceil(2);
        let messages = partitions.div_ceil(3);
        let daemon = world.daemon("daemon.log", None);
        // Two occurrences of the deadline: the first loads the parameters, the second is measured.
        let accepted = |w: &world::World| w.metric("sealstack_miner_window_posts_total{outcome=\"accepted\"}");
        let give_up = Instant::now() + Duration::from_secs(900);
        while accepted(&world) < messages as f64 {
            assert!(Instant::now() < give_up, "the first deadline was not proven: see {}", dir.path().display());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (checks0, snarks0, total0) = (
            histogram_sum(&world, "sector_check_seconds", "{purpose=\"proof\"}"),
            histogram_sum(&world, "window_post_snark_seconds", ""),
            histogram_sum(&world, "window_post_deadline_seconds", ""),
        );
        while accepted(&world) < 2.0 * messages as f64 {
            assert!(Instant::now() < give_up, "the second deadline was not proven: see {}", dir.path().display());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The declaration checks of other deadlines run in between; the deadline's own checks are the last ones.
        let checks = histogram_sum(&world, "sector_check_seconds", "{purpose=\"proof\"}") - checks0;
        let snarks = histogram_sum(&world, "window_post_snark_seconds", "") - snarks0;
        let total = histogram_sum(&world, "window_post_deadline_seconds", "") - total0;
        drop(daemon);
        let bare = bare_post::bare(&world, n).await;
        println!(
            "| {n} | {partitions} | {messages} | {checks:.3} | {snarks:.3} | {total:.3} | {bare:.3} | {:.2} | {:.2} |",
            total / bare,
            checks * 1000.0 / n as f64
        );
    }
}
