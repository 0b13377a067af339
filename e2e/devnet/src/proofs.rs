//! Real proof verification with filecoin-proofs-api: the devnet checks seal proofs (one by one or aggregated)
//! and WindowPoSt proofs exactly as the FVM's proof syscalls do. Verifying keys come from
//! `FIL_PROOFS_PARAMETER_CACHE` (generated or fetched devnet parameters).

use std::collections::BTreeMap;

use filecoin_proofs_api as proofs;
use fvm_shared::sector::{RegisteredPoStProof, RegisteredSealProof};

use crate::model::{AggregateToVerify, PoStToVerify, SealInputs, SealToVerify};

/// The filecoin-proofs-api seal type of an on-chain V1_1 seal proof type.
pub fn api_seal_proof(proof: RegisteredSealProof) -> Result<proofs::RegisteredSealProof, String> {
    use RegisteredSealProof as F;
    use proofs::RegisteredSealProof as P;
    Ok(match proof {
        F::StackedDRG2KiBV1P1 => P::StackedDrg2KiBV1_1,
        F::StackedDRG8MiBV1P1 => P::StackedDrg8MiBV1_1,
        F::StackedDRG512MiBV1P1 => P::StackedDrg512MiBV1_1,
        F::StackedDRG32GiBV1P1 => P::StackedDrg32GiBV1_1,
        F::StackedDRG64GiBV1P1 => P::StackedDrg64GiBV1_1,
        other => return Err(format!("seal proof type {} is not supported", i64::from(other))),
    })
}

/// The filecoin-proofs-api WindowPoSt type of an on-chain V1_1 WindowPoSt type (V1_2 in the proofs library).
pub fn api_window_post_proof(proof: RegisteredPoStProof) -> Result<proofs::RegisteredPoStProof, String> {
    use RegisteredPoStProof as F;
    use proofs::RegisteredPoStProof as P;
    Ok(match proof {
        F::StackedDRGWindow2KiBV1P1 => P::StackedDrgWindow2KiBV1_2,
        F::StackedDRGWindow8MiBV1P1 => P::StackedDrgWindow8MiBV1_2,
        F::StackedDRGWindow512MiBV1P1 => P::StackedDrgWindow512MiBV1_2,
        F::StackedDRGWindow32GiBV1P1 => P::StackedDrgWindow32GiBV1_2,
        F::StackedDRGWindow64GiBV1P1 => P::StackedDrgWindow64GiBV1_2,
        other => return Err(format!("WindowPoSt proof type {} is not supported", i64::from(other))),
    })
}

/// Verifies a seal proof.
pub fn verify_seal(seal: &SealToVerify) -> Result<bool, String> {
    let inputs = &seal.inputs;
    let proof_type = api_seal_proof(inputs.proof_type)?;
    proofs::seal::verify_seal(
        proof_type,
        inputs.comm_r,
        comm_d(proof_type, inputs)?,
        inputs.prover_id,
        inputs.sector.into(),
        inputs.ticket,
        inputs.seed,
        &seal.proof,
    )
    .map_err(|e| format!("{e:#}"))
}

/// Verifies a SnarkPackV2 aggregate of seal proofs as the FVM's `verify_aggregate_seals` does: the public inputs
/// of every sector (`get_seal_inputs`) concatenated in the message's order, with their CommR and seeds. Needs the
/// SnarkPack SRS (`v28-fil-inner-product-v1.srs`) in the parameter cache; a panic of the proofs library is an error.
pub fn verify_aggregate_seal(aggregate: &AggregateToVerify) -> Result<bool, String> {
    let first = aggregate.seals.first().ok_or("no seal verify infos")?;
    let proof_type = api_seal_proof(first.proof_type)?;
    let mut commit_inputs = Vec::new();
    for seal in &aggregate.seals {
        let inputs = proofs::seal::get_seal_inputs(
            proof_type,
            seal.comm_r,
            comm_d(proof_type, seal)?,
            seal.prover_id,
            seal.sector.into(),
            seal.ticket,
            seal.seed,
        )
        .map_err(|e| format!("seal inputs of sector {}: {e:#}", seal.sector))?;
        commit_inputs.extend(inputs);
    }
    let comm_rs: Vec<[u8; 32]> = aggregate.seals.iter().map(|s| s.comm_r).collect();
    let seeds: Vec<[u8; 32]> = aggregate.seals.iter().map(|s| s.seed).collect();
    let verify = || {
        proofs::seal::verify_aggregate_seal_commit_proofs(
            proof_type,
            proofs::RegisteredAggregationProof::SnarkPackV2,
            aggregate.proof.clone(),
            &comm_rs,
            &seeds,
            commit_inputs,
        )
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(verify)) {
        Ok(result) => result.map_err(|e| format!("{e:#}")),
        Err(_) => Err("the proofs library panicked verifying the aggregate".into()),
    }
}

