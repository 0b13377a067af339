//! Keeping the power, with real proofs on an in-process devnet: a genesis miner's 8 pre-sealed 2KiB sectors
//! packed into one deadline of 4 partitions, proven by `sealstack-miner run`:
//! 1. the deadline is proven in 2 SubmitWindowedPoSt messages (3 partitions, then 1: builtin-actors' limit per
//!    message);
//! 2. one sealed file deleted and another corrupted: both sectors fail the daemon's check, are declared faulty
//!    before the deadline's fault cutoff, and the other 6 are proven and keep their power;
//! 3. the files restored: the recoveries are declared and proven, the power comes back;
//! 4. the daemon stopped across the deadline (its sectors then fault on chain): started again, it declares their
//!    recovery by itself and proves them.
//!
//! Needs the parameters `scripts/params.sh` generates once per machine (`SEALSTACK_GENERATED_PARAMS`).

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fvm_shared::address::Address;
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use world::{GENESIS_MINER, Keep, World};

/// 12-second deadlines (30 epochs of 400 ms): room to check 8 sectors, make 2 SNARKs and land 2 messages on a
/// busy 2-core machine.
const BLOCK_TIME_MS: u64 = 400;
const CHALLENGE_WINDOW: i64 = 30;
/// A proving period of 4 deadlines (mainnet 48), so the sectors' deadline comes round every 48 s.
const PERIOD_DEADLINES: u64 = 4;
const SECTORS: u64 = 8;
const SECTOR_BYTES: u64 = 2048;

struct Chain {
    node: Node,
    miner: LotusJson<Address>,
}

impl Chain {
    async fn power(&self) -> u64 {
        let power = self.node.api().state_miner_power(self.miner.clone(), TipSetKey::head()).await.unwrap();
        power.miner_power.raw_byte_power.parse().unwrap()
    }

    async fn faults(&self) -> BTreeSet<u64> {
        let faults = self.node.api().state_miner_faults(self.miner.clone(), TipSetKey::head()).await.unwrap();
        faults.numbers().into_iter().collect()
    }

    async fn recoveries(&self) -> BTreeSet<u64> {
        let recovering = self.node.api().state_miner_recoveries(self.miner.clone(), TipSetKey::head()).await.unwrap();
        recovering.numbers().into_iter().collect()
    }

