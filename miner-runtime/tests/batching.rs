//! Batched PreCommits and an aggregated ProveCommit on an in-process devnet that verifies the SnarkPack aggregate
//! for real (real 2KiB seals; the devnet aggregation SRS `params generate` makes):
//! 1. seven sectors pledged at once, one of which never seals (every task of it fails): `sectors batching
//!    precommit` shows the six others waiting for a PreCommitSectorBatch2 (its wait is 10 minutes), and
//!    `--publish-now` sends them in one; the daemon is killed right after journaling that batch, before sending
//!    it, and the next daemon sends it (once);
//! 2. their six proofs go in one ProveCommitSectors3 with one aggregate proof (builtin-actors aggregates 4 to
//!    819); the daemon is killed right after pushing it, before recording its CID, and the next daemon waits for
//!    it instead of sending another;
//! 3. the worker address sent exactly one message of each, the six sectors are active and Proving, and the
//!    failing sector held nothing up.
//!
//! Needs the parameters `scripts/params.sh` generates once per machine (`SEALSTACK_GENERATED_PARAMS`).

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::Address;
use fvm_shared::sector::RegisteredAggregateProof;
use sealstack_chain::actors::{methods, miner_state};
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use world::{Keep, World, until};

/// Epochs per WindowPoSt deadline: 10 s at 250 ms epochs.
const CHALLENGE_WINDOW: i64 = 40;
/// The sector whose seal fails.
const FAILING: u64 = 6;

/// Batching as lotus-miner's knobs set it, scaled to the test: PreCommits wait 10 minutes for more sectors (the
/// failing one never comes; `--publish-now` sends them), ProveCommits go when all six are ready, aggregated
/// whatever the base fee.
const BATCHING: [&str; 11] = [
    "--batch-pre-commits",
    "--max-pre-commit-batch",
    "8",
    "--pre-commit-batch-wait-secs",
    "600",
    "--batch-commits",
    "--max-commit-batch",
    "6",
    "--commit-batch-wait-secs",
    "600",
    "--aggregate-above-base-fee=0",
];

/// The messages `from` (an ID address) sent to the chain after `since`, by method (each once: blocks of a tipset
/// share messages).
async fn messages_from(node: &Node, from: Address, since: i64) -> BTreeMap<u64, Vec<Vec<u8>>> {
    let api = node.api();
    // Messages name their sender by its key address.
    let key = api.state_account_key(LotusJson(from), TipSetKey::head()).await.unwrap().0;
    let head = api.chain_head().await.unwrap().height;
    let (mut seen, mut sent) = (std::collections::HashSet::new(), BTreeMap::<u64, Vec<Vec<u8>>>::new());
    for height in since..=head {
        let tipset = api.chain_get_tipset_by_height(height, TipSetKey::head()).await.unwrap();
        if tipset.height != height {
            continue; // a null round: the tipset before it, already read
        }
        for block in &tipset.cids.0 {
            let messages = api.chain_get_block_messages(block.clone()).await.unwrap();
            for (message, cid) in messages.bls_messages.iter().zip(&messages.cids) {
                if (message.from.0 == key || message.from.0 == from) && seen.insert(cid.0) {
                    sent.entry(message.method).or_default().push(message.params.0.clone());
                }
            }
        }
    }
    sent
}

