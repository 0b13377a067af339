//! Mining with real WinningPoSts on an in-process devnet of genesis miners (pre-sealed 2KiB sectors, proven
//! from genesis), `sealstack-miner run` mining as lotus-miner does:
//! 1. one miner, against a rest of the network of its own power: it wins, its blocks are included, their
//!    rewards land on the actor (75 % locked and vesting), `info` shows them;
//!    then a SealingWorker with the `WinningPoSt` task makes the blocks' WinningPoSt SNARKs (checked by the
//!    daemon, which signs and submits), and when the worker dies holding one, the daemon proves it itself and
//!    the block still lands;
//! 2. the daemon killed right after the node signed a block, before submitting it: restarted within the same
//!    epoch (the devnet's epochs held from before the crash), it wins that epoch again and does not sign it
//!    again; no consensus fault, and it mines on;
//! 3. two miners on one devnet (3 sectors and 1, the rest of the network 4): both get blocks into the chain, the
//!    one with 3 times the power wins more of its elections, and tipsets hold several miners' blocks (the
//!    statistics of win counts against power shares over many rounds are the devnet's unit test).
//!
//! Needs the parameters `scripts/params.sh` generates once per machine (`SEALSTACK_GENERATED_PARAMS`).

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_miner::daemon::mining::journal::{BlockFate, MinedBlock, MiningRecord};
use world::{GenesisOptions, Keep, MinerSlot, World, until};

/// Epoch length: a 2KiB WinningPoSt took 3.7 to 8 s on two cores shared with other builds; the deadline is the
/// block time less the 1 s propagation allowance.
const BLOCK_TIME_MS: u64 = 10_000;
/// Epoch length with two daemons mining.
const TWO_MINERS_BLOCK_TIME_MS: u64 = 20_000;

/// Every block in the chain by miner ID: (epoch, win count).
async fn blocks_by_miner(node: &Node) -> BTreeMap<u64, Vec<(i64, i64)>> {
    let api = node.api();
    let head = api.chain_head().await.unwrap();
    let mut found: BTreeMap<u64, Vec<(i64, i64)>> = BTreeMap::new();
    for height in 1..=head.height {
        let tipset = api.chain_get_tipset_by_height(height, head.key()).await.unwrap();
        if tipset.height != height {
            continue;
        }
        for header in &tipset.blocks {
            let wins = header.election_proof.as_ref().map(|e| e.win_count).unwrap_or(0);
            found.entry(header.miner.0.id().unwrap()).or_default().push((height, wins));
        }
    }
    found
}

/// Tipsets with blocks of two miners or more (the rest of the network's included).
async fn shared_tipsets(node: &Node) -> usize {
    let api = node.api();
    let head = api.chain_head().await.unwrap();
    let mut shared = 0;
    for height in 1..=head.height {
        let tipset = api.chain_get_tipset_by_height(height, head.key()).await.unwrap();
        if tipset.height == height && tipset.blocks.len() > 1 {
            shared += 1;
        }
    }
    shared
}

fn options(rest_of_network_power: u64) -> GenesisOptions {
    GenesisOptions {
        block_time_ms: BLOCK_TIME_MS,
        challenge_window: 30,
        period_deadlines: 4,
        rest_of_network_power: Some(rest_of_network_power),
        sector_lifetime_periods: None,
    }
}

fn mining_args(world: &mut World) {
    world.run_args = vec!["--block-delay-ms".into(), BLOCK_TIME_MS.to_string()];
}

