//! WindowPoSt over sealed sectors: generating the proof a miner submits for a partition, and checking it locally.

use std::collections::BTreeMap;

use filecoin_proofs_api as api;
use fvm_shared::sector::{PoStProof, RegisteredPoStProof};

use super::error::SealingError;
use super::proofs::{api_window_post_proof, prover_id, window_post_proof_of};
use super::sector::{SectorFiles, SectorRef};

/// A sealed sector to prove: its identity, its files and its CommR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvingSector {
    /// The sector.
    pub sector: SectorRef,
    /// Its files (the sealed file and the cache directory are read).
    pub files: SectorFiles,
    /// Its replica commitment.
    pub comm_r: [u8; 32],
}

/// The challenge randomness as a field element: the last byte's two high bits cleared, as Lotus and the FVM do.
fn masked(mut randomness: [u8; 32]) -> [u8; 32] {
    randomness[31] &= 0x3f;
    randomness
}

/// The miner and the on-chain WindowPoSt type shared by all `sectors`.
fn common_miner_and_type(sectors: &[ProvingSector]) -> Result<(u64, RegisteredPoStProof), SealingError> {
    let first = sectors.first().ok_or_else(|| SealingError::InvalidInput("no sectors to prove".into()))?;
    let post_type = window_post_proof_of(first.sector.proof)?;
    for s in sectors {
        if s.sector.miner != first.sector.miner {
            return Err(SealingError::InvalidInput(format!(
                "sectors of miners t0{} and t0{} in one WindowPoSt",
                first.sector.miner, s.sector.miner
            )));
        }
        if window_post_proof_of(s.sector.proof)? != post_type {
            return Err(SealingError::InvalidInput(format!(
                "sector {} has another proof type than sector {}",
                s.sector.number, first.sector.number
            )));
        }
    }
    Ok((first.sector.miner, post_type))
}

/// Generates the WindowPoSt of `sectors` (all of one miner and one proof type, each at most once) for the
/// challenge `randomness` (masked to a field element first). Blocking, like the sealing stages.
pub fn generate_window_post(randomness: [u8; 32], sectors: &[ProvingSector]) -> Result<Vec<PoStProof>, SealingError> {
    let (miner, post_type) = common_miner_and_type(sectors)?;
    let api_type = api_window_post_proof(post_type)?;
    let mut replicas = BTreeMap::new();
    for s in sectors {
        let replica = api::PrivateReplicaInfo::new(api_type, s.comm_r, s.files.cache.clone(), s.files.sealed.clone());
        if replicas.insert(api::SectorId::from(s.sector.number), replica).is_some() {
            return Err(SealingError::InvalidInput(format!("sector {} is listed twice", s.sector.number)));
        }
    }
    let generated = api::post::generate_window_post(&masked(randomness), &replicas, prover_id(miner))
        .map_err(|e| SealingError::proofs("WindowPoSt", e))?;
    generated
        .into_iter()
        .map(|(proof, bytes)| {
            if proof != api_type {
                return Err(SealingError::Proofs {
                    stage: "WindowPoSt",
                    message: format!("the library proved with {proof:?}, expected {api_type:?}"),
                });
            }
            Ok(PoStProof { post_proof: post_type, proof_bytes: bytes })
        })
        .collect()
}

/// Verifies WindowPoSt `proofs` of miner `miner` over `sectors` (sector number and CommR) for the challenge
/// `randomness` (masked first), as the chain does: `Ok(false)` for a proof that does not hold.
pub fn verify_window_post(
    randomness: [u8; 32],
    miner: u64,
    proofs: &[PoStProof],
    sectors: &[(u64, [u8; 32])],
) -> Result<bool, SealingError> {
    let [proof] = proofs else {
        return Err(SealingError::InvalidInput(format!("{} WindowPoSt proofs, expected one", proofs.len())));
    };
    if sectors.is_empty() {
        return Err(SealingError::InvalidInput("no sectors to verify".into()));
    }
    let api_type = api_window_post_proof(proof.post_proof)?;
    let replicas: BTreeMap<_, _> = sectors
        .iter()
        .map(|(number, comm_r)| (api::SectorId::from(*number), api::PublicReplicaInfo::new(api_type, *comm_r)))
        .collect();
    api::post::verify_window_post(
        &masked(randomness),
        &[(api_type, proof.proof_bytes.as_slice())],
        &replicas,
        prover_id(miner),
    )
    .map_err(|e| SealingError::proofs("VerifyWindowPoSt", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fvm_shared::sector::RegisteredSealProof;

    fn proving(miner: u64, number: u64, proof: RegisteredSealProof) -> ProvingSector {
        let sector = SectorRef { miner, number, proof };
        ProvingSector { sector, files: SectorFiles::new(std::path::Path::new("/store"), &sector), comm_r: [1; 32] }
    }

    #[test]
    fn randomness_is_masked_to_a_field_element() {
        assert_eq!(masked([0xff; 32])[31], 0x3f);
        assert_eq!(masked([0xff; 32])[..31], [0xff; 31]);
    }

    #[test]
    fn sectors_must_share_miner_and_type_and_be_listed_once() {
        let p2k = RegisteredSealProof::StackedDRG2KiBV1P1;
        assert!(matches!(generate_window_post([0; 32], &[]), Err(SealingError::InvalidInput(_))));
        let mixed_miners = [proving(1000, 1, p2k), proving(1001, 2, p2k)];
        assert!(matches!(generate_window_post([0; 32], &mixed_miners), Err(SealingError::InvalidInput(_))));
        let mixed_types = [proving(1000, 1, p2k), proving(1000, 2, RegisteredSealProof::StackedDRG8MiBV1P1)];
        assert!(matches!(generate_window_post([0; 32], &mixed_types), Err(SealingError::InvalidInput(_))));
        let twice = [proving(1000, 1, p2k), proving(1000, 1, p2k)];
        assert!(matches!(generate_window_post([0; 32], &twice), Err(SealingError::InvalidInput(_))));
        let old = [proving(1000, 1, RegisteredSealProof::StackedDRG2KiBV1)];
        assert!(matches!(generate_window_post([0; 32], &old), Err(SealingError::UnsupportedSealProof(0))));
    }

    #[test]
    fn verification_needs_one_proof_and_some_sectors() {
        let proof = PoStProof { post_proof: RegisteredPoStProof::StackedDRGWindow2KiBV1P1, proof_bytes: vec![0; 192] };
        assert!(matches!(verify_window_post([0; 32], 1000, &[], &[(1, [1; 32])]), Err(SealingError::InvalidInput(_))));
        assert!(matches!(verify_window_post([0; 32], 1000, &[proof], &[]), Err(SealingError::InvalidInput(_))));
    }
}