/// A sector's CommD: the declared one, or for a committed-capacity sector the zero-data commitment of its size.
fn comm_d(proof_type: proofs::RegisteredSealProof, seal: &SealInputs) -> Result<[u8; 32], String> {
    match seal.comm_d {
        Some(comm_d) => Ok(comm_d),
        None => proofs::seal::compute_comm_d(proof_type, &[]).map_err(|e| e.to_string()),
    }
}

/// Verifies a WindowPoSt over the challenged sectors. Like the FVM, the randomness's last byte is masked to
/// a field element (`& 0x3f`).
pub fn verify_window_post(post: &PoStToVerify) -> Result<bool, String> {
    let proof_type = api_window_post_proof(post.proof_type)?;
    let mut randomness = post.randomness;
    randomness[31] &= 0x3f;
    let replicas: BTreeMap<_, _> = post
        .sectors
        .iter()
        .map(|(number, comm_r)| ((*number).into(), proofs::PublicReplicaInfo::new(proof_type, *comm_r)))
        .collect();
    proofs::post::verify_window_post(&randomness, &[(proof_type, post.proof.as_slice())], &replicas, post.prover_id)
        .map_err(|e| format!("{e:#}"))
}

/// The filecoin-proofs-api WinningPoSt type of a miner's on-chain WindowPoSt type (lotus
/// `WinningPoStProofTypeFromWindowPoStProofType`), with its on-chain number (`RegisteredPoStProof` Winning, 0-4).
pub fn winning_post_proof_of(window: RegisteredPoStProof) -> Result<(proofs::RegisteredPoStProof, i64), String> {
    use RegisteredPoStProof as F;
    use proofs::RegisteredPoStProof as P;
    Ok(match window {
        F::StackedDRGWindow2KiBV1P1 => (P::StackedDrgWinning2KiBV1, i64::from(F::StackedDRGWinning2KiBV1)),
        F::StackedDRGWindow8MiBV1P1 => (P::StackedDrgWinning8MiBV1, i64::from(F::StackedDRGWinning8MiBV1)),
        F::StackedDRGWindow512MiBV1P1 => (P::StackedDrgWinning512MiBV1, i64::from(F::StackedDRGWinning512MiBV1)),
        F::StackedDRGWindow32GiBV1P1 => (P::StackedDrgWinning32GiBV1, i64::from(F::StackedDRGWinning32GiBV1)),
        F::StackedDRGWindow64GiBV1P1 => (P::StackedDrgWinning64GiBV1, i64::from(F::StackedDRGWinning64GiBV1)),
        other => return Err(format!("unknown proof type {}", i64::from(other))),
    })
}

/// The indexes (into the miner's active sectors, in number order) that a WinningPoSt of `randomness` challenges
/// (lotus `GenerateWinningPoStSectorChallenge`; the randomness is masked to a field element first).
pub fn winning_post_challenge(
    proof: proofs::RegisteredPoStProof,
    mut randomness: [u8; 32],
    prover_id: [u8; 32],
    sector_count: u64,
) -> Result<Vec<u64>, String> {
    randomness[31] &= 0x3f;
    proofs::post::generate_winning_post_sector_challenge(proof, &randomness, sector_count, prover_id)
        .map_err(|e| format!("{e:#}"))
}

/// Verifies a WinningPoSt over the challenged sectors (number and CommR), as the FVM's `verify_post` does.
pub fn verify_winning_post(
    proof: proofs::RegisteredPoStProof,
    mut randomness: [u8; 32],
    prover_id: [u8; 32],
    proof_bytes: &[u8],
    sectors: &[(u64, [u8; 32])],
) -> Result<bool, String> {
    randomness[31] &= 0x3f;
    let replicas: BTreeMap<_, _> = sectors
        .iter()
        .map(|(number, comm_r)| ((*number).into(), proofs::PublicReplicaInfo::new(proof, *comm_r)))
        .collect();
    proofs::post::verify_winning_post(&randomness, proof_bytes, &replicas, prover_id).map_err(|e| format!("{e:#}"))
}
