//! `sealstack-miner sectors extend` and `sectors terminate` against an in-process devnet whose genesis holds a
//! miner with pre-sealed 2KiB sectors (needs `SEALSTACK_GENERATED_PARAMS`): a dry run changes nothing, an
//! extension moves the sectors' expiration on chain, a termination ends a sector (its power and pledge go).

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use std::time::{Duration, Instant};

use fvm_shared::address::Address;
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use world::{GenesisOptions, Keep, World};

/// Epochs per deadline: 30 s of 500 ms epochs, room for a message with its confidence epochs.
const CHALLENGE_WINDOW: i64 = 60;

async fn expiration(node: &Node, miner: Address, sector: u64) -> i64 {
    let info = node.api().state_sector_get_info(LotusJson(miner), sector, TipSetKey::head()).await.unwrap();
    info.expect("the sector is on chain").expiration
}

/// Waits until `deadline` is two or more deadlines ahead with half a window to spare: a termination sent then
/// executes while the deadline is still mutable (not the open one nor the next).
async fn wait_until_mutable(node: &Node, miner: Address, deadline: u64) {
    let give_up = Instant::now() + Duration::from_secs(300);
    loop {
        let info = node.api().state_miner_proving_deadline(LotusJson(miner), TipSetKey::head()).await.unwrap();
        let count = info.wpost_period_deadlines;
        let distance = (deadline + count - info.index) % count;
        let early = info.current_epoch - info.open < CHALLENGE_WINDOW / 2;
        if distance >= 3 || (distance == 2 && early) {
            return;
        }
        assert!(Instant::now() < give_up, "deadline {deadline} never mutable");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sectors_are_extended_and_terminated_from_the_command_line() {
    let Some(params) = generated::generated_dir() else { return };
    let dir = Keep(tempfile::tempdir().unwrap());
    let options = GenesisOptions {
        block_time_ms: 500,
        challenge_window: CHALLENGE_WINDOW,
        period_deadlines: 4,
        rest_of_network_power: None,
        sector_lifetime_periods: None,
    };
    let world = World::start_genesis_miners(dir.path(), params, &options, &[3]).await;
    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let miner = sealstack_chain::json::parse_address(world::GENESIS_MINER).unwrap();
    let before = expiration(&node, miner, 0).await;
    // A day here is a proving period (4 × 60 epochs); the genesis expiration is the longest allowed, 1278 of them
    // from epoch 0, so a later one needs a few epochs to pass (and a tolerance below the default 7 days).
    let day = 4 * CHALLENGE_WINDOW;
    while world.head().await < 10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let target = world.head().await + 1278 * day;
    assert!(target >= before + 10);

    // Without --really-do-it: the plan, nothing sent.
    let new_expiration = target.to_string();
    let extend = ["sectors", "extend", "--tolerance", "5", "--new-expiration", &new_expiration];
    let plan = world.cli(&[&extend[..], &["0", "1"]].concat());
    assert!(plan.contains("extend 2 sectors [0, 1]") && plan.contains("not sent"), "{plan}");
    assert_eq!(expiration(&node, miner, 0).await, before);

    let sent = world.cli(&[&extend[..], &["--really-do-it", "0", "1"]].concat());
    assert!(sent.contains("executed at height"), "{sent}");
    assert_eq!(expiration(&node, miner, 0).await, target);
    assert_eq!(expiration(&node, miner, 1).await, target);
    assert_eq!(expiration(&node, miner, 2).await, before, "sector 2 was not asked for");
    // The same request again: nothing left to do (both within the tolerance of the new expiration).
    let again = world.cli(&[&extend[..], &["--really-do-it", "0", "1"]].concat());
    assert!(again.contains("no sector to extend"), "{again}");

    // Sector 2 terminated once its deadline can be changed: it leaves the live sectors, with its pledge.
    let location = node.api().state_sector_partition(LotusJson(miner), 2, TipSetKey::head()).await.unwrap();
    let location = location.expect("sector 2 has a deadline");
    let live = |count: sealstack_chain::miner::MinerSectorCount| count.live;
    let count = node.api().state_miner_sector_count(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!(live(count), 3);
    let dry = world.cli(&["sectors", "terminate", "2"]);
    assert!(dry.contains("not sent"), "{dry}");
    wait_until_mutable(&node, miner, location.deadline).await;
    let terminated = world.cli(&["sectors", "terminate", "--really-do-it", "2"]);
    assert!(terminated.contains("executed at height"), "{terminated}");
    let count = node.api().state_miner_sector_count(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!(live(count), 2, "sector 2 is no longer live");
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_sealstack-miner"))
        .env("FULLNODE_API_INFO", world.devnet.api_info.to_env_value())
        .arg("--repo")
        .arg(world.repo())
        .args(["sectors", "terminate", "--really-do-it", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && text.contains("sector 2 is not live on chain"), "{text}");
}
