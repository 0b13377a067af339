//! Expected consensus on the devnet, through its JSON-RPC API with real WinningPoSts: two genesis miners with a
//! pre-sealed 2KiB sector each and no rest of the network (so each is elected in most rounds), mining as
//! lotus-miner does (`MinerGetBaseInfo`, `WalletSign` VRFs, the WinningPoSt, `MpoolSelect`, `MinerCreateBlock`,
//! `SyncSubmitBlock`). The epochs are closed by hand (`RunningDevnet::node.advance`), so nothing depends on
//! timing:
//! 1. both miners' blocks of round 1 make one tipset of two blocks;
//! 2. refused with Lotus's messages: a forged ticket, a wrong election proof, a wrong win count, another round's
//!    WinningPoSt, another key's signature; the valid block is accepted; when round 2 closes, tipset 1
//!    executes: the message both blocks carried executes once, each miner gets its reward, 75 % locked;
//! 3. a block after its epoch closed and a block on a stale base are refused; a second block of the same miner
//!    for round 3 is refused by the slash filter and recorded as a consensus fault (the miner is ineligible
//!    and penalised), unless another key signed it.
//!
//! Needs the parameters `scripts/params.sh` generates (`SEALSTACK_GENERATED_PARAMS`).

#[allow(dead_code)]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use filecoin_proofs_api as proofs;
use fvm_shared::address::Address;
use fvm_shared::bigint::BigInt;
use fvm_shared::econ::TokenAmount;
use sealstack_chain::block::{BlockMsg, BlockTemplate, MiningBaseInfo};
use sealstack_chain::election::{compute_win_count, election_vrf_input, ticket_vrf_input, winning_post_randomness};
use sealstack_chain::json::LotusJson;
use sealstack_chain::message::{SignatureJson, unsigned_message};
use sealstack_chain::tipset::{ElectionProof, PoStProofJson, Ticket, TipSet};
use sealstack_chain::{FullNodeClient, Node, TipSetKey};
use sealstack_devnet::genesis::GenesisMinerSetup;
use sealstack_devnet::model::prover_id;
use sealstack_devnet::wallet::{Key, KeyInfo, KeyType};
use sealstack_devnet::{DevnetConfig, RunningDevnet};
use support::sealing::{Sealed, generated_dir, genesis_miner, seal};

/// A BLS key from a seed: the same keys, so the same elections, in every run.
fn key(seed: u8) -> Key {
    let secret = bls_signatures::PrivateKey::new([seed; 32]);
    Key::from_key_info(KeyInfo::new(KeyType::Bls, bls_signatures::Serialize::as_bytes(&secret))).unwrap()
}

struct Miner {
    id: Address,
    worker: Key,
    sector: Sealed,
}

/// What a block of a round is made of, before `MinerCreateBlock`.
struct Mined {
    info: MiningBaseInfo,
    template: BlockTemplate,
}

/// Which WinningPoSt a test block carries.
#[derive(Clone, Copy, PartialEq)]
enum Proof {
    /// The round's.
    Right,
    /// Round 1's.
    OfRound1,
    /// None at all (for a block refused before its proof is looked at).
    Empty,
}

/// Mines `round` on `base` as lotus-miner does.
async fn mine(node: &Node, miner: &Miner, base: &TipSet, round: i64, proof: Proof) -> Mined {
    let api = node.api();
    let info = api.miner_get_base_info(LotusJson(miner.id), round, base.key()).await.unwrap().expect("sectors");
    assert!(info.eligible_for_mining);
    let beacon = info.round_beacon().data.0.clone();
    let sign = |input: [u8; 32]| {
        let worker = info.worker_key.clone();
        async move { api.wallet_sign(worker, LotusJson(input.to_vec())).await.unwrap().data.0 }
    };
    let min_ticket = base.blocks[0].ticket.as_ref().unwrap().vrf_proof.0.clone();
    let ticket = sign(ticket_vrf_input(&beacon, round, &miner.id, &min_ticket)).await;
    let election = sign(election_vrf_input(&beacon, round, &miner.id)).await;
    let power: BigInt = info.miner_power.parse().unwrap();
    let win_count = compute_win_count(&election, &power, &info.network_power.parse().unwrap());
    assert!(win_count > 0, "the seeded keys win these rounds");
    let proof = match proof {
        Proof::Right => winning_post(&miner.sector, winning_post_randomness(&beacon, round, &miner.id)).await,
        Proof::OfRound1 => {
            let beacon = api.state_get_beacon_entry(1).await.unwrap().data.0;
            winning_post(&miner.sector, winning_post_randomness(&beacon, 1, &miner.id)).await
        }
        Proof::Empty => Vec::new(),
    };
    let messages = api.mpool_select(base.key(), 0.5).await.unwrap().0;
    let delay = api.state_get_network_params().await.unwrap().block_delay_secs;
    let template = BlockTemplate {
        miner: LotusJson(miner.id),
        parents: base.key(),
        ticket: Some(Ticket { vrf_proof: LotusJson(ticket) }),
        eproof: Some(ElectionProof { win_count, vrf_proof: LotusJson(election) }),
        beacon_values: info.beacon_entries.clone(),
        messages,
        epoch: round,
        timestamp: base.blocks[0].timestamp + delay * (round - base.height) as u64,
        winning_post_proof: vec![PoStProofJson { post_proof: 0, proof_bytes: LotusJson(proof) }],
    };
    Mined { info, template }
}