    /// Polls `check` until it holds, failing with `what` after `within`.
    async fn until<F, Fut>(&self, what: &str, within: Duration, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        world::until(what, within, check).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_are_declared_and_recovered_and_deadlines_of_many_partitions_are_proven() {
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
    let chain = Chain { node, miner: miner.clone() };
    let api = chain.node.api();
    let location = api.state_sector_partition(miner.clone(), 0, TipSetKey::head()).await.unwrap().unwrap();
    let partitions = api.state_miner_partitions(miner.clone(), location.deadline, TipSetKey::head()).await.unwrap();
    assert_eq!(partitions.len(), 4, "8 sectors packed into one deadline: 4 partitions of 2");
    eprintln!("[{}] genesis miner {GENESIS_MINER}: {SECTORS} sectors in deadline {}", elapsed(), location.deadline);
    let period = Duration::from_millis(BLOCK_TIME_MS * CHALLENGE_WINDOW as u64 * PERIOD_DEADLINES);

    // 1. Proven in two messages.
    let mut daemon = world.daemon("daemon-1.log", None);
    chain
        .until("the deadline proven in 2 WindowPoSt messages", period * 3, || async {
            world.metric("sealstack_miner_chain_messages_total{method=\"window-post\",outcome=\"ok\"}") >= 2.0
        })
        .await;
    assert_eq!(chain.power().await, SECTORS * SECTOR_BYTES);
    assert!(chain.faults().await.is_empty());
    eprintln!("[{}] proven in 2 messages; power {} bytes", elapsed(), chain.power().await);

    // The proving CLI, as a user types it beside the daemon; bad input refused with the valid choices named.
    let cli = |args: &[&str]| {
        let output = std::process::Command::new(world::BIN)
            .arg("--repo")
            .arg(world.repo())
            .args(args)
            .env("FULLNODE_API_INFO", world.devnet.api_info.to_env_value())
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text)
    };
    let deadline = location.deadline.to_string();
    let (ok, text) = cli(&["proving", "check", &deadline]);
    assert!(ok && text.matches(" good").count() == SECTORS as usize, "{text}");
    let (ok, text) = cli(&["proving", "check", "4"]);
    assert!(!ok && text.contains("deadline 4 out of range") && text.contains("0 to 3"), "{text}");
    let (ok, text) = cli(&["proving", "check", &deadline, "--sectors", "1,99"]);
    assert!(!ok && text.contains("[99] are not due in deadline"), "{text}");
    let (ok, text) = cli(&["sectors", "status", "99"]);
    assert!(!ok && text.contains("no sector 99"), "{text}");
    for args in [&["info"][..], &["proving", "info"], &["proving", "deadlines"], &["proving", "faults"]] {
        let (ok, text) = cli(args);
        assert!(ok, "sealstack-miner {args:?}: {text}");
    }
    let (_, info) = cli(&["info"]);
    assert!(info.contains("Miner: t01000") && info.contains("Fee debt:") && info.contains("Live: 8"), "{info}");

    // 2. A sealed file gone and another corrupt: both declared faulty, the other six proven.
    let files = |n: u64| world.repo().join("storage").join("sealed").join(format!("s-t01000-{n}"));
    let (gone, corrupt) = (3, 5);
    let aside = world.dir.join("sealed-aside");
    std::fs::rename(files(gone), &aside).unwrap();
    let original = std::fs::read(files(corrupt)).unwrap();
    std::fs::write(files(corrupt), vec![0x5a; original.len()]).unwrap();
    chain
        .until("sectors 3 and 5 declared faulty", period * 3, || async {
            chain.faults().await == BTreeSet::from([gone, corrupt])
        })
        .await;
    // Counted once the daemon saw its declaration land, which may be a poll after the chain shows the faults.
    let declared = || world.metric("sealstack_miner_declarations_total{outcome=\"faulty\"}");
    chain.until("the declaration counted", Duration::from_secs(5), || async { declared() >= 2.0 }).await;
    assert_eq!(declared(), 2.0, "the daemon declared both faults (the chain did not fault them for a missed proof)");
    let proofs_before = world.metric("sealstack_miner_window_posts_total{outcome=\"accepted\"}");
    chain
        .until("the deadline proven again without the two", period * 2, || async {
            world.metric("sealstack_miner_window_posts_total{outcome=\"accepted\"}") >= proofs_before + 2.0
        })
        .await;
    assert_eq!(chain.power().await, (SECTORS - 2) * SECTOR_BYTES, "the six good sectors keep their power");
    assert_eq!(chain.faults().await, BTreeSet::from([gone, corrupt]), "nothing else faulted");
    eprintln!("[{}] 2 faults declared, 6 sectors proven", elapsed());

    // 3. Restored: recoveries declared, proven, power back.
    std::fs::rename(&aside, files(gone)).unwrap();
    std::fs::write(files(corrupt), &original).unwrap();
    chain
        .until("both recoveries declared", period * 3, || async {
            chain.recoveries().await == BTreeSet::from([gone, corrupt])
        })
        .await;
    chain.until("both recovered and proven", period * 2, || async { chain.faults().await.is_empty() }).await;
    assert_eq!(chain.power().await, SECTORS * SECTOR_BYTES);
    eprintln!("[{}] recovered; power {} bytes", elapsed(), chain.power().await);

    // 4. The daemon down across the deadline: everything faults; back, it recovers by itself.
    drop(daemon);
    chain
        .until("the missed deadline faults every sector", period * 2, || async {
            chain.faults().await.len() as u64 == SECTORS
        })
        .await;
    assert_eq!(chain.power().await, 0);
    eprintln!("[{}] daemon down: all {SECTORS} sectors faulty", elapsed());
    daemon = world.daemon("daemon-2.log", None);
    chain
        .until("the restarted daemon recovers every sector", period * 4, || async { chain.faults().await.is_empty() })
        .await;
    assert_eq!(chain.power().await, SECTORS * SECTOR_BYTES);
    assert!(world.metric("sealstack_miner_declarations_total{outcome=\"recovered\"}") >= SECTORS as f64);
    eprintln!("[{}] recovered by the restarted daemon", elapsed());
    drop(daemon);
}