#[tokio::test(flavor = "multi_thread")]
async fn six_sectors_go_in_one_pre_commit_batch_and_one_aggregate_through_crashes() {
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
    let miner: Address = sealstack_chain::json::parse_address(&actor).unwrap();
    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let worker_address = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.unwrap().worker.0;
    let since = world.head().await;
    eprintln!("[{}] miner {actor} created", elapsed());

    // 1. The PreCommit batch: journaled, the daemon killed before the push; the next daemon sends it.
    let mut command = world.daemon_command(&world.first(), "daemon-1.log");
    command.args(BATCHING).env("SEALSTACK_CRASH_AFTER_BATCHING", "pre-commit-batch");
    let mut daemon = world.spawn_daemon(&world.first(), command, "daemon-1.log");
    let failing = FAILING.to_string();
    let _worker = world.worker_with("worker.log", "scratch", None, None, &[("SEALSTACK_FAIL_SECTOR", &failing)]);
    for number in 0..=FAILING {
        assert!(world.cli(&["sectors", "pledge"]).contains(&format!("Created CC sector: {number}")));
    }
    let waiting = "Waiting for a PreCommitSectorBatch2: 0 1 2 3 4 5\n";
    until("sectors batching shows sectors 0-5 waiting", Duration::from_secs(300), || async {
        world.cli(&["sectors", "batching", "precommit"]).contains(waiting)
    })
    .await;
    let listed = world.cli(&["sectors", "batching", "precommit"]);
    assert!(listed.contains("In flight: 0"), "{listed}");
    // The daemon is killed once it has journaled the batch: the listing of batches in flight that the command
    // prints after the flush may find it gone (the flush's answer came first).
    let (_, published) = world.cli_unchecked(&["sectors", "batching", "precommit", "--publish-now"]);
    assert!(published.contains("Publishing now: 0 1 2 3 4 5"), "{published}");
    assert!(!daemon.wait_exit(Duration::from_secs(120)).success(), "the daemon was killed after batching");
    let journals: Vec<_> = std::fs::read_dir(world.repo().join("batches")).unwrap().flatten().collect();
    assert_eq!(journals.len(), 1, "one batch journaled");
    let journal: serde_json::Value = serde_json::from_slice(&std::fs::read(journals[0].path()).unwrap()).unwrap();
    assert_eq!(journal["sectors"], serde_json::json!([0, 1, 2, 3, 4, 5]), "{journal}");
    assert_eq!(journal["messages"], serde_json::json!({}), "not pushed yet: {journal}");
    assert_eq!(node.api().mpool_get_nonce(LotusJson(worker_address)).await.unwrap(), 0, "nothing sent");
    eprintln!("[{}] PreCommit batch of sectors 0-5 journaled; daemon killed before sending it", elapsed());

    // 2. The aggregate: the next daemon sends the PreCommit batch, then aggregates and is killed after the push.
    let mut daemon = world.daemon_with("daemon-2.log", Some("prove-commit-aggregate"), &BATCHING);
    for number in 0..FAILING {
        world.wait_sector_state(number, &["WaitSeed", "Committing", "SubmitCommit"], Duration::from_secs(120)).await;
    }
    eprintln!("[{}] sectors 0-5 pre-committed", elapsed());
    assert!(!daemon.wait_exit(Duration::from_secs(900)).success(), "the daemon was killed after the aggregate's push");
    eprintln!("[{}] daemon killed after pushing the aggregated ProveCommit", elapsed());
    let _daemon = world.daemon_with("daemon-3.log", None, &BATCHING);
    for number in 0..FAILING {
        world.wait_sector_state(number, &["Proving"], Duration::from_secs(300)).await;
    }
    eprintln!("[{}] sectors 0-5 Proving", elapsed());

    // 3. One message of each kind, the aggregate verified and applied by the devnet.
    let sent = messages_from(&node, worker_address, since).await;
    let pre_commits = &sent[&methods::PRE_COMMIT_SECTOR_BATCH2];
    assert_eq!(pre_commits.len(), 1, "one PreCommitSectorBatch2");
    let batch: miner_state::PreCommitSectorBatchParams2 = RawBytes::new(pre_commits[0].clone()).deserialize().unwrap();
    assert_eq!(batch.sectors.iter().map(|s| s.sector_number).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    let commits = &sent[&methods::PROVE_COMMIT_SECTORS3];
    assert_eq!(commits.len(), 1, "one ProveCommitSectors3");
    let commit: miner_state::ProveCommitSectors3Params = RawBytes::new(commits[0].clone()).deserialize().unwrap();
    assert_eq!(commit.sector_activations.len(), 6);
    assert!(commit.sector_proofs.is_empty() && !commit.aggregate_proof.is_empty(), "one aggregate proof");
    assert_eq!(commit.aggregate_proof_type, Some(RegisteredAggregateProof::SnarkPackV2));
    let active = node.api().state_miner_sectors(LotusJson(miner), None, TipSetKey::head()).await.unwrap();
    assert_eq!(active.iter().map(|s| s.sector_number).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    let status = world.cli(&["sectors", "status", "0"]);
    assert!(status.contains("in prove-commit-aggregate"), "{status}");
    let metric = "sealstack_miner_batched_sectors_total{method=\"prove-commit-aggregate\"}";
    assert_eq!(world.metric(metric), 6.0, "the resumed daemon counted the aggregate's sectors");
    assert!(std::fs::read_dir(world.repo().join("batches")).unwrap().next().is_none(), "no batch left open");

    // The failing sector held nothing up and is still retried alone.
    let failing = world.cli(&["sectors", "status", &FAILING.to_string()]);
    assert!(failing.contains("Status:     Packing") && failing.contains("injected failure"), "{failing}");
    eprintln!("[{}] done", elapsed());
}
