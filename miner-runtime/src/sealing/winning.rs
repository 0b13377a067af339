//! WinningPoSt over the sectors a round challenges, split as lotus splits it for PoSt workers: a **vanilla
//! proof** per sector (Merkle inclusion proofs of the challenged leaves, read from the sector's files, next to
//! the storage) and the **SNARK** over them (CPU or GPU heavy, reads no file). Also the library's one-call
//! `generate_winning_post` (the benchmark's baseline) and verification as the chain verifies.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use filecoin_proofs_api as api;
use fvm_shared::sector::{PoStProof, RegisteredPoStProof, RegisteredSealProof};

use super::error::SealingError;
use super::post::{ProvingSector, VanillaProof, panic_message};
use super::proofs::prover_id;

/// The on-chain WinningPoSt type that proves sectors sealed with `proof` (lotus
/// `WinningPoStProofTypeFromWindowPoStProofType`), and the proofs library's.
pub fn winning_post_proof_of(
    proof: RegisteredSealProof,
) -> Result<(RegisteredPoStProof, api::RegisteredPoStProof), SealingError> {
    use RegisteredPoStProof as F;
    use RegisteredSealProof as S;
    use api::RegisteredPoStProof as P;
    Ok(match proof {
        S::StackedDRG2KiBV1P1 => (F::StackedDRGWinning2KiBV1, P::StackedDrgWinning2KiBV1),
        S::StackedDRG8MiBV1P1 => (F::StackedDRGWinning8MiBV1, P::StackedDrgWinning8MiBV1),
        S::StackedDRG512MiBV1P1 => (F::StackedDRGWinning512MiBV1, P::StackedDrgWinning512MiBV1),
        S::StackedDRG32GiBV1P1 => (F::StackedDRGWinning32GiBV1, P::StackedDrgWinning32GiBV1),
        S::StackedDRG64GiBV1P1 => (F::StackedDRGWinning64GiBV1, P::StackedDrgWinning64GiBV1),
        other => return Err(SealingError::UnsupportedSealProof(i64::from(other))),
    })
}

/// The seal type whose sectors the on-chain WinningPoSt type `post` proves (the inverse of
/// [`winning_post_proof_of`]): what a PoSt worker is told is the proof type, as for WindowPoSt.
pub fn seal_proof_of_winning(post: RegisteredPoStProof) -> Result<RegisteredSealProof, SealingError> {
    use RegisteredSealProof as S;
    [
        S::StackedDRG2KiBV1P1,
        S::StackedDRG8MiBV1P1,
        S::StackedDRG512MiBV1P1,
        S::StackedDRG32GiBV1P1,
        S::StackedDRG64GiBV1P1,
    ]
    .into_iter()
    .find(|seal| winning_post_proof_of(*seal).is_ok_and(|(winning, _)| winning == post))
    .ok_or_else(|| SealingError::InvalidInput(format!("proof type {} is not a WinningPoSt type", i64::from(post))))
}

/// The randomness as a field element: the last byte's two high bits cleared, as Lotus and the FVM do.
fn masked(mut randomness: [u8; 32]) -> [u8; 32] {
    randomness[31] &= 0x3f;
    randomness
}

/// The common seal type of `sectors` (all of miner `miner`), each listed once.
fn seal_type_of(sectors: &[ProvingSector]) -> Result<(u64, RegisteredSealProof), SealingError> {
    let first = sectors.first().ok_or_else(|| SealingError::InvalidInput("no sectors to prove".into()))?;
    let mut numbers = std::collections::BTreeSet::new();
    for s in sectors {
        if s.sector.miner != first.sector.miner || s.sector.proof != first.sector.proof {
            return Err(SealingError::InvalidInput("sectors of another miner or proof type in one WinningPoSt".into()));
        }
        if !numbers.insert(s.sector.number) {
            return Err(SealingError::InvalidInput(format!("sector {} is listed twice", s.sector.number)));
        }
    }
    Ok((first.sector.miner, first.sector.proof))
}

/// The vanilla WinningPoSt proofs of the challenged `sectors` for `randomness`, read from their files. Blocking;
/// a sector whose files are missing or corrupt fails the whole proof (a WinningPoSt cannot skip a sector), and a
/// panic of the library on a bad Merkle path is returned as an error.
pub fn winning_vanilla_proofs(
    randomness: [u8; 32],
    sectors: &[ProvingSector],
) -> Result<Vec<VanillaProof>, SealingError> {
    let (miner, seal) = seal_type_of(sectors)?;
    let (_, api_type) = winning_post_proof_of(seal)?;
    let ids: Vec<api::SectorId> = sectors.iter().map(|s| api::SectorId::from(s.sector.number)).collect();
    let challenges =
        api::post::generate_fallback_sector_challenges(api_type, &masked(randomness), &ids, prover_id(miner))
            .map_err(|e| SealingError::proofs("WinningPoSt challenges", e))?;
    sectors
        .iter()
        .map(|s| {
            let id = api::SectorId::from(s.sector.number);
            let leaves = challenges
                .get(&id)
                .ok_or_else(|| SealingError::InvalidInput(format!("no challenge for sector {}", s.sector.number)))?;
            let replica =
                api::PrivateReplicaInfo::new(api_type, s.comm_r, s.files.cache.clone(), s.files.sealed.clone());
            let generated = catch_unwind(AssertUnwindSafe(|| {
                api::post::generate_single_vanilla_proof(api_type, id, &replica, leaves)
            }));
            match generated {
                Ok(Ok(bytes)) => Ok(VanillaProof { sector: s.sector.number, bytes: sealstack_chain::LotusJson(bytes) }),
                Ok(Err(e)) => Err(SealingError::proofs("WinningPoSt vanilla proof", e)),
                Err(panic) => {
                    Err(SealingError::Proofs { stage: "WinningPoSt vanilla proof", message: panic_message(&panic) })
                }
            }
        })
        .collect()
}

