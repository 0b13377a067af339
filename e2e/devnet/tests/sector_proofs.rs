//! A real 2KiB sector on the devnet binary: sealed with filecoin-proofs-api, pre-committed and prove-committed
//! (a garbage proof first, refused), proven with a WindowPoSt in its deadline (a garbage PoSt first,
//! refused), then left unproven for a proving period so its deadline closes and faults it.
//!
//! A deadline must be long enough to draw its challenge, generate the PoSt and land it (seconds on a loaded
//! machine), and a proving period is 48 deadlines: the devnet runs with slow epochs while proving, then is
//! restarted on the same repo with fast epochs to let the period pass (which also checks that sectors and
//! their deadlines survive a restart).
//!
//! Needs the parameters `scripts/params.sh` generates once per machine: the directory comes from
//! `SEALSTACK_GENERATED_PARAMS`; without it the test says so and passes, unless
//! `SEALSTACK_REQUIRE_GENERATED_PARAMS=1` makes that a failure.

#[allow(dead_code)] // not every helper of the shared module is used here
mod support;

use support::DevnetProcess;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cid::Cid;
use cid::multihash::Multihash;
use filecoin_proofs_api as proofs;
use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use fvm_shared::randomness::Randomness;
use fvm_shared::sector::{PoStProof, RegisteredPoStProof, SectorSize};
use sealstack_chain::actors::{methods, miner_state, seal_proof};
use sealstack_chain::miner::PartitionJson;
use sealstack_chain::miner_creation::{CreateMinerRequest, CreationRecord, create_miner};
use sealstack_chain::node::MsgLookup;
use sealstack_chain::push::{MessageLog, NoJournal, push_once};
use sealstack_chain::randomness::{miner_entropy, tags};
use sealstack_chain::{ChainError, FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_devnet::model::prover_id;
use sealstack_devnet::proofs::{api_seal_proof, api_window_post_proof};

/// Epoch length while sealing and proving.
const BLOCK_TIME_MS: u64 = 200;
/// Epoch length while waiting for the next proving period.
const FAST_BLOCK_TIME_MS: u64 = 20;
/// Epochs per WindowPoSt deadline: 8 s at `BLOCK_TIME_MS`, room to generate a PoSt (~1 s on an idle 2-core
/// machine, 3 s and more on a busy one) and land two messages in one deadline. A proving period is
/// 48 deadlines: 1920 epochs, 38 s at `FAST_BLOCK_TIME_MS`.
const CHALLENGE_WINDOW: i64 = 40;
/// Epochs between PreCommit and the interactive seed.
const PRE_COMMIT_CHALLENGE_DELAY: i64 = 3;
/// The sector sealed.
const SECTOR: u64 = 1;

/// The generated parameters' directory, or `None` (with the reason printed) when the test must be skipped.
fn generated_dir() -> Option<PathBuf> {
    match std::env::var_os("SEALSTACK_GENERATED_PARAMS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("SEALSTACK_REQUIRE_GENERATED_PARAMS").is_ok_and(|v| v == "1") => {
            panic!("SEALSTACK_GENERATED_PARAMS is not set; run scripts/params.sh")
        }
        None => {
            eprintln!("skipped: SEALSTACK_GENERATED_PARAMS is not set (scripts/params.sh makes the parameters)");
            None
        }
    }
}

/// The devnet with this test's epochs and deadlines; new sectors go to the deadline that opens soonest
/// (`--pack-sectors`), so the test waits a deadline or two for its WindowPoSt, not up to a proving period.
fn start_devnet(repo: &Path, block_time_ms: u64) -> DevnetProcess {
    let pack = [std::ffi::OsStr::new("--pack-sectors")];
    DevnetProcess::start_with_args(repo, block_time_ms, CHALLENGE_WINDOW, PRE_COMMIT_CHALLENGE_DELAY, &pack)
}

async fn head(node: &Node) -> i64 {
    node.api().chain_head().await.unwrap().height
}

