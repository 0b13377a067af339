//! A genesis miner's pre-sealed sectors WindowPoSted for real on the devnet binary: four 2KiB committed-capacity
//! sectors are sealed for miner t01000 and written as `lotus-seed pre-seal` files, the devnet starts with
//! them (`--genesis-miner`, `--pack-sectors`: one deadline of two partitions), and the deadline is proven in
//! two SubmitWindowedPoSt messages, one per partition, the second skipping a sector. After the deadline the
//! skipped sector is faulty and without power, the other three keep theirs.
//!
//! Needs the parameters `scripts/params.sh` generates once per machine (`SEALSTACK_GENERATED_PARAMS`); without
//! them the test says so and passes, unless `SEALSTACK_REQUIRE_GENERATED_PARAMS=1`.

#[allow(dead_code)] // not every helper of the shared module is used here
mod support;

use support::sealing::{Sealed, generated_dir, seal, write_files};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use filecoin_proofs_api as proofs;
use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::randomness::Randomness;
use fvm_shared::sector::{PoStProof, RegisteredPoStProof};
use sealstack_chain::actors::{methods, miner_state};
use sealstack_chain::json::LotusJson;
use sealstack_chain::message::unsigned_message;
use sealstack_chain::push::{MessageLog, NoJournal, push_once};
use sealstack_chain::randomness::{miner_entropy, tags};
use sealstack_chain::{FullNodeClient, Node, TipSetKey};
use sealstack_devnet::model::prover_id;
use sealstack_devnet::proofs::api_window_post_proof;
use sealstack_devnet::wallet::{Key, KeyType};

/// Epoch length.
const BLOCK_TIME_MS: u64 = 200;
/// Epochs per deadline: 30 s, room for two WindowPoSts (about a second each on an idle machine, ten on a
/// loaded one) and their two messages.
const CHALLENGE_WINDOW: i64 = 150;
/// The genesis miner's ID.
const MINER: u64 = 1000;
/// Its sectors: two partitions of two.
const SECTORS: u64 = 4;

async fn head(node: &Node) -> i64 {
    node.api().chain_head().await.unwrap().height
}

