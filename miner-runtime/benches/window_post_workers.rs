//! WindowPoSt of one deadline: the daemon alone, against the daemon with two PoSt workers, against the bare library
//! call, in one run on this machine (`cargo bench -p sealstack-miner --bench window_post_workers --profile dev`;
//! needs `SEALSTACK_GENERATED_PARAMS`, see scripts/params.sh). For N pre-sealed 2KiB sectors (default 8 and 32;
//! `SEALSTACK_BENCH_SECTORS=8`) of a genesis miner, all in one deadline of N/2 partitions on an in-process devnet:
//!
//! - (a) daemon alone: `sealstack-miner run` with no worker, proving the deadline itself (checks, vanilla proofs,
//!   the SNARK of each message of at most 3 partitions, one at a time, pushes);
//! - (b) 2 PoSt workers: the daemon restarted on the same repo with `--post-redundancy 1` and two
//!   `sealstack-miner worker --tasks WindowPoSt`: the daemon makes the vanilla proofs and hands each message's
//!   SNARK to one worker, so the two workers make different messages' SNARKs at once, and verifies each answer;
//! - (c) bare: `generate_window_post` of the same N sectors from their files in one call, in this process (run twice:
//!   the second, with the parameters loaded, is the one compared).
//!
//! (a) and (b) are the daemon's `window_post_deadline_seconds`: the time from the start of the deadline's proving to
//! the last message pushed, at the deadline's second occurrence for each (parameters loaded, as a running daemon
//! and running workers have them). A (b) occurrence where the daemon made a SNARK itself (the workers too slow for
//! its give-up epoch) is not taken, up to two more occurrences; the table says who made the SNARKs.
//!
//! The deadlines are `SEALSTACK_BENCH_WINDOW_EPOCHS` epochs of 400 ms (default 75 per 8 sectors): long enough that
//! the workers finish before the daemon's give-up (two thirds of the deadline) on a busy 2-core machine.
//!
//! Writes a Markdown table to stdout, with the load average at the start and the end of each size.

#[path = "support/bare_post.rs"]
mod bare_post;
#[path = "../tests/support/world.rs"]
mod world;

use std::time::{Duration, Instant};

const BLOCK_TIME_MS: u64 = 400;
/// The fewest deadlines per proving period with a deadline open to new sectors: the shortest wait between two
/// occurrences of the sectors' deadline.
const PERIOD_DEADLINES: u64 = 3;
const REDUNDANCY: &str = "1";
const WORKERS: [&str; 2] = ["post-a", "post-b"];

/// The load average over the last minute.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().next().unwrap_or("?").to_string()
}

/// The daemon's counters this bench reads, at one moment.
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    /// Deadlines proven (one observation of `window_post_deadline_seconds` each).
    deadlines: f64,
    /// Their summed start-to-last-push seconds.
    deadline_seconds: f64,
    accepted: f64,
    /// SNARKs the daemon made itself, and their seconds.
    local_snarks: f64,
    local_snark_seconds: f64,
    /// Worker answers used, per worker of [`WORKERS`].
    worker_done: [f64; 2],
}

impl Counters {
    fn read(world: &world::World) -> Self {
        let done =
            |w: &str| world.metric(&format!("sealstack_miner_post_tasks_total{{worker=\"{w}\",outcome=\"done\"}}"));
        Counters {
            deadlines: world.metric("sealstack_miner_window_post_deadline_seconds_count "),
            deadline_seconds: world.metric("sealstack_miner_window_post_deadline_seconds_sum "),
            accepted: world.metric("sealstack_miner_window_posts_total{outcome=\"accepted\"} "),
            local_snarks: world.metric("sealstack_miner_window_post_snark_seconds_count "),
            local_snark_seconds: world.metric("sealstack_miner_window_post_snark_seconds_sum "),
            worker_done: [done(WORKERS[0]), done(WORKERS[1])],
        }
    }

    fn minus(self, before: Counters) -> Counters {
        Counters {
            deadlines: self.deadlines - before.deadlines,
            deadline_seconds: self.deadline_seconds - before.deadline_seconds,
            accepted: self.accepted - before.accepted,
            local_snarks: self.local_snarks - before.local_snarks,
            local_snark_seconds: self.local_snark_seconds - before.local_snark_seconds,
            worker_done: [self.worker_done[0] - before.worker_done[0], self.worker_done[1] - before.worker_done[1]],
        }
    }
}