/// Waits until the head is at least `height`.
async fn wait_for_height(node: &Node, height: i64) {
    while head(node).await < height {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ticket_randomness(node: &Node, tag: i64, epoch: i64, entropy: &[u8]) -> [u8; 32] {
    // An explicit key: Lotus (and the devnet with it) refuses the empty key for ticket randomness.
    let head = node.api().chain_head().await.unwrap().key();
    let bytes =
        node.api().state_get_randomness_from_tickets(tag, epoch, LotusJson(entropy.to_vec()), head).await.unwrap();
    bytes.0.try_into().expect("32 bytes of randomness")
}

async fn beacon_randomness(node: &Node, tag: i64, epoch: i64, entropy: &[u8]) -> [u8; 32] {
    let bytes = node
        .api()
        .state_get_randomness_from_beacon(tag, epoch, LotusJson(entropy.to_vec()), TipSetKey::head())
        .await
        .unwrap();
    bytes.0.try_into().expect("32 bytes of randomness")
}

async fn partitions(node: &Node, miner: Address, deadline: u64) -> Vec<PartitionJson> {
    node.api().state_miner_partitions(LotusJson(miner), deadline, TipSetKey::head()).await.unwrap().into()
}

fn message(from: Address, to: Address, method_num: u64, params: RawBytes, value: TokenAmount) -> Message {
    sealstack_chain::message::unsigned_message(from, to, value, method_num, params)
}

/// A miner method call from the worker, pushed once under `step` and waited for (no confidence).
async fn call(
    node: &Node,
    log: &mut MessageLog,
    step: &str,
    worker: Address,
    miner: Address,
    method: u64,
    params: &impl serde::Serialize,
) -> Result<MsgLookup, ChainError> {
    let params = RawBytes::serialize(params).unwrap();
    let message = message(worker, miner, method, params, TokenAmount::from_atto(0));
    push_once(node, log, &mut NoJournal, step, &message, 0).await
}

fn assert_illegal_argument(result: Result<MsgLookup, ChainError>, step: &str) {
    match result {
        Err(ChainError::MessageFailed { exit_code: 16, what, .. }) => assert_eq!(what, step),
        other => panic!("{step}: expected exit code 16 (USR_ILLEGAL_ARGUMENT), got {other:?}"),
    }
}

/// Runs blocking proof work off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("proof task panicked")
}

/// The CommR CID: FilCommitmentSealed over poseidon-bls12_381-a2-fc1.
fn sealed_cid(comm_r: [u8; 32]) -> Cid {
    Cid::new_v1(0xf102, Multihash::wrap(0xb401, &comm_r).unwrap())
}

/// A WindowPoSt over the one sector, checked locally.
async fn window_post(
    proof_type: proofs::RegisteredPoStProof,
    comm_r: [u8; 32],
    cache: &Path,
    sealed: &Path,
    prover: [u8; 32],
    randomness: [u8; 32],
) -> Vec<u8> {
    let replica = proofs::PrivateReplicaInfo::new(proof_type, comm_r, cache.to_path_buf(), sealed.to_path_buf());
    blocking(move || {
        let sector_id = proofs::SectorId::from(SECTOR);
        let replicas = BTreeMap::from([(sector_id, replica)]);
        let mut generated = proofs::post::generate_window_post(&randomness, &replicas, prover).unwrap();
        assert_eq!(generated.len(), 1);
        let (proof_type, proof) = generated.remove(0);
        let public = BTreeMap::from([(sector_id, proofs::PublicReplicaInfo::new(proof_type, comm_r))]);
        let valid = proofs::post::verify_window_post(&randomness, &[(proof_type, &proof)], &public, prover).unwrap();
        assert!(valid, "the WindowPoSt verifies locally");
        proof
    })
    .await
}

fn post_params(
    deadline: u64,
    proof_bytes: Vec<u8>,
    chain_commit_epoch: i64,
    chain_commit_rand: [u8; 32],
) -> miner_state::SubmitWindowedPoStParams {
    miner_state::SubmitWindowedPoStParams {
        deadline,
        partitions: vec![miner_state::PoStPartition { index: 0, skipped: Default::default() }],
        proofs: vec![PoStProof { post_proof: RegisteredPoStProof::StackedDRGWindow2KiBV1P1, proof_bytes }],
        chain_commit_epoch,
        chain_commit_rand: Randomness(chain_commit_rand.to_vec()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_sector_is_proven_and_a_missed_deadline_faults() {
    let Some(params) = generated_dir() else { return };
    // The proofs library reads its parameter cache from the environment once per process, and proving
    // here must use the same keys the devnet verifies with: the generated ones. This is the only test in
    // this binary and nothing has read the environment concurrently yet.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let started = Instant::now();
    let elapsed = move || format!("{:.1}s", started.elapsed().as_secs_f64());

    let repo = tempfile::tempdir().unwrap();
    let devnet = start_devnet(repo.path(), BLOCK_TIME_MS);
    let node = devnet.connect().await;
    let api = node.api();

    // A miner with a funded BLS worker, and funds in the miner for the deposits.
    let mut request = CreateMinerRequest::new(SectorSize::_2KiB, support::peer_id());
    request.create_worker_key = true;
    request.confidence = 1;
    request.worker_funding = TokenAmount::from_whole(10);
    let created = create_miner(&node, &request, &mut CreationRecord::default(), &mut NoJournal).await.unwrap();
    let miner = created.id_address;
    let miner_id = miner.id().unwrap();
    let worker = created.worker;
    let mut log = MessageLog::default();
    let fund = message(created.owner, miner, methods::SEND, RawBytes::default(), TokenAmount::from_whole(1));
    push_once(&node, &mut log, &mut NoJournal, "fund-miner", &fund, 0).await.unwrap();
    eprintln!("[{}] miner {miner} created and funded", elapsed());

    // PC1 + PC2 of a committed-capacity sector, with a ticket from the chain.
    let entropy = miner_entropy(&Address::new_id(miner_id));
    let on_chain_seal_proof = seal_proof(SectorSize::_2KiB);
    let registered = api_seal_proof(on_chain_seal_proof).unwrap();
    let post_proof = api_window_post_proof(RegisteredPoStProof::StackedDRGWindow2KiBV1P1).unwrap();
    let prover = prover_id(miner_id);
    let sector_id = proofs::SectorId::from(SECTOR);
    let sector_dir = tempfile::tempdir().unwrap();
    let cache = sector_dir.path().join("cache");
    let sealed = sector_dir.path().join("sealed");
    std::fs::create_dir(&cache).unwrap();
    // PC1 writes into an existing sealed file; `/dev/zero` as the data makes it a committed-capacity sector.
    std::fs::File::create(&sealed).unwrap();

    let seal_rand_epoch = head(&node).await - 1;
    let ticket = ticket_randomness(&node, tags::SEAL_RANDOMNESS, seal_rand_epoch, &entropy).await;
    let pre_commit = blocking({
        let (cache, sealed) = (cache.clone(), sealed.clone());
        move || {
            let phase1 = proofs::seal::seal_pre_commit_phase1(
                registered,
                &cache,
                "/dev/zero",
                &sealed,
                prover,
                sector_id,
                ticket,
                &[],
            )
            .unwrap();
            proofs::seal::seal_pre_commit_phase2(phase1, &cache, &sealed).unwrap()
        }
    })
    .await;
    let comm_r = pre_commit.comm_r;
    let sealed_cid = sealed_cid(comm_r);
    eprintln!("[{}] sealed: CommR {sealed_cid}", elapsed());

    // PreCommitSectorBatch2 from the worker.
    let expiration = head(&node).await + 10_000;
    let precommit = miner_state::PreCommitSectorBatchParams2 {
        sectors: vec![miner_state::SectorPreCommitInfo {
            seal_proof: on_chain_seal_proof,
            sector_number: SECTOR,
            sealed_cid,
            seal_rand_epoch,
            deal_ids: Vec::new(),
            expiration,
            unsealed_cid: miner_state::CompactCommD(None),
        }],
    };
    call(&node, &mut log, "pre-commit", worker, miner, methods::PRE_COMMIT_SECTOR_BATCH2, &precommit).await.unwrap();
    let on_chain = api
        .state_sector_pre_commit_info(LotusJson(miner), SECTOR, TipSetKey::head())
        .await
        .unwrap()
        .expect("sector 1 is pre-committed");
    assert_eq!(on_chain.info.sealed_cid.0, sealed_cid);
    assert_eq!(on_chain.info.seal_rand_epoch, seal_rand_epoch);
    let seed_epoch = on_chain.pre_commit_epoch + PRE_COMMIT_CHALLENGE_DELAY;
    eprintln!("[{}] pre-committed at epoch {}", elapsed(), on_chain.pre_commit_epoch);

    // The interactive seed, once the delay passed.
    wait_for_height(&node, seed_epoch + 1).await;
    let seed = beacon_randomness(&node, tags::INTERACTIVE_SEAL_CHALLENGE_SEED, seed_epoch, &entropy).await;

    let prove_params = |proof: Vec<u8>| miner_state::ProveCommitSectors3Params {
        sector_activations: vec![miner_state::SectorActivationManifest { sector_number: SECTOR, pieces: Vec::new() }],
        sector_proofs: vec![RawBytes::new(proof)],
        aggregate_proof: RawBytes::default(),
        aggregate_proof_type: None,
        require_activation_success: true,
        require_notification_success: true,
    };
    // A garbage proof is refused (and the sector stays pre-committed).
    let garbage = call(
        &node,
        &mut log,
        "prove-commit-garbage",
        worker,
        miner,
        methods::PROVE_COMMIT_SECTORS3,
        &prove_params(vec![0x01; 192]),
    )
    .await;
    assert_illegal_argument(garbage, "prove-commit-garbage");
    assert!(api.state_sector_pre_commit_info(LotusJson(miner), SECTOR, TipSetKey::head()).await.unwrap().is_some());

    // C1 + C2, checked locally before the chain sees them.
    let proof = blocking({
        let (cache, sealed) = (cache.clone(), sealed.clone());
        move || {
            let phase1 =
                proofs::seal::seal_commit_phase1(cache, sealed, prover, sector_id, ticket, seed, pre_commit, &[])
                    .unwrap();
            let proof = proofs::seal::seal_commit_phase2(phase1, prover, sector_id).unwrap().proof;
            let comm_d = proofs::seal::compute_comm_d(registered, &[]).unwrap();
            let valid =
                proofs::seal::verify_seal(registered, comm_r, comm_d, prover, sector_id, ticket, seed, &proof).unwrap();
            assert!(valid, "the seal proof verifies locally");
            proof
        }
    })
    .await;
    eprintln!("[{}] seal proof made ({} bytes)", elapsed(), proof.len());
    let proven =
        call(&node, &mut log, "prove-commit", worker, miner, methods::PROVE_COMMIT_SECTORS3, &prove_params(proof))
            .await
            .unwrap();
    let sectors = api.state_miner_sectors(LotusJson(miner), None, TipSetKey::head()).await.unwrap();
    assert_eq!(sectors.iter().map(|s| s.sector_number).collect::<Vec<_>>(), [SECTOR]);
    assert_eq!(sectors[0].sealed_cid.0, sealed_cid);
    assert_eq!(sectors[0].activation, proven.height - 1, "a message executes at the epoch before its receipt");
    eprintln!("[{}] sector {SECTOR} proven at epoch {}", elapsed(), sectors[0].activation);

    // The sector's deadline and partition.
    let mut assigned = None;
    for deadline in 0..48 {
        for (index, partition) in partitions(&node, miner, deadline).await.into_iter().enumerate() {
            if partition.all_sectors.numbers().contains(&SECTOR) {
                assigned = Some((deadline, index));
            }
        }
    }
    let (deadline, partition) = assigned.expect("sector 1 is in a deadline");
    assert_eq!(partition, 0);

    // The next opening of that deadline.
    let info = api.state_miner_proving_deadline(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert_eq!(info.wpost_challenge_window, CHALLENGE_WINDOW);
    let period = info.wpost_proving_period;
    let mut open = info.period_start + deadline as i64 * CHALLENGE_WINDOW;
    if open + CHALLENGE_WINDOW <= info.current_epoch {
        open += period;
    }
    let close = open + CHALLENGE_WINDOW;
    let challenge = open - info.wpost_challenge_lookback;
    assert!(open > info.current_epoch, "deadline {deadline} opens after the sector was proven: {info:?}");
    eprintln!("[{}] sector in deadline {deadline}, open at epoch {open}", elapsed());

    // WindowPoSt: the challenge is drawn `lookback` epochs before the deadline opens, so the proof can be
    // generated from then on and submitted once open.
    wait_for_height(&node, challenge).await;
    let mut randomness = beacon_randomness(&node, tags::WINDOWED_POST_CHALLENGE_SEED, challenge, &entropy).await;
    // To a field element, as the FVM does before verifying (and the devnet too).
    randomness[31] &= 0x3f;
    let generating = Instant::now();
    let post = window_post(post_proof, comm_r, &cache, &sealed, prover, randomness).await;
    eprintln!("[{}] WindowPoSt made in {:.1}s ({} bytes)", elapsed(), generating.elapsed().as_secs_f64(), post.len());

    // Messages pushed at head H execute at epoch H + 1: push once that is inside the deadline.
    wait_for_height(&node, open - 1).await;
    let current = api.state_miner_proving_deadline(LotusJson(miner), TipSetKey::head()).await.unwrap();
    assert!(current.current_epoch + 1 < close, "the WindowPoSt was made too late: {current:?}");
    let chain_commit_epoch = current.current_epoch - 1;
    let chain_commit_rand = ticket_randomness(&node, tags::POST_CHAIN_COMMIT, chain_commit_epoch, &[]).await;
    // A garbage PoSt is refused.
    let garbage_post = post_params(deadline, vec![0x01; 192], chain_commit_epoch, chain_commit_rand);
    let refused =
        call(&node, &mut log, "post-garbage", worker, miner, methods::SUBMIT_WINDOWED_POST, &garbage_post).await;
    assert_illegal_argument(refused, "post-garbage");
    let real_post = post_params(deadline, post, chain_commit_epoch, chain_commit_rand);
    let submitted = call(&node, &mut log, "post", worker, miner, methods::SUBMIT_WINDOWED_POST, &real_post)
        .await
        .unwrap_or_else(|e| panic!("the WindowPoSt is accepted: {e}"));
    let executed_at = submitted.height - 1;
    assert!((open..close).contains(&executed_at), "PoSt executed at {executed_at}, deadline [{open}, {close})");
    eprintln!("[{}] WindowPoSt accepted at epoch {executed_at}", elapsed());

    // The deadline closes with the sector proven: not faulty.
    wait_for_height(&node, close + 1).await;
    let after_post = partitions(&node, miner, deadline).await;
    assert!(after_post[0].faulty_sectors.numbers().is_empty(), "{after_post:?}");
    assert_eq!(after_post[0].active_sectors.numbers(), [SECTOR]);

    // The same chain with fast epochs: a proving period later the deadline closes again without a PoSt,
    // and the sector is faulty.
    drop(devnet);
    let devnet = start_devnet(repo.path(), FAST_BLOCK_TIME_MS);
    let node = devnet.connect().await;
    let api = node.api();
    let next_close = close + period;
    assert!(head(&node).await < next_close - CHALLENGE_WINDOW);
    let sectors = api.state_miner_sectors(LotusJson(miner), None, TipSetKey::head()).await.unwrap();
    assert_eq!(sectors.iter().map(|s| s.sector_number).collect::<Vec<_>>(), [SECTOR], "kept across a restart");
    let before = partitions(&node, miner, deadline).await;
    assert_eq!(before[0].active_sectors.numbers(), [SECTOR], "not faulty before its deadline: {before:?}");
    eprintln!("[{}] restarted; waiting for deadline {deadline} to close unproven at epoch {next_close}", elapsed());
    wait_for_height(&node, next_close).await;
    let faulted = partitions(&node, miner, deadline).await;
    assert_eq!(faulted[0].faulty_sectors.numbers(), [SECTOR], "{faulted:?}");
    assert!(faulted[0].active_sectors.numbers().is_empty(), "{faulted:?}");
    assert_eq!(faulted[0].live_sectors.numbers(), [SECTOR], "a faulty sector is still live");
    eprintln!("[{}] sector {SECTOR} faulty after its missed deadline", elapsed());
}
