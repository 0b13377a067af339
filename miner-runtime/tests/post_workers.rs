//! WindowPoSt on PoSt workers, with real proofs on an in-process devnet: the genesis miner of `proving.rs` (8
//! pre-sealed 2KiB sectors in one deadline of 4 partitions, proven in 2 SubmitWindowedPoSt messages) run with
//! `--post-redundancy 2` and SealingWorkers that run only `WindowPoSt`:
//! 1. two PoSt workers: a deadline's SNARKs are made on them (the same SNARK on both at once), the first valid
//!    answer of each message sent, the others counted late; the daemon makes none itself;
//! 2. one of them answers corrupted proofs (`SEALSTACK_CORRUPT_POST=1`): its answers are dropped (counted
//!    failed) and the good worker's sent; the deadline keeps its power;
//! 3. both workers die on the SNARK they hold (`SEALSTACK_CRASH_IN_TASK=WindowPoSt`): the daemon sees no PoSt
//!    worker left and proves the deadline itself before it closes.
//!
//! Needs the parameters `scripts/params.sh` generates once per machine (`SEALSTACK_GENERATED_PARAMS`).

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use std::time::{Duration, Instant};

use fvm_shared::address::Address;
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use world::{GENESIS_MINER, Keep, World};

/// 30-second deadlines (75 epochs of 400 ms) in a proving period of 3 (the fewest with a deadline open to new
/// sectors): two workers making the same SNARKs at once on a busy 2-core machine take several times as long as one
/// (a pool of GPU nodes would not share one).
const BLOCK_TIME_MS: u64 = 400;
const CHALLENGE_WINDOW: i64 = 75;
const PERIOD_DEADLINES: u64 = 3;
const SECTORS: u64 = 8;
const SECTOR_BYTES: u64 = 2048;
/// SubmitWindowedPoSt messages per proof of the sectors' deadline (3 partitions, then 1).
const MESSAGES: f64 = 2.0;

/// The daemon's counters this test reads, at one moment.
#[derive(Clone, Copy, Debug)]
struct Counters {
    accepted: f64,
    local_snarks: f64,
}

struct Chain<'a> {
    node: Node,
    miner: LotusJson<Address>,
    world: &'a World,
    /// The deadline holding the sectors.
    deadline: u64,
}