/// The WinningPoSt SNARK of miner `miner` from the challenged sectors' vanilla proofs, in the order the
/// challenge listed the sectors. Blocking and CPU (or GPU) heavy; reads no sector file.
pub fn winning_post_from_vanilla(
    seal: RegisteredSealProof,
    randomness: [u8; 32],
    miner: u64,
    vanilla: &[VanillaProof],
) -> Result<Vec<PoStProof>, SealingError> {
    if vanilla.is_empty() {
        return Err(SealingError::InvalidInput("no vanilla proofs to prove with".into()));
    }
    let (post_type, api_type) = winning_post_proof_of(seal)?;
    let bytes: Vec<Vec<u8>> = vanilla.iter().map(|v| v.bytes.0.clone()).collect();
    let generated = catch_unwind(AssertUnwindSafe(|| {
        api::post::generate_winning_post_with_vanilla(api_type, &masked(randomness), prover_id(miner), &bytes)
    }));
    let generated = match generated {
        Ok(result) => result.map_err(|e| SealingError::proofs("WinningPoSt", e))?,
        Err(panic) => return Err(SealingError::Proofs { stage: "WinningPoSt", message: panic_message(&panic) }),
    };
    Ok(generated.into_iter().map(|(_, bytes)| PoStProof { post_proof: post_type, proof_bytes: bytes }).collect())
}

/// The library's one-call WinningPoSt of `sectors` (files read and SNARK made together): the baseline the
/// daemon's split path is measured against.
pub fn generate_winning_post(randomness: [u8; 32], sectors: &[ProvingSector]) -> Result<Vec<PoStProof>, SealingError> {
    let (miner, seal) = seal_type_of(sectors)?;
    let (post_type, api_type) = winning_post_proof_of(seal)?;
    let replicas: BTreeMap<_, _> = sectors
        .iter()
        .map(|s| {
            let replica =
                api::PrivateReplicaInfo::new(api_type, s.comm_r, s.files.cache.clone(), s.files.sealed.clone());
            (api::SectorId::from(s.sector.number), replica)
        })
        .collect();
    let generated = api::post::generate_winning_post(&masked(randomness), &replicas, prover_id(miner))
        .map_err(|e| SealingError::proofs("WinningPoSt", e))?;
    Ok(generated.into_iter().map(|(_, bytes)| PoStProof { post_proof: post_type, proof_bytes: bytes }).collect())
}

/// Verifies a WinningPoSt of miner `miner` over `sectors` (number and CommR) as the chain does.
pub fn verify_winning_post(
    seal: RegisteredSealProof,
    randomness: [u8; 32],
    miner: u64,
    proof: &[u8],
    sectors: &[(u64, [u8; 32])],
) -> Result<bool, SealingError> {
    let (_, api_type) = winning_post_proof_of(seal)?;
    let replicas: BTreeMap<_, _> = sectors
        .iter()
        .map(|(number, comm_r)| (api::SectorId::from(*number), api::PublicReplicaInfo::new(api_type, *comm_r)))
        .collect();
    api::post::verify_winning_post(&masked(randomness), proof, &replicas, prover_id(miner))
        .map_err(|e| SealingError::proofs("VerifyWinningPoSt", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::{SectorFiles, SectorRef};

    #[test]
    fn winning_types_follow_the_seal_type() {
        let (on_chain, _) = winning_post_proof_of(RegisteredSealProof::StackedDRG2KiBV1P1).unwrap();
        assert_eq!(i64::from(on_chain), 0);
        let (on_chain, _) = winning_post_proof_of(RegisteredSealProof::StackedDRG32GiBV1P1).unwrap();
        assert_eq!(i64::from(on_chain), 3);
        assert!(winning_post_proof_of(RegisteredSealProof::StackedDRG2KiBV1).is_err());
    }

    #[test]
    fn a_winning_type_names_the_seal_type_it_proves() {
        for seal in [RegisteredSealProof::StackedDRG2KiBV1P1, RegisteredSealProof::StackedDRG32GiBV1P1] {
            let (winning, _) = winning_post_proof_of(seal).unwrap();
            assert_eq!(seal_proof_of_winning(winning).unwrap(), seal);
        }
        assert!(seal_proof_of_winning(RegisteredPoStProof::StackedDRGWindow2KiBV1P1).is_err(), "a WindowPoSt type");
    }

    #[test]
    fn sectors_must_be_one_miners_and_listed_once() {
        let proving = |miner, number| {
            let sector = SectorRef { miner, number, proof: RegisteredSealProof::StackedDRG2KiBV1P1 };
            ProvingSector { sector, files: SectorFiles::new(std::path::Path::new("/store"), &sector), comm_r: [1; 32] }
        };
        assert!(matches!(winning_vanilla_proofs([0; 32], &[]), Err(SealingError::InvalidInput(_))));
        assert!(matches!(
            winning_vanilla_proofs([0; 32], &[proving(1, 1), proving(2, 2)]),
            Err(SealingError::InvalidInput(_))
        ));
        assert!(matches!(
            winning_vanilla_proofs([0; 32], &[proving(1, 1), proving(1, 1)]),
            Err(SealingError::InvalidInput(_))
        ));
        assert!(matches!(
            winning_post_from_vanilla(RegisteredSealProof::StackedDRG2KiBV1P1, [0; 32], 1, &[]),
            Err(SealingError::InvalidInput(_))
        ));
    }
}