#[tokio::test(flavor = "multi_thread")]
async fn miners_win_blocks_that_land_with_their_rewards_and_never_sign_an_epoch_twice() {
    let Some(params) = generated::generated_dir() else { return };
    // SAFETY: the in-process devnet verifies proofs with these parameters; the proofs library reads the variable
    // once per process. This is the only test of this binary and no other thread exists yet.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let started = Instant::now();
    let elapsed = move || format!("{:.1}s", started.elapsed().as_secs_f64());
    let block = Duration::from_millis(BLOCK_TIME_MS);

    // 1. One miner of 2 sectors, the rest of the network as strong: it wins most rounds.
    let dir = Keep(tempfile::tempdir().unwrap());
    let mut world = World::start_genesis_miners(dir.path(), params.clone(), &options(2 * 2048), &[2]).await;
    mining_args(&mut world);
    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let api = node.api();
    let miner = LotusJson(Address::new_id(1000));
    let state = || async { api.state_read_state(miner.clone(), TipSetKey::head()).await.unwrap() };
    let before = state().await;
    let daemon = world.daemon("daemon-1.log", None);
    let included = |w: &World| w.metric("sealstack_miner_blocks_included_total");
    until("3 blocks included", block * 40, || async { included(&world) >= 3.0 }).await;
    eprintln!("[{}] 3 blocks included", elapsed());
    let mine = blocks_by_miner(&node).await.remove(&1000).unwrap_or_default();
    assert!(mine.len() >= 3, "the chain holds the miner's blocks: {mine:?}");
    let record = MiningRecord::load(&world.repo()).unwrap();
    assert!(record.included_total >= 3 && record.signed_total >= record.included_total);
    // Rewards: 25 FIL an epoch, 5 per win, 75 % locked. (Tipsets already executed carry their rewards.)
    let after = state().await;
    let (funds_before, funds_after) = (before.miner_state().unwrap(), after.miner_state().unwrap());
    let locked = funds_after.locked_funds.0.clone() - funds_before.locked_funds.0.clone();
    assert!(locked >= (TokenAmount::from_whole(5) * 3u64).div_floor(4u64), "a reward locked: {locked}");
    assert!(after.balance.0 > before.balance.0, "rewards landed: {} -> {}", before.balance.0, after.balance.0);
    assert!(after.state["VestingFunds"].as_array().is_some_and(|t| !t.is_empty()));
    let info = world.cli(&["info"]);
    assert!(info.contains("Blocks mined:") && info.contains("included") && info.contains("Block rewards:"), "{info}");
    assert!(world.metric("sealstack_miner_winning_post_warmup_seconds") > 0.0, "the warm-up ran");
    assert_eq!(world.metric("sealstack_miner_blocks_lost_total{reason=\"proof_failed\"}"), 0.0);
    eprintln!("[{}] rewards: {locked} locked; info:\n{info}", elapsed());

    // The WinningPoSt on a PoSt worker, then the fallback when the worker dies holding it.
    let by = |w: &World, prover: &str| w.metric(&format!("sealstack_miner_winning_posts_total{{prover=\"{prover}\"}}"));
    let worker = world.worker("win-a.log", "win-a", Some("WinningPoSt"), None);
    let done = |w: &World| w.metric("sealstack_miner_post_tasks_total{worker=\"win-a\",outcome=\"done\"}");
    until("a WinningPoSt made by the worker", block * 30, || async { by(&world, "worker") >= 1.0 }).await;
    assert!(done(&world) >= 1.0, "the worker's answer was checked and taken");
    let proved_by = |prover: &str| {
        let record = MiningRecord::load(&world.repo()).unwrap();
        let landed = |b: &&MinedBlock| matches!(b.fate, BlockFate::Submitted | BlockFate::Included);
        record.blocks.iter().filter(landed).filter(|b| b.prover.as_deref() == Some(prover)).count()
    };
    until("a block with the worker's WinningPoSt submitted", block * 30, || async { proved_by("win-a") >= 1 }).await;
    eprintln!(
        "[{}] WinningPoSts by the worker: {}, by the daemon: {}",
        elapsed(),
        by(&world, "worker"),
        by(&world, "daemon")
    );
    drop(worker);
    let mut crashing = world.worker("win-crash.log", "win-crash", Some("WinningPoSt"), Some("WinningPoSt"));
    let own = by(&world, "daemon");
    let died = crashing.try_exit(block * 30);
    assert!(died.is_some_and(|status| !status.success()), "the worker took a WinningPoSt and died on it");
    let submitted = world.metric("sealstack_miner_blocks_submitted_total");
    let own_blocks = proved_by("daemon");
    until("the daemon proves in its place and the block lands", block * 30, || async {
        by(&world, "daemon") > own && proved_by("daemon") > own_blocks
    })
    .await;
    assert!(world.metric("sealstack_miner_blocks_submitted_total") > submitted);
    assert_eq!(world.metric("sealstack_miner_blocks_lost_total{reason=\"proof_failed\"}"), 0.0);
    let log = std::fs::read_to_string(world.dir.join("daemon-1.log")).unwrap();
    assert!(log.contains("WinningPoSt SNARK handed to PoSt workers"), "handed to the worker");
    eprintln!("[{}] worker lost: the daemon made the WinningPoSt itself", elapsed());
    drop(daemon);

    // 2. Killed right after signing: restarted within the epoch, it does not sign it again. The epochs are held
    // while the crashing daemon mines, so the epoch it signed is still open when it restarts; a round it does not
    // win is let go, one epoch at a time.
    world.devnet.node.hold_epochs(true);
    let mut command = world.daemon_command(&world.first(), "daemon-crash.log");
    command.env("SEALSTACK_CRASH_AFTER_SIGNING_BLOCK", "1");
    let mut crashing = world.spawn_daemon(&world.first(), command, "daemon-crash.log");
    let mut rounds = 0;
    let status = loop {
        if let Some(status) = crashing.try_exit(block * 3) {
            break status;
        }
        rounds += 1;
        assert!(rounds < 10, "the crashing daemon signed no block in {rounds} rounds");
        let height = world.devnet.node.state().height;
        world.devnet.node.hold_epochs(false);
        until("an epoch passes", block * 3, || async { world.devnet.node.state().height > height }).await;
        world.devnet.node.hold_epochs(true);
    };
    assert!(!status.success(), "the injected crash");
    let record = MiningRecord::load(&world.repo()).unwrap();
    let signed = record.blocks.last().unwrap().clone();
    assert_eq!(signed.fate, BlockFate::Signed, "signed, never submitted");
    let open = world.devnet.node.state().height + 1;
    assert_eq!(signed.epoch, open, "the epoch is still open");
    eprintln!("[{}] crashed after signing epoch {}; epochs held", elapsed(), signed.epoch);
    let daemon = world.daemon("daemon-2.log", None);
    until("the restarted daemon wins the signed epoch again", block * 10, || async {
        world.metric("sealstack_miner_mining_rounds_total{result=\"skipped\"}") >= 1.0
    })
    .await;
    world.devnet.node.hold_epochs(false);
    let record = MiningRecord::load(&world.repo()).unwrap();
    assert_eq!(record.blocks.iter().filter(|b| b.epoch == signed.epoch).count(), 1, "signed once");
    let submitted = world.metric("sealstack_miner_blocks_submitted_total");
    until("the restarted daemon mines on", block * 40, || async {
        world.metric("sealstack_miner_blocks_submitted_total") > submitted
    })
    .await;
    let tipset = api.chain_get_tipset_by_height(signed.epoch, TipSetKey::head()).await.unwrap();
    assert!(tipset.height != signed.epoch || tipset.blocks.iter().all(|b| b.miner.0 != miner.0), "not in the chain");
    let info = api.state_miner_info(miner.clone(), TipSetKey::head()).await.unwrap();
    assert_eq!(info.consensus_fault_elapsed, -1, "no consensus fault");
    eprintln!("[{}] epoch {} not signed again; mining on", elapsed(), signed.epoch);
    drop(daemon);
    drop(world);

    // 3. Two miners, 3 sectors and 1, the rest of the network 4. Two daemons proving at once on two cores shared
    // with other builds took up to 21 s a WinningPoSt: epochs of 20 s, no warm-up.
    let dir = Keep(tempfile::tempdir().unwrap());
    let two = GenesisOptions { block_time_ms: TWO_MINERS_BLOCK_TIME_MS, ..options(4 * 2048) };
    let mut world = World::start_genesis_miners(dir.path(), params, &two, &[3, 1]).await;
    world.run_args =
        vec!["--block-delay-ms".into(), TWO_MINERS_BLOCK_TIME_MS.to_string(), "--no-winning-post-warmup".into()];
    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let second: MinerSlot = world.others[0].clone();
    let daemons = (world.daemon("daemon-a.log", None), {
        let command = world.daemon_command(&second, "daemon-b.log");
        world.spawn_daemon(&second, command, "daemon-b.log")
    });
    let ports = [world.metrics_port, second.metrics_port];
    let rounds = |w: &World, port: u16, result: &str| {
        w.metric_of(port, &format!("sealstack_miner_mining_rounds_total{{result=\"{result}\"}}"))
    };
    let elections = |w: &World, port: u16| rounds(w, port, "won") + rounds(w, port, "lost_election");
    let included_of = |w: &World, port: u16| w.metric_of(port, "sealstack_miner_blocks_included_total");
    let two_block = Duration::from_millis(TWO_MINERS_BLOCK_TIME_MS);
    until("15 elections each, blocks of both included", two_block * 40, || async {
        ports.iter().all(|p| elections(&world, *p) >= 15.0 && included_of(&world, *p) >= 1.0)
    })
    .await;
    let blocks = blocks_by_miner(&node).await;
    assert!(blocks.contains_key(&1000) && blocks.contains_key(&1001), "both miners' blocks in the chain: {blocks:?}");
    // A round's win count is Poisson(5 × share) (ExpectedLeadersPerEpoch 5): 1.88 a round for 3/8 of the power,
    // 0.62 for 1/8. The win counts, summed from each daemon's mining record, tell the two miners apart far more
    // surely than the share of rounds won (P(win) = 1 - e^(-5 × share): 0.85 against 0.46, which 15 rounds each
    // cannot separate every time).
    let wins = |repo: &std::path::Path| -> f64 {
        MiningRecord::load(repo).unwrap().blocks.iter().map(|b| b.win_count as f64).sum()
    };
    let per_round = |repo: &std::path::Path, port: u16| wins(repo) / elections(&world, port);
    let (a, b) = (per_round(&world.repo(), ports[0]), per_round(&second.repo, ports[1]));
    let rate = |port: u16| rounds(&world, port, "won") / elections(&world, port);
    eprintln!(
        "[{}] wins per round: t01000 {a:.2} (expected 1.88), t01001 {b:.2} (expected 0.62); rounds won: {:.2} \
         (expected 0.85), {:.2} (expected 0.46)",
        elapsed(),
        rate(ports[0]),
        rate(ports[1])
    );
    assert!(a > b, "the miner with 3 times the power wins more: {a:.2} against {b:.2} a round");
    assert!(shared_tipsets(&node).await > 0, "tipsets of several miners' blocks");
    drop(daemons);
}