/// The WinningPoSt of one sector (the only one, so the challenged one).
async fn winning_post(sector: &Sealed, mut randomness: [u8; 32]) -> Vec<u8> {
    randomness[31] &= 0x3f;
    let (cache, sealed, comm_r, number, miner) =
        (sector.cache.clone(), sector.sealed.clone(), sector.comm_r, sector.number, sector.miner);
    tokio::task::spawn_blocking(move || {
        let kind = proofs::RegisteredPoStProof::StackedDrgWinning2KiBV1;
        let replica = proofs::PrivateReplicaInfo::new(kind, comm_r, cache, sealed);
        let replicas = BTreeMap::from([(proofs::SectorId::from(number), replica)]);
        proofs::post::generate_winning_post(&randomness, &replicas, prover_id(miner)).unwrap().remove(0).1
    })
    .await
    .unwrap()
}

/// Re-signs a header after a test changed it, so that only the change is wrong.
fn resign(block: &mut BlockMsg, worker: &Key) {
    let bytes = block.header.signing_bytes().unwrap();
    block.header.block_sig = Some(SignatureJson::from(&worker.sign(&bytes)));
}

async fn submit(node: &Node, block: BlockMsg) -> Result<(), String> {
    node.api().sync_submit_block(block).await.map_err(|e| match e {
        jsonrpsee::core::client::Error::Call(error) => error.message().to_string(),
        other => other.to_string(),
    })
}

fn assert_refused(result: Result<(), String>, expected: &str) {
    let error = result.expect_err("refused");
    assert!(error.contains(expected), "expected {expected:?} in:\n{error}");
}

/// Asserts that exactly one check failed, with `expected` (Lotus's multi-error of the concurrent checks).
fn assert_one_check_failed(result: Result<(), String>, expected: &str) {
    let error = result.expect_err("refused");
    assert!(error.contains("sync to submitted block failed: collectChain failed"), "{error}");
    assert!(error.contains(&format!("1 error occurred:\n\t* {expected}")), "expected only {expected:?} in:\n{error}");
}

