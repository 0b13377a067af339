//! A 2KiB committed-capacity sector sealed through every stage of `sealstack_miner::sealing` in a temporary
//! storage root, its seal proof checked, and a WindowPoSt generated and checked over it.
//!
//! Needs the parameters `scripts/params.sh` generates once per machine: the directory comes from
//! `SEALSTACK_GENERATED_PARAMS`; without it the test says so and passes, unless
//! `SEALSTACK_REQUIRE_GENERATED_PARAMS=1` makes that a failure.

#[path = "support/generated.rs"]
mod generated;

use generated::generated_dir;
use std::time::Instant;

use fvm_shared::sector::{RegisteredPoStProof, RegisteredSealProof};
use sealstack_miner::sealing::{
    self, ProvingSector, SEALED_CODEC, SectorFiles, SectorRef, UNSEALED_CODEC, commitment_of, sealed_cid, unsealed_cid,
};

const TICKET: [u8; 32] = [3; 32];
const SEED: [u8; 32] = [5; 32];

#[test]
fn a_2kib_cc_sector_is_sealed_verified_and_window_posted() {
    let Some(params) = generated_dir() else { return };
    // SAFETY: the proofs library reads its parameter cache from the environment, once per process. This is the
    // only test of this binary and it sets the variable first, before any thread that could read the environment.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let started = Instant::now();
    let elapsed = move || format!("{:.1}s", started.elapsed().as_secs_f64());

    let root = tempfile::tempdir().unwrap();
    let sector = SectorRef { miner: 1000, number: 1, proof: RegisteredSealProof::StackedDRG2KiBV1P1 };
    let files = SectorFiles::new(root.path(), &sector);
    assert_eq!(files.sealed, root.path().join("sealed/s-t01000-1"));

    let piece = sealing::add_piece_cc(&sector, &files).unwrap();
    assert_eq!(std::fs::metadata(&files.unsealed).unwrap().len(), 2048);
    let pieces = [piece];
    let phase1 = sealing::precommit1(&sector, &files, TICKET, &pieces).unwrap();
    eprintln!("[{}] PreCommit1: {} bytes of JSON", elapsed(), phase1.0.len());
    let commitments = sealing::precommit2(&sector, &files, &phase1).unwrap();
    assert_eq!(std::fs::metadata(&files.sealed).unwrap().len(), 2048);
    assert!(!sealing::staged_path(&files.sealed).exists());
    assert_eq!(commitments.comm_d, pieces[0].commitment, "a CC sector's CommD is its one zero piece's");
    let comm_r_cid = sealed_cid(commitments.comm_r);
    let comm_d_cid = unsealed_cid(commitments.comm_d);
    eprintln!("[{}] PreCommit2: CommR {comm_r_cid}, CommD {comm_d_cid}", elapsed());

    // The CIDs round-trip, also through their strings, and do not stand in for each other.
    let parsed: cid::Cid = comm_r_cid.to_string().parse().unwrap();
    assert_eq!(commitment_of(&parsed, SEALED_CODEC).unwrap(), commitments.comm_r);
    assert_eq!(commitment_of(&comm_d_cid, UNSEALED_CODEC).unwrap(), commitments.comm_d);
    assert!(commitment_of(&comm_r_cid, UNSEALED_CODEC).is_err());

    let commit1 = sealing::commit1(&sector, &files, TICKET, SEED, &commitments, &pieces).unwrap();
    eprintln!("[{}] Commit1: {} bytes of JSON", elapsed(), commit1.0.len());
    let proof = sealing::commit2(&sector, &commit1).unwrap();
    eprintln!("[{}] Commit2: {}-byte seal proof", elapsed(), proof.len());
    assert!(sealing::verify_seal(&sector, &commitments, TICKET, SEED, &proof).unwrap(), "the seal proof holds");
    let mut other_seed = SEED;
    other_seed[0] ^= 1;
    assert!(!sealing::verify_seal(&sector, &commitments, TICKET, other_seed, &proof).unwrap(), "not for another seed");

    // WindowPoSt with randomness whose last byte needs the mask; verification masks the same way.
    let randomness = [0xff; 32];
    let proving = ProvingSector { sector, files: files.clone(), comm_r: commitments.comm_r };
    let posts = sealing::generate_window_post(randomness, &[proving]).unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].post_proof, RegisteredPoStProof::StackedDRGWindow2KiBV1P1);
    eprintln!("[{}] WindowPoSt: {} bytes", elapsed(), posts[0].proof_bytes.len());
    let sectors = [(sector.number, commitments.comm_r)];
    assert!(sealing::verify_window_post(randomness, sector.miner, &posts, &sectors).unwrap(), "the PoSt holds");
    let mut other_randomness = randomness;
    other_randomness[0] ^= 1;
    assert!(!sealing::verify_window_post(other_randomness, sector.miner, &posts, &sectors).unwrap());
    eprintln!("[{}] done", elapsed());
}
