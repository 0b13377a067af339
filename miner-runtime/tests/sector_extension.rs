//! The sector lifecycle policy (`run --extend-within-days`) on an in-process devnet whose genesis holds two
//! miners with pre-sealed 2KiB sectors that live 3 proving periods (needs `SEALSTACK_GENERATED_PARAMS`):
//! - t01000 runs with the policy (2 days' window, 180 days' extension). The daemon is killed right after its
//!   ExtendSectorExpiration2 is pushed, before the CID is journaled; restarted, it waits for that message and sends
//!   no other. Its sectors get the new expiration and keep their power past the genesis expiration.
//! - t01001 runs without it: its sectors expire at their deadline's cron and the power goes, while its daemon counted
//!   them as expiring in the 30 days' window beforehand.

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use std::time::Duration;

use fvm_shared::address::Address;
use sealstack_chain::actors::methods;
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use world::{GenesisOptions, Keep, World, until};

/// Epochs per deadline (7.5 s of 500 ms epochs: a 2KiB WindowPoSt of each miner fits).
const CHALLENGE_WINDOW: i64 = 15;
/// Deadlines per proving period.
const PERIOD_DEADLINES: u64 = 4;
/// A day: one proving period.
const DAY: i64 = CHALLENGE_WINDOW * PERIOD_DEADLINES as i64;
/// Days the genesis sectors live.
const LIFETIME_DAYS: i64 = 3;

async fn expirations(node: &Node, miner: Address) -> Vec<i64> {
    let sectors = node.api().state_miner_sectors(LotusJson(miner), None, TipSetKey::head()).await.unwrap();
    sectors.iter().map(|s| s.expiration).collect()
}

async fn live(node: &Node, miner: Address) -> u64 {
    node.api().state_miner_sector_count(LotusJson(miner), TipSetKey::head()).await.unwrap().live
}

#[tokio::test(flavor = "multi_thread")]
async fn sectors_near_expiry_are_extended_by_the_policy_and_expire_without_it() {
    let Some(params) = generated::generated_dir() else { return };
    // SAFETY: set before any thread of this process reads the environment (the in-process devnet verifies the
    // WindowPoSts with these parameters).
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let dir = Keep(tempfile::tempdir().unwrap());
    let options = GenesisOptions {
        block_time_ms: 500,
        challenge_window: CHALLENGE_WINDOW,
        period_deadlines: PERIOD_DEADLINES,
        rest_of_network_power: None,
        sector_lifetime_periods: Some(LIFETIME_DAYS),
    };
    let mut world = World::start_genesis_miners(dir.path(), params, &options, &[3, 2]).await;
    world.run_args.push("--no-mining".into());
    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let (extended, expiring) = (
        sealstack_chain::json::parse_address(world::GENESIS_MINER).unwrap(),
        sealstack_chain::json::parse_address(&world.others[0].actor).unwrap(),
    );
    let genesis_expiration = LIFETIME_DAYS * DAY;
    assert_eq!(expirations(&node, extended).await, [genesis_expiration; 3]);

    let policy = ["--extend-within-days", "2", "--extend-to-days", "180", "--extend-tolerance-days", "0"];
    let mut first = world.daemon_with("daemon-a1.log", Some("extend-sectors-0"), &policy);
    let second = world.others[0].clone();
    let _without_policy = {
        let command = world.daemon_command(&second, "daemon-b.log");
        world.spawn_daemon(&second, command, "daemon-b.log")
    };
    // The first period whose window reaches the genesis expiration with the sectors active (a WindowPoSt missed
    // while the world started makes them faulty for a period): the push, then the crash.
    let exited = first.try_exit(Duration::from_secs(240)).expect("the daemon pushed an extension within 240 s");
    assert!(!exited.success(), "killed after pushing the extension: see daemon-a1.log");
    let crashed_at = world.head().await;
    eprintln!("daemon of t01000 killed after pushing its extension at epoch {crashed_at}");
    let _with_policy = world.daemon_with("daemon-a2.log", None, &policy);

    until("the extension landed", Duration::from_secs(120), || async {
        expirations(&node, extended).await.iter().all(|e| *e > genesis_expiration)
    })
    .await;
    let new = expirations(&node, extended).await;
    assert!(new.iter().all(|e| *e == new[0]), "one new expiration: {new:?}");
    // 180 days from the start of the period the push was made in.
    let window = crashed_at + 179 * DAY..=crashed_at + 180 * DAY;
    assert!(window.contains(&new[0]), "{new:?} is 180 days from the period of epoch {crashed_at}");
    let info = world.cli(&["info"]);
    assert!(info.contains(&format!("Next expiration: epoch {}", new[0])), "{info}");
    // Before the genesis expiration, t01001's daemon counts its 2 sectors as expiring within 30 days.
    assert!(world.head().await < genesis_expiration, "the extension came in time");
    let expiring_metric = "sealstack_miner_sectors_expiring";
    until("t01001 counts its sectors expiring", Duration::from_secs(60), || async {
        world.metric_of(second.metrics_port, expiring_metric) == 2.0
    })
    .await;

    // By the end of the sectors' deadline after the genesis expiration (at most a period later): t01001's
    // sectors are gone with their power, t01000's live on.
    until("t01001's sectors expired", Duration::from_secs(120), || async { live(&node, expiring).await == 0 }).await;
    let head = world.head().await;
    assert!((genesis_expiration..=genesis_expiration + DAY).contains(&head), "expired at the deadline cron: {head}");
    let power = node.api().state_miner_power(LotusJson(expiring), TipSetKey::head()).await.unwrap();
    assert_eq!(power.miner_power.raw_byte_power.parse::<u64>().unwrap(), 0, "and their power went");
    // Every deadline's cron has passed the genesis expiration.
    let all_past = genesis_expiration + DAY;
    until("a period past the expiration", Duration::from_secs(60), || async { world.head().await > all_past }).await;
    assert_eq!(live(&node, extended).await, 3, "t01000's sectors live on");
    let power = node.api().state_miner_power(LotusJson(extended), TipSetKey::head()).await.unwrap();
    assert_eq!(power.miner_power.raw_byte_power.parse::<u64>().unwrap(), 3 * 2048);

    // One ExtendSectorExpiration2 on chain, though the daemon was killed with it pushed and not journaled.
    let state = world.devnet.node.state();
    let sent = state
        .messages
        .values()
        .filter(|m| m.message.to.0 == extended && m.message.method == methods::EXTEND_SECTOR_EXPIRATION2)
        .count();
    assert_eq!(sent, 1, "the extension was sent once");
    assert_eq!(world.metric("sealstack_miner_sectors_extended_total"), 3.0);
    assert_eq!(world.metric_of(second.metrics_port, "sealstack_miner_sectors_extended_total"), 0.0);
}