async fn start(dir: &std::path::Path, miners: &[&Miner]) -> RunningDevnet {
    let mut config = DevnetConfig::new(dir.join("devnet"), "127.0.0.1:0".parse().unwrap());
    // Epochs are closed by the test.
    config.block_time = Duration::from_secs(3600);
    config.consensus.rest_of_network_power = 0;
    config.genesis_miners = miners
        .iter()
        .map(|m| {
            let info = m.worker.key_info();
            let worker_key = sealstack_chain::genesis::KeyInfo {
                key_type: info.key_type.to_string(),
                private_key: info.private_key.clone(),
            };
            GenesisMinerSetup { miner: genesis_miner(std::slice::from_ref(&m.sector), &m.worker), worker_key }
        })
        .collect();
    sealstack_devnet::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn blocks_are_elected_validated_and_rewarded_as_lotus_does() {
    let Some(params) = generated_dir() else { return };
    // SAFETY: the only test of this binary; nothing reads the environment concurrently yet.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let dir = tempfile::tempdir().unwrap();
    let sectors = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || (seal(&dir, 1000, 0), seal(&dir, 1001, 0))
    })
    .await
    .unwrap();
    let a = Miner { id: Address::new_id(1000), worker: key(1), sector: sectors.0 };
    let b = Miner { id: Address::new_id(1001), worker: key(2), sector: sectors.1 };
    let devnet = start(dir.path(), &[&a, &b]).await;
    let node = Node::connect(&devnet.api_info, &Default::default()).await.unwrap();
    let api = node.api();

    // A message both blocks of round 1 carry: it executes once.
    let from = api.wallet_default_address().await.unwrap();
    let to = api.wallet_new("bls".into()).await.unwrap();
    let send = unsigned_message(from.0, to.0, TokenAmount::from_whole(1), 0, Default::default());
    let pushed =
        api.mpool_push_message(sealstack_chain::message::MessageJson::from_message(&send), None).await.unwrap();

    // Round 1: both miners' blocks.
    let genesis = api.chain_head().await.unwrap();
    assert_eq!(genesis.height, 0);
    let (mined_a, mined_b) =
        (mine(&node, &a, &genesis, 1, Proof::Right).await, mine(&node, &b, &genesis, 1, Proof::Right).await);
    assert_eq!(mined_a.template.messages.len(), 1);
    assert_eq!(mined_a.info.network_power, "4096", "two sectors, no rest of the network");
    let block_a1 = api.miner_create_block(mined_a.template).await.unwrap();
    let block_b1 = api.miner_create_block(mined_b.template).await.unwrap();
    submit(&node, block_a1.clone()).await.unwrap();
    submit(&node, block_a1.clone()).await.expect("the same block again is no fault");
    submit(&node, block_b1.clone()).await.unwrap();
    devnet.node.advance();
    let tipset = api.chain_head().await.unwrap();
    assert_eq!((tipset.height, tipset.blocks.len()), (1, 2), "one tipset of two blocks");
    let cids: Vec<_> = tipset.cids.0.iter().map(|c| c.0).collect();
    assert!(cids.contains(&block_a1.header.cid().unwrap()) && cids.contains(&block_b1.header.cid().unwrap()));
    let header = api.chain_get_block(LotusJson(block_a1.header.cid().unwrap())).await.unwrap();
    assert_eq!(header, block_a1.header);
    let messages = api.chain_get_block_messages(LotusJson(block_b1.header.cid().unwrap())).await.unwrap();
    assert_eq!(messages.cids.len(), 1);
    let weight: BigInt = api.chain_tipset_weight(tipset.key()).await.unwrap().parse().unwrap();
    let genesis_weight: BigInt = api.chain_tipset_weight(genesis.key()).await.unwrap().parse().unwrap();
    assert!(weight > genesis_weight);

    // Round 2 is open. Refusals, each with Lotus's message.
    let head = api.chain_head().await.unwrap();
    let tipset1 = head.clone();
    let valid = api.miner_create_block(mine(&node, &a, &head, 2, Proof::Right).await.template).await.unwrap();

    let mut forged = valid.clone();
    forged.header.ticket = Some(Ticket { vrf_proof: LotusJson(a.worker.sign(b"not the ticket input").bytes) });
    resign(&mut forged, &a.worker);
    assert_one_check_failed(
        submit(&node, forged).await,
        "validating block tickets failed: vrf was invalid: bls signature failed to verify",
    );

    let mut wrong_election = valid.clone();
    let proof = wrong_election.header.election_proof.as_mut().unwrap();
    proof.vrf_proof = LotusJson(a.worker.sign(b"not the election input").bytes);
    resign(&mut wrong_election, &a.worker);
    assert_one_check_failed(
        submit(&node, wrong_election).await,
        "validating block election proof failed: vrf was invalid: bls signature failed to verify",
    );

    let mut wrong_wins = valid.clone();
    wrong_wins.header.election_proof.as_mut().unwrap().win_count += 1;
    resign(&mut wrong_wins, &a.worker);
    assert_one_check_failed(submit(&node, wrong_wins).await, "miner claims wrong number of wins");

    let other_round = api.miner_create_block(mine(&node, &a, &head, 2, Proof::OfRound1).await.template).await.unwrap();
    assert_one_check_failed(submit(&node, other_round).await, "invalid election post: winning post was invalid");

    let mut signed_by_another = valid.clone();
    let bytes = valid.header.signing_bytes().unwrap();
    signed_by_another.header.block_sig = Some(SignatureJson::from(&b.worker.sign(&bytes)));
    assert_one_check_failed(
        submit(&node, signed_by_another).await,
        "check block signature failed: bls signature failed to verify",
    );
    let late = api.miner_create_block(mine(&node, &b, &head, 2, Proof::Empty).await.template).await.unwrap();
    submit(&node, valid.clone()).await.unwrap();

    // Round 2 closes: tipset 1 executes, the message once, each block rewarded (25 FIL an epoch, 5 per win).
    devnet.node.advance();
    let head = api.chain_head().await.unwrap();
    assert_eq!((head.height, head.blocks.len()), (2, 1), "the valid block of round 2 is in the chain");
    let lookup = api.state_search_msg(TipSetKey::head(), pushed.cid.clone(), -1, true).await.unwrap();
    assert_eq!(lookup.expect("executed").receipt.exit_code, 0);
    assert_eq!(api.wallet_balance(to.clone()).await.unwrap().0, TokenAmount::from_whole(1), "once");
    for (miner, block) in [(&a, &block_a1), (&b, &block_b1)] {
        let wins = block.header.election_proof.as_ref().unwrap().win_count as u64;
        let state = api.state_read_state(LotusJson(miner.id), TipSetKey::head()).await.unwrap();
        let funds = state.miner_state().unwrap();
        let reward = TokenAmount::from_whole(5) * wins;
        let locked = funds.locked_funds.0.clone() - TokenAmount::from_atto(5_937_181_320u64);
        assert!(locked >= (reward.clone() * 3u64).div_floor(4u64), "75 % of the reward locked: {locked}");
        assert!(state.state["VestingFunds"].as_array().is_some_and(|t| !t.is_empty()), "vesting");
    }

    // Round 3: B's block of round 2 comes after its epoch closed; a block on tipset 1 is on a stale base.
    assert_refused(submit(&node, late.clone()).await, "arrived after the epoch closed");
    let mut stale = late;
    stale.header.height = 3;
    stale.header.parents = tipset1.key();
    resign(&mut stale, &b.worker);
    assert_refused(submit(&node, stale).await, "block on a stale base");

    // A valid block of round 3, then a second one of the same miner for the same epoch: a consensus fault.
    let valid = api.miner_create_block(mine(&node, &a, &head, 3, Proof::Right).await.template).await.unwrap();
    submit(&node, valid.clone()).await.unwrap();
    let before = api.state_read_state(LotusJson(a.id), TipSetKey::head()).await.unwrap();
    let mut second = valid.clone();
    second.header.fork_signaling = 1;
    let witness = format!("<!!> SLASH FILTER DETECTED FAULT due to witness {}", valid.header.cid().unwrap());
    // Signed by another key: refused, but nobody can fault a miner with a block its worker did not sign.
    let mut framed = second.clone();
    resign(&mut framed, &b.worker);
    assert_refused(submit(&node, framed).await, &witness);
    let info = api.state_miner_info(LotusJson(a.id), TipSetKey::head()).await.unwrap();
    assert_eq!(info.consensus_fault_elapsed, -1, "no fault recorded for a block A did not sign");
    resign(&mut second, &a.worker);
    assert_refused(submit(&node, second).await, &witness);
    let info = api.state_miner_info(LotusJson(a.id), TipSetKey::head()).await.unwrap();
    assert_eq!(info.consensus_fault_elapsed, 3 + 900, "ineligible for the fault's duration");
    let base = api.miner_get_base_info(LotusJson(a.id), 3, head.key()).await.unwrap().unwrap();
    assert!(!base.eligible_for_mining);
    // The penalty, an epoch's reward (5 block rewards), is burnt from the miner's funds or left as fee debt.
    let after = api.state_read_state(LotusJson(a.id), TipSetKey::head()).await.unwrap();
    let (debt_before, debt_after) = (before.miner_state().unwrap().fee_debt.0, after.miner_state().unwrap().fee_debt.0);
    let charged = before.balance.0.clone() - after.balance.0.clone() + debt_after - debt_before;
    assert_eq!(charged, TokenAmount::from_whole(25), "penalised");
    devnet.node.advance();
    let head = api.chain_head().await.unwrap();
    assert_eq!((head.height, head.blocks.len()), (3, 1), "the first block of round 3 is in the chain");
    devnet.stop().await;
}
