//! A WindowPoSt stuck in a congested message pool is replaced by fee and still lands in its deadline: a genesis
//! miner's 2 pre-sealed sectors on an in-process devnet whose epochs the test makes one by one. Once the
//! daemon's SubmitWindowedPoSt waits in the pool, the base fee jumps above its fee cap (as when blocks fill up);
//! the daemon replaces it (same nonce, a higher premium and the fee cap its `--post-max-fee` allows), the
//! replacement lands, the worker address has sent one message, and the sectors keep their power.
//!
//! Needs the parameters `scripts/params.sh` generates once per machine (`SEALSTACK_GENERATED_PARAMS`).

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use std::time::{Duration, Instant};

use sealstack_chain::actors::methods;
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use world::{GENESIS_MINER, Keep, World};

/// Epochs are made by the test, not by a timer.
const NO_TIMER_MS: u64 = 3_600_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_windowpost_is_replaced_by_fee_and_lands_in_time() {
    let Some(params) = generated::generated_dir() else { return };
    // SAFETY: as in the other tests of real proofs: set once, before any other thread.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let dir = Keep(tempfile::tempdir().unwrap());
    let world = World::start_genesis(dir.path(), params, NO_TIMER_MS, 20, 4, 2).await;
    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let api = node.api();
    let miner = LotusJson(sealstack_chain::json::parse_address(GENESIS_MINER).unwrap());
    let info = api.state_miner_info(miner.clone(), TipSetKey::head()).await.unwrap();
    let worker_key = api.state_account_key(info.worker.clone(), TipSetKey::head()).await.unwrap();
    let _daemon = world.daemon("daemon.log", None);
    let devnet = world.devnet.node.clone();
    let step = || async {
        devnet.advance();
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // Epochs until the daemon's WindowPoSt waits in the pool.
    let pending_post = || async {
        let pending = api.mpool_pending(TipSetKey::head()).await.unwrap();
        pending
            .into_iter()
            .find(|m| m.message.from.0 == worker_key.0 && m.message.method == methods::SUBMIT_WINDOWED_POST)
    };
    let give_up = Instant::now() + Duration::from_secs(240);
    let stuck = loop {
        if let Some(message) = pending_post().await {
            break message;
        }
        assert!(Instant::now() < give_up, "no WindowPoSt pushed: see daemon.log");
        step().await;
    };
    let nonce = api.mpool_get_nonce(info.worker.clone()).await.unwrap();
    // Congestion: the base fee above what the message offers.
    let base_fee = stuck.message.gas_fee_cap.0.clone() * 2u64;
    devnet.set_base_fee(base_fee.clone()).unwrap();
    eprintln!(
        "WindowPoSt {} waits with fee cap {}; base fee now {}",
        stuck.cid.0,
        stuck.message.gas_fee_cap.0.atto(),
        base_fee.atto()
    );

    // The daemon replaces it after --message-stuck-epochs (3) epochs; the replacement lands.
    let give_up = Instant::now() + Duration::from_secs(120);
    let landed = loop {
        if let Some(lookup) = api.state_search_msg(TipSetKey::head(), stuck.cid.clone(), -1, true).await.unwrap() {
            break lookup;
        }
        assert!(Instant::now() < give_up, "the stuck WindowPoSt never landed: see daemon.log");
        step().await;
    };
    assert_eq!(landed.receipt.exit_code, 0);
    assert_ne!(landed.message.0, stuck.cid.0, "what landed is the replacement, found under the original CID");
    let replacement = api.chain_get_message(landed.message.clone()).await.unwrap();
    assert_eq!(replacement.nonce, stuck.message.nonce, "the same nonce: only one of them could land");
    assert!(replacement.gas_fee_cap.0 > base_fee, "the replacement pays the new base fee");
    assert!(replacement.gas_premium.0 > stuck.message.gas_premium.0);
    assert!(world.metric("sealstack_miner_chain_messages_total{method=\"window-post\",outcome=\"replaced\"}") >= 1.0);
    assert_eq!(api.mpool_get_nonce(info.worker.clone()).await.unwrap(), nonce, "no other message was sent");
    let power = api.state_miner_power(miner.clone(), TipSetKey::head()).await.unwrap();
    assert_eq!(power.miner_power.raw_byte_power, "4096", "both sectors keep their power");
}