impl Chain<'_> {
    async fn power(&self) -> u64 {
        let power = self.node.api().state_miner_power(self.miner.clone(), TipSetKey::head()).await.unwrap();
        power.miner_power.raw_byte_power.parse().unwrap()
    }

    async fn faults(&self) -> u64 {
        self.node.api().state_miner_faults(self.miner.clone(), TipSetKey::head()).await.unwrap().count()
    }

    async fn current_deadline(&self) -> u64 {
        self.node.api().state_miner_proving_deadline(self.miner.clone(), TipSetKey::head()).await.unwrap().index
    }

    fn post_tasks(&self, worker: &str, outcome: &str) -> f64 {
        self.world.metric(&format!("sealstack_miner_post_tasks_total{{worker=\"{worker}\",outcome=\"{outcome}\"}}"))
    }

    fn counters(&self) -> Counters {
        Counters {
            accepted: self.world.metric("sealstack_miner_window_posts_total{outcome=\"accepted\"}"),
            local_snarks: self.world.metric("sealstack_miner_window_post_snark_seconds_count"),
        }
    }

    /// Polls `check` until it holds, failing with `what` after `within`.
    async fn until<F, Fut>(&self, what: &str, within: Duration, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        world::until(what, within, check).await
    }

    /// Waits for a moment outside the sectors' deadline, then takes the counters and waits until that deadline
    /// opened, closed and both its messages were accepted; returns the counters taken before.
    async fn one_deadline(&self, period: Duration) -> Counters {
        self.until("outside the sectors' deadline", period, || async {
            self.current_deadline().await != self.deadline
        })
        .await;
        let before = self.counters();
        self.until("the sectors' deadline opens", period, || async { self.current_deadline().await == self.deadline })
            .await;
        self.until("the sectors' deadline closes", period, || async { self.current_deadline().await != self.deadline })
            .await;
        self.until("both messages of the deadline accepted", period / 4, || async {
            self.counters().accepted >= before.accepted + MESSAGES
        })
        .await;
        assert_eq!(self.faults().await, 0, "no sector faulted");
        assert_eq!(self.power().await, SECTORS * SECTOR_BYTES, "the deadline kept its power");
        before
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn window_post_snarks_are_made_on_redundant_workers_and_by_the_daemon_when_they_are_lost() {
    let Some(params) = generated::generated_dir() else { return };
    // SAFETY: the in-process devnet verifies proofs with these parameters; the proofs library reads the variable
    // once per process. This is the only test of this binary and no other thread exists yet.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let started = Instant::now();
    let elapsed = move || format!("{:.1}s", started.elapsed().as_secs_f64());
    let dir = Keep(tempfile::tempdir().unwrap());
    let world =
        World::start_genesis(dir.path(), params, BLOCK_TIME_MS, CHALLENGE_WINDOW, PERIOD_DEADLINES, SECTORS).await;
    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let miner = LotusJson(sealstack_chain::json::parse_address(GENESIS_MINER).unwrap());
    let location = node.api().state_sector_partition(miner.clone(), 0, TipSetKey::head()).await.unwrap().unwrap();
    let chain = Chain { node, miner, world: &world, deadline: location.deadline };
    let period = Duration::from_millis(BLOCK_TIME_MS * CHALLENGE_WINDOW as u64 * PERIOD_DEADLINES);
    let daemon = world.daemon_with("daemon.log", None, &["--post-redundancy", "2"]);
    let post = Some("WindowPoSt");

    // 1. Two PoSt workers. The first deadlines may find them connecting or loading their parameters, and a busy
    // machine may make them too slow (the daemon then proves in their place, as it must): a deadline proven by
    // the workers alone comes within a few.
    let a = world.worker("post-a.log", "post-a", post, None);
    let b = world.worker("post-b.log", "post-b", post, None);
    let answers = |outcome: &str| chain.post_tasks("post-a", outcome) + chain.post_tasks("post-b", outcome);
    for tries in 1.. {
        let (done, late) = (answers("done"), answers("late"));
        let before = chain.one_deadline(period).await;
        let (used, local) = (answers("done") - done, chain.counters().local_snarks - before.local_snarks);
        eprintln!("[{}] deadline proven: {used} worker answers used, {local} SNARKs by the daemon", elapsed());
        if used == MESSAGES && local == 0.0 {
            // Each SNARK went to both workers: the slower one's answer comes late and is dropped.
            chain.until("the redundant answers counted late", period / 4, || async { answers("late") > late }).await;
            break;
        }
        assert!(tries < 4, "no deadline proven by the workers alone in {tries}");
    }
    assert_eq!(answers("failed"), 0.0, "no wrong answer from good workers");
    eprintln!("[{}] proven on 2 workers: {} answers used, {} late", elapsed(), answers("done"), answers("late"));

    // 2. post-b replaced by a worker answering corrupted proofs: its answers dropped, the good worker's sent.
    drop(b);
    let bad = world.worker_with("post-bad.log", "post-bad", post, None, &[("SEALSTACK_CORRUPT_POST", "1")]);
    for tries in 1.. {
        let (failed, good) = (chain.post_tasks("post-bad", "failed"), chain.post_tasks("post-a", "done"));
        chain.one_deadline(period).await;
        if chain.post_tasks("post-bad", "failed") > failed && chain.post_tasks("post-a", "done") > good {
            break;
        }
        assert!(tries < 3, "no deadline with a corrupted answer dropped and a good one sent in {tries}");
    }
    assert_eq!(chain.post_tasks("post-bad", "done"), 0.0, "no corrupted proof used");
    let log = std::fs::read_to_string(world.dir.join("daemon.log")).unwrap();
    assert!(log.contains("a worker's WindowPoSt dropped"), "the drop is logged");
    eprintln!("[{}] corrupted answers dropped: {}", elapsed(), chain.post_tasks("post-bad", "failed"));

    // 3. Both workers die holding the SNARK: the daemon proves the deadline itself.
    drop((a, bad));
    let crash = Some("WindowPoSt");
    let mut c1 = world.worker("post-c1.log", "post-c1", post, crash);
    let mut c2 = world.worker("post-c2.log", "post-c2", post, crash);
    let before = chain.one_deadline(period).await;
    assert!(chain.counters().local_snarks >= before.local_snarks + MESSAGES, "the daemon made the SNARKs");
    assert!(c1.0.try_wait().unwrap().is_some() && c2.0.try_wait().unwrap().is_some(), "both died on the task");
    let log = std::fs::read_to_string(world.dir.join("daemon.log")).unwrap();
    assert!(log.contains("no PoSt worker left"), "the loss is noticed before the give-up time");
    eprintln!("[{}] both workers lost: the daemon proved the deadline itself", elapsed());
    drop(daemon);
}
