//! SnarkPack aggregation of seal proofs: the `aggregate_proof` of a ProveCommitSectors3 that proves many sectors
//! with one proof (builtin-actors: 4 to 819 sectors, `RegisteredAggregateProof::SnarkPackV2`). The chain's check
//! of it is the devnet's (`e2e/devnet/src/proofs.rs`).
//!
//! It reads the aggregation SRS (`v28-fil-inner-product-v1.srs`) from `FIL_PROOFS_PARAMETER_CACHE`: Filecoin's
//! trusted setup on a real network, the one `params generate` makes on a devnet. The seals are taken in the
//! order given; a ProveCommitSectors3 lists its sectors in the same order (the daemon sorts them by number).

use filecoin_proofs_api as api;

use super::error::SealingError;
use super::proofs::api_seal_proof;
use super::sector::SectorRef;

/// One sector's seal, as an aggregate proves it.
#[derive(Clone, Debug)]
pub struct SealToAggregate {
    /// The sector.
    pub sector: SectorRef,
    /// Its CommR.
    pub comm_r: [u8; 32],
    /// The interactive seed.
    pub seed: [u8; 32],
    /// Its seal proof (Commit2's output).
    pub proof: Vec<u8>,
}

/// The registered proof shared by every seal (an aggregate proves one proof type).
fn shared_proof(seals: &[SealToAggregate]) -> Result<api::RegisteredSealProof, SealingError> {
    let first = seals.first().ok_or_else(|| SealingError::InvalidInput("no seal proofs to aggregate".into()))?;
    if let Some(other) = seals.iter().find(|s| s.sector.proof != first.sector.proof) {
        return Err(SealingError::InvalidInput(format!(
            "sector {} is {:?}, sector {} is {:?}: an aggregate proves one proof type",
            first.sector.number, first.sector.proof, other.sector.number, other.sector.proof
        )));
    }
    api_seal_proof(first.sector.proof)
}

/// Aggregates the seals' proofs into one SnarkPack (v2) proof.
pub fn aggregate_seal_proofs(seals: &[SealToAggregate]) -> Result<Vec<u8>, SealingError> {
    let proof = shared_proof(seals)?;
    let comm_rs: Vec<[u8; 32]> = seals.iter().map(|s| s.comm_r).collect();
    let seeds: Vec<[u8; 32]> = seals.iter().map(|s| s.seed).collect();
    let outputs: Vec<api::seal::SealCommitPhase2Output> =
        seals.iter().map(|s| api::seal::SealCommitPhase2Output { proof: s.proof.clone() }).collect();
    api::seal::aggregate_seal_commit_proofs(
        proof,
        api::RegisteredAggregationProof::SnarkPackV2,
        &comm_rs,
        &seeds,
        &outputs,
    )
    .map_err(|e| SealingError::proofs("AggregateSealProofs", e))
}