async fn wait_for_height(node: &Node, height: i64) {
    while head(node).await < height {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn randomness(node: &Node, beacon: bool, tag: i64, epoch: i64, entropy: &[u8]) -> [u8; 32] {
    let entropy = LotusJson(entropy.to_vec());
    // At the head's key: ticket randomness refuses the empty key, as Lotus does.
    let key = node.api().chain_head().await.unwrap().key();
    let bytes = if beacon {
        node.api().state_get_randomness_from_beacon(tag, epoch, entropy, key).await
    } else {
        node.api().state_get_randomness_from_tickets(tag, epoch, entropy, key).await
    };
    bytes.unwrap().0.try_into().expect("32 bytes")
}

/// A WindowPoSt over `sectors`, checked locally.
fn window_post(sectors: &[&Sealed], randomness: [u8; 32]) -> Vec<u8> {
    let proof_type = api_window_post_proof(RegisteredPoStProof::StackedDRGWindow2KiBV1P1).unwrap();
    let replicas: BTreeMap<_, _> = sectors
        .iter()
        .map(|s| {
            let info = proofs::PrivateReplicaInfo::new(proof_type, s.comm_r, s.cache.clone(), s.sealed.clone());
            (proofs::SectorId::from(s.number), info)
        })
        .collect();
    let mut generated = proofs::post::generate_window_post(&randomness, &replicas, prover_id(MINER)).unwrap();
    assert_eq!(generated.len(), 1);
    generated.remove(0).1
}

#[tokio::test(flavor = "multi_thread")]
async fn pre_sealed_sectors_are_proven_in_two_messages_with_one_skipped() {
    let Some(params) = generated_dir() else { return };
    // SAFETY: the only test of this binary; nothing read the environment concurrently yet. Proving must use
    // the keys the devnet verifies with.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let started = Instant::now();
    let elapsed = move || format!("{:.1}s", started.elapsed().as_secs_f64());

    let files = tempfile::tempdir().unwrap();
    let sealed: Vec<Sealed> = tokio::task::spawn_blocking({
        let dir = files.path().to_path_buf();
        move || (0..SECTORS).map(|n| seal(&dir, MINER, n)).collect()
    })
    .await
    .unwrap();
    let worker = Key::generate(KeyType::Bls);
    let manifest = write_files(files.path(), &sealed, &worker);
    eprintln!("[{}] {SECTORS} sectors sealed into {}", elapsed(), manifest.display());

    let repo = tempfile::tempdir().unwrap();
    let extra = [std::ffi::OsStr::new("--pack-sectors"), "--genesis-miner".as_ref(), manifest.as_os_str()];
    let devnet = support::DevnetProcess::start_with_args(repo.path(), BLOCK_TIME_MS, CHALLENGE_WINDOW, 3, &extra);
    let node = devnet.connect().await;
    let api = node.api();
    let miner = Address::new_id(MINER);
    let info = api.state_miner_info(LotusJson(miner), TipSetKey::head()).await.unwrap();
    let worker_id = api.state_lookup_id(LotusJson(worker.address()), TipSetKey::head()).await.unwrap();
    assert_eq!((info.owner.0, info.worker.0), (worker_id.0, worker_id.0), "owner = worker, as lotus-seed makes them");
    assert!(api.wallet_has(LotusJson(worker.address())).await.unwrap(), "the worker key was imported");
    let count = api.state_miner_sector_count(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!((count.live, count.active, count.faulty), (SECTORS, SECTORS, 0), "active from genesis");
    let power = api.state_miner_power(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!(power.miner_power.raw_byte_power, (SECTORS * 2048).to_string());

    // One deadline of two partitions.
    let location = api.state_sector_partition(LotusJson(miner), 0, TipSetKey::head()).await.unwrap().unwrap();
    let partitions = api.state_miner_partitions(LotusJson(miner), location.deadline, TipSetKey::head()).await.unwrap();
    let members: Vec<Vec<u64>> = partitions.iter().map(|p| p.all_sectors.numbers()).collect();
    assert_eq!(members, [vec![0, 1], vec![2, 3]]);
    let deadline = api.state_miner_proving_deadline(LotusJson(miner), TipSetKey::head()).await.unwrap();
    let mut open = deadline.period_start + location.deadline as i64 * CHALLENGE_WINDOW;
    if open + CHALLENGE_WINDOW <= deadline.current_epoch {
        open += deadline.wpost_proving_period;
    }
    let close = open + CHALLENGE_WINDOW;
    let challenge = open - deadline.wpost_challenge_lookback;
    eprintln!("[{}] sectors in deadline {}, open at {open}", elapsed(), location.deadline);

    // The challenge, then one proof per partition; sector 3 is skipped (as a failed check would skip it).
    wait_for_height(&node, challenge).await;
    let entropy = miner_entropy(&miner);
    let mut rand = randomness(&node, true, tags::WINDOWED_POST_CHALLENGE_SEED, challenge, &entropy).await;
    rand[31] &= 0x3f;
    let proofs = tokio::task::spawn_blocking({
        let first: Vec<Sealed> = sealed.iter().take(2).map(clone_sealed).collect();
        let second = clone_sealed(&sealed[2]);
        move || (window_post(&first.iter().collect::<Vec<_>>(), rand), window_post(&[&second], rand))
    })
    .await
    .unwrap();
    eprintln!("[{}] two WindowPoSts made", elapsed());
    wait_for_height(&node, open - 1).await;
    let mut log = MessageLog::default();
    for (step, partition, skipped, proof) in
        [("post-partition-0", 0u64, vec![], proofs.0), ("post-partition-1", 1, vec![3u64], proofs.1)]
    {
        let now = head(&node).await;
        assert!(now + 1 < close, "too late for {step}");
        let commit_epoch = now - 1;
        let commit_rand = randomness(&node, false, tags::POST_CHAIN_COMMIT, commit_epoch, &[]).await;
        let params = miner_state::SubmitWindowedPoStParams {
            deadline: location.deadline,
            partitions: vec![miner_state::PoStPartition {
                index: partition,
                skipped: fvm_ipld_bitfield::BitField::try_from_bits(skipped).unwrap(),
            }],
            proofs: vec![PoStProof { post_proof: RegisteredPoStProof::StackedDRGWindow2KiBV1P1, proof_bytes: proof }],
            chain_commit_epoch: commit_epoch,
            chain_commit_rand: Randomness(commit_rand.to_vec()),
        };
        let message = unsigned_message(
            worker.address(),
            miner,
            TokenAmount::from_atto(0),
            methods::SUBMIT_WINDOWED_POST,
            RawBytes::serialize(&params).unwrap(),
        );
        let landed = push_once(&node, &mut log, &mut NoJournal, step, &message, 0).await;
        let landed = landed.unwrap_or_else(|e| panic!("{step} is accepted: {e}"));
        assert!((open..close).contains(&(landed.height - 1)), "{step} executed in the deadline");
        eprintln!("[{}] {step} accepted", elapsed());
    }
    let deadlines = api.state_miner_deadlines(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!(deadlines[location.deadline as usize].post_submissions.numbers(), [0, 1]);

    // After the deadline: sector 3 faulty without power, the others active.
    wait_for_height(&node, close + 1).await;
    let faults = api.state_miner_faults(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!(faults.numbers(), [3]);
    let count = api.state_miner_sector_count(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!((count.live, count.active, count.faulty), (SECTORS, SECTORS - 1, 1));
    let power = api.state_miner_power(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!(power.miner_power.raw_byte_power, ((SECTORS - 1) * 2048).to_string());
    let active: Vec<u64> = api
        .state_miner_active_sectors(LotusJson(miner), TipSetKey::head())
        .await
        .unwrap()
        .iter()
        .map(|s| s.sector_number)
        .collect();
    assert_eq!(active, [0, 1, 2]);
    let state = api.state_read_state(LotusJson(miner), TipSetKey::head()).await.unwrap().miner_state().unwrap();
    assert!(state.fee_debt.is_zero());
    assert_eq!(state.initial_pledge.0, TokenAmount::from_atto(2_000_000_000_000u64) * SECTORS);
    eprintln!("[{}] sector 3 faulty, 0-2 keep their power", elapsed());
}

fn clone_sealed(s: &Sealed) -> Sealed {
    Sealed { miner: s.miner, number: s.number, cache: s.cache.clone(), sealed: s.sealed.clone(), comm_r: s.comm_r }
}
