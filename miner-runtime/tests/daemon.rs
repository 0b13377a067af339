//! `sealstack-miner run` and `worker` processes sealing a real 2KiB committed-capacity sector on an in-process
//! devnet (which verifies the seal and the WindowPoSt with filecoin-proofs), through faults:
//! 1. worker A is killed during PreCommit1 (a half-written staged file left behind); restarted on the same scratch,
//!    it seals on from its unsealed file;
//! 2. the daemon is killed right after pushing PreCommit, before recording the message CID; the restarted daemon
//!    resumes the sector and the worker address has sent exactly one PreCommit;
//! 3. worker A (reconnected to the new daemon) is killed during Commit2; worker B, a Commit2-only worker, takes
//!    the task over once A's lease runs out;
//! 4. A comes back to finalize (the sector's files are on its scratch), the sector is proven on chain, and the
//!    daemon's WindowPoSt of the sector's deadline is accepted: the sector is not faulty after the deadline;
//! 5. the pool-sizing API the operator's autoscaler reads: A drained takes no new sector (the new one waits, counted
//!    as the sealing pool's demand) and, holding nothing, can go; its draining ended, it takes the sector.
//!
//! Needs the parameters `scripts/params.sh` generates once per machine (`SEALSTACK_GENERATED_PARAMS`).

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use std::time::{Duration, Instant};

use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};
use sealstack_miner::protocol::{MinerApiClient, TaskKind};
use sealstack_miner::worker::miner_client;
use world::{Keep, World, staged_sealed_file};