/// Waits for the next deadline the running daemon proves and returns what it counted for it.
async fn next_deadline(world: &world::World, messages: u64, within: Duration) -> Counters {
    let before = Counters::read(world);
    let give_up = Instant::now() + within;
    loop {
        let now = Counters::read(world);
        if now.deadlines > before.deadlines && now.accepted >= before.accepted + messages as f64 {
            return now.minus(before);
        }
        assert!(Instant::now() < give_up, "no deadline proven within {within:?}: see {}", world.dir.display());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main]
async fn main() {
    let Some(params) = std::env::var_os("SEALSTACK_GENERATED_PARAMS") else {
        println!("window_post_workers needs SEALSTACK_GENERATED_PARAMS (scripts/params.sh prints the directory)");
        return;
    };
    let params = std::path::PathBuf::from(params);
    // SAFETY: set before any thread of this process reads the environment (the runtime's workers do not).
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let sizes: Vec<u64> = std::env::var("SEALSTACK_BENCH_SECTORS")
        .unwrap_or_else(|_| "8,32".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let window_epochs = |n: u64| -> i64 {
        std::env::var("SEALSTACK_BENCH_WINDOW_EPOCHS")
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(75 * n.div_ceil(8) as i64)
    };
    println!(
        "| sectors | partitions | messages | deadline (s) | (a) daemon alone: start to last push (s) | (a) its SNARKs (s) | (b) 2 workers, redundancy {REDUNDANCY}: start to last push (s) | (b) SNARKs by post-a / post-b / daemon | (c) bare generate_window_post (s) | (a) / (c) | (b) / (c) | (b) / (a) | load avg start / end |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let load_start = load();
        let dir = tempfile::tempdir().unwrap();
        let epochs = window_epochs(n);
        let deadline_secs = BLOCK_TIME_MS * epochs as u64 / 1000;
        let period = Duration::from_millis(BLOCK_TIME_MS * epochs as u64 * PERIOD_DEADLINES);
        let world =
            world::World::start_genesis(dir.path(), params.clone(), BLOCK_TIME_MS, epochs, PERIOD_DEADLINES, n).await;
        let partitions = n.div_ceil(2);
        let messages = partitions.div_ceil(3);
        // Slack for a busy machine: a deadline proven late still counts once its messages land.
        let within = period * 2 + Duration::from_secs(300);

        // (a) The daemon alone: the first occurrence loads the parameters, the second is measured.
        let daemon = world.daemon("daemon-alone.log", None);
        next_deadline(&world, messages, within).await;
        let alone = next_deadline(&world, messages, within).await;
        assert_eq!(alone.local_snarks, messages as f64, "the daemon alone made every SNARK");
        eprintln!("[{n}] daemon alone: {alone:?}");
        drop(daemon);

        // (b) The daemon restarted with two PoSt workers; their first occurrence loads their parameters.
        let daemon = world.daemon_with("daemon-workers.log", None, &["--post-redundancy", REDUNDANCY]);
        let workers: Vec<world::Process> =
            WORKERS.iter().map(|w| world.worker(&format!("{w}.log"), w, Some("WindowPoSt"), None)).collect();
        next_deadline(&world, messages, within).await;
        let mut with_workers = next_deadline(&world, messages, within).await;
        for _ in 0..2 {
            if with_workers.local_snarks == 0.0 {
                break;
            }
            eprintln!("[{n}] the daemon made SNARKs itself: another occurrence ({with_workers:?})");
            with_workers = next_deadline(&world, messages, within).await;
        }
        eprintln!("[{n}] 2 workers: {with_workers:?}");
        drop(workers);
        drop(daemon);

        let bare = bare_post::bare(&world, n).await;
        let (a, b) = (alone.deadline_seconds, with_workers.deadline_seconds);
        println!(
            "| {n} | {partitions} | {messages} | {deadline_secs} | {a:.3} | {:.3} | {b:.3} | {} / {} / {} | {bare:.3} | {:.2} | {:.2} | {:.2} | {load_start} / {} |",
            alone.local_snark_seconds,
            with_workers.worker_done[0],
            with_workers.worker_done[1],
            with_workers.local_snarks,
            a / bare,
            b / bare,
            b / a,
            load()
        );
    }
}