/// Epochs per WindowPoSt deadline: 10 s at 250 ms epochs, room to generate and land a PoSt.
const CHALLENGE_WINDOW: i64 = 40;

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_and_workers_seal_and_prove_a_sector_through_crashes() {
    let Some(params) = generated::generated_dir() else { return };
    // SAFETY: the in-process devnet verifies proofs with these parameters; the proofs library reads the variable
    // once per process. This is the only test of this binary and no other thread exists yet.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let started = Instant::now();
    let elapsed = move || format!("{:.1}s", started.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    if std::env::var_os("SEALSTACK_KEEP_TEST_DIR").is_some() {
        eprintln!("keeping {}", dir.path().display());
    }
    let dir = Keep(dir);
    let (world, actor) = World::start(dir.path(), params, 250, CHALLENGE_WINDOW).await;
    let miner: fvm_shared::address::Address = sealstack_chain::json::parse_address(&actor).unwrap();
    eprintln!("[{}] miner {actor} created", elapsed());

    // 1. Worker A dies in PreCommit1; restarted on its scratch, it goes on.
    let mut daemon = world.daemon("daemon-1.log", Some("pre-commit"));
    let mut worker_a = world.worker("worker-a1.log", "scratch-a", None, Some("PreCommit1"));
    assert!(world.cli(&["sectors", "pledge"]).contains("Created CC sector: 0"));
    assert!(!worker_a.wait_exit(Duration::from_secs(120)).success(), "worker A was killed in PreCommit1");
    assert!(staged_sealed_file(&world.dir.join("scratch-a"), &actor).exists(), "a half-written stage output");
    eprintln!("[{}] worker A killed during PreCommit1", elapsed());
    let mut worker_a = world.worker("worker-a2.log", "scratch-a", None, Some("Commit2"));

    // 2. The daemon dies right after pushing PreCommit; the next one sends nothing new.
    assert!(!daemon.wait_exit(Duration::from_secs(180)).success(), "the daemon was killed after the push");
    eprintln!("[{}] daemon killed after pushing PreCommit", elapsed());
    let _daemon = world.daemon("daemon-2.log", None);
    world.wait_state(&["WaitSeed", "Committing", "SubmitCommit", "CommitWait"], Duration::from_secs(120)).await;
    let node = sealstack_chain::Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let worker_address = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.unwrap().worker;
    let nonce = node.api().mpool_get_nonce(worker_address).await.unwrap();
    assert_eq!(nonce, 1, "exactly one PreCommit was sent by the worker address");
    eprintln!("[{}] sector 0 pre-committed once; waiting for its seed", elapsed());

    // 3. A dies in Commit2; B (Commit2 only) takes it over.
    assert!(!worker_a.wait_exit(Duration::from_secs(180)).success(), "worker A was killed in Commit2");
    eprintln!("[{}] worker A killed during Commit2", elapsed());
    let _worker_b = world.worker("worker-b.log", "scratch-b", Some("Commit2"), None);
    let client = miner_client(&world.miner_api(), Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats = client.worker_stats().await.unwrap();
        let b_runs_c2 =
            stats.values().any(|w| w.name == "scratch-b" && w.running.iter().any(|t| t.ends_with("Commit2")));
        if b_runs_c2 {
            assert_eq!(stats.values().find(|w| w.name == "scratch-b").unwrap().tasks, [TaskKind::Commit2]);
            break;
        }
        assert!(Instant::now() < deadline, "worker B never took Commit2: {stats:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("[{}] worker B runs Commit2", elapsed());

    // 4. A comes back and finalizes; the sector is proven, stored and WindowPoSted.
    let _worker_a = world.worker("worker-a3.log", "scratch-a", None, None);
    world.wait_state(&["Proving"], Duration::from_secs(600)).await;
    eprintln!("[{}] sector 0 Proving", elapsed());
    let status = world.cli(&["sectors", "status", "0"]);
    assert!(status.contains("Status:     Proving"), "{status}");
    assert!(world.cli(&["sectors", "list"]).contains("Proving"));
    // StorageList is keyed by store ID (lotus-miner's): the default store's, from its sectorstore.json.
    let stored = client.storage_list().await.unwrap();
    let meta = std::fs::read(world.repo().join("storage/sectorstore.json")).unwrap();
    let id = serde_json::from_slice::<serde_json::Value>(&meta).unwrap()["ID"].as_str().unwrap().to_owned();
    assert_eq!(stored[&id].len(), 1, "{stored:?}");

    let sectors = node.api().state_miner_sectors(LotusJson(miner), None, TipSetKey::head()).await.unwrap();
    assert_eq!(sectors.iter().map(|s| s.sector_number).collect::<Vec<_>>(), [0]);
    let info = client.sectors_status(0, true).await.unwrap();
    assert_eq!(info.comm_r.unwrap().0, sectors[0].sealed_cid.0, "the on-chain CommR is the sealed one");

    let deadline = Instant::now() + Duration::from_secs(180);
    while world.metric("sealstack_miner_window_posts_total{outcome=\"accepted\"}") < 1.0 {
        assert!(Instant::now() < deadline, "no WindowPoSt accepted; see daemon-2.log");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("[{}] WindowPoSt accepted", elapsed());
    // With its proven sector the miner has the devnet's minimum power: eligible for WinningPoSt.
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.metric("sealstack_miner_winning_post_eligible") < 1.0 {
        assert!(Instant::now() < deadline, "not eligible for WinningPoSt with a proven sector");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The deadline closes with the sector proven: not faulty.
    let proving = node.api().state_miner_proving_deadline(LotusJson(miner), TipSetKey::head()).await.unwrap();
    while world.head().await <= proving.close {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for index in 0..48 {
        for partition in node.api().state_miner_partitions(LotusJson(miner), index, TipSetKey::head()).await.unwrap() {
            assert!(partition.faulty_sectors.numbers().is_empty(), "deadline {index}: {partition:?}");
        }
    }

    // 5. Draining, as the autoscaler does before removing a pod.
    let pool = |c: &jsonrpsee::http_client::HttpClient| {
        let tasks = vec![TaskKind::AddPiece, TaskKind::PreCommit1, TaskKind::PreCommit2, TaskKind::Commit1];
        let c = c.clone();
        async move { c.worker_demand(tasks).await.unwrap() }
    };
    let demand = pool(&client).await;
    assert_eq!(demand.waiting, 0, "{demand:?}");
    let a = demand.workers.iter().find(|w| w.name == "scratch-a").expect("A serves the sealing pool");
    assert!(a.idle() && !a.draining, "A holds nothing once its sector is finalized: {a:?}");
    assert!(demand.workers.iter().all(|w| w.name != "scratch-b"), "B (Commit2 only) is not in that pool");
    assert!(client.worker_drain("scratch-a".into(), true).await.unwrap());
    assert!(world.cli(&["sectors", "pledge"]).contains("Created CC sector: 1"));
    tokio::time::sleep(Duration::from_secs(3)).await; // A asks at least once (it waits 5 s per ask at most)
    let demand = pool(&client).await;
    assert_eq!(demand.waiting, 1, "sector 1's AddPiece waits: A is draining: {demand:?}");
    let a = demand.workers.iter().find(|w| w.name == "scratch-a").unwrap();
    assert!(a.draining && a.idle(), "A drained: it can go: {a:?}");
    assert!(client.worker_drain("scratch-a".into(), false).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while pool(&client).await.waiting > 0 {
        assert!(Instant::now() < deadline, "A never took sector 1 after its draining ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("[{}] done", elapsed());
}
