//! WindowPoSt over sealed sectors, in the two halves lotus splits it into: a **vanilla proof** per sector (Merkle
//! inclusion proofs of the challenged leaves, read from the sector's files: done next to the storage, and a sector
//! whose files are missing or corrupt fails alone) and the **SNARK** over the vanilla proofs of one message's
//! sectors (CPU or GPU heavy, reads no sector file). Also the whole proof in one call, and local verification.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use filecoin_proofs_api as api;
use fvm_shared::sector::{PoStProof, RegisteredPoStProof};

use super::error::SealingError;
use super::proofs::{api_seal_proof, api_window_post_proof, prover_id, window_post_proof_of};
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

/// The quick part of a proving check, as `lotus-miner proving check` makes it before any proof: the sealed file
/// exists with exactly the sector's size, and the cache holds `p_aux`, `t_aux` and the last layer's tree (one file
/// per tree for large sectors). Reads metadata only.
pub fn check_files(sector: &ProvingSector) -> Result<(), SealingError> {
    let size = u64::from(api_seal_proof(sector.sector.proof)?.sector_size());
    let invalid = |why: String| Err(SealingError::InvalidInput(why));
    match std::fs::metadata(&sector.files.sealed) {
        Ok(meta) if meta.len() == size => {}
        Ok(meta) => {
            return invalid(format!(
                "sealed file {} is {} bytes, expected {size}",
                sector.files.sealed.display(),
                meta.len()
            ));
        }
        Err(e) => return Err(SealingError::io("stat", &sector.files.sealed, e)),
    }
    for name in ["p_aux", "t_aux"] {
        let path = sector.files.cache.join(name);
        if !path.is_file() {
            return invalid(format!("cache file {} is missing", path.display()));
        }
    }
    let trees = std::fs::read_dir(&sector.files.cache)
        .map_err(|e| SealingError::io("list", &sector.files.cache, e))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("sc-02-data-tree-r-last") && name.ends_with(".dat")
        })
        .count();
    if trees == 0 {
        return invalid(format!("no sc-02-data-tree-r-last*.dat in {}", sector.files.cache.display()));
    }
    Ok(())
}

/// The challenged leaves of each of `sectors` (all of miner `miner`, proven with `post_type`) for the WindowPoSt
/// challenge `randomness` (masked first). A sector's challenges depend on the randomness and its number only.
pub fn window_post_challenges(
    post_type: RegisteredPoStProof,
    randomness: [u8; 32],
    miner: u64,
    sectors: &[u64],
) -> Result<BTreeMap<u64, Vec<u64>>, SealingError> {
    let api_type = api_window_post_proof(post_type)?;
    let ids: Vec<api::SectorId> = sectors.iter().map(|n| api::SectorId::from(*n)).collect();
    let challenges =
        api::post::generate_fallback_sector_challenges(api_type, &masked(randomness), &ids, prover_id(miner))
            .map_err(|e| SealingError::proofs("WindowPoSt challenges", e))?;
    Ok(challenges.into_iter().map(|(id, leaves)| (u64::from(id), leaves)).collect())
}

/// One sector's vanilla WindowPoSt proof (the library's bytes), as a worker needs it for the SNARK.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VanillaProof {
    /// The sector number.
    pub sector: u64,
    /// The library's serialized `FallbackPoStSectorProof` (base64 in JSON).
    pub bytes: sealstack_chain::LotusJson<Vec<u8>>,
}

impl std::fmt::Debug for VanillaProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VanillaProof(sector {}, {} bytes)", self.sector, self.bytes.len())
    }
}

/// The vanilla proof of one sector for its `challenges`, read from its files. Blocking. A sector whose files are
/// missing, cut short or corrupt fails with an error naming why; the library asserts on a Merkle path that does
/// not match its root, and that panic is caught here and returned as the sector's error, never taking the caller
/// down with it.
pub fn vanilla_proof(sector: &ProvingSector, challenges: &[u64]) -> Result<VanillaProof, SealingError> {
    let post_type = window_post_proof_of(sector.sector.proof)?;
    let api_type = api_window_post_proof(post_type)?;
    let replica =
        api::PrivateReplicaInfo::new(api_type, sector.comm_r, sector.files.cache.clone(), sector.files.sealed.clone());
    let id = api::SectorId::from(sector.sector.number);
    let generated =
        catch_unwind(AssertUnwindSafe(|| api::post::generate_single_vanilla_proof(api_type, id, &replica, challenges)));
    match generated {
        Ok(Ok(bytes)) => Ok(VanillaProof { sector: sector.sector.number, bytes: sealstack_chain::LotusJson(bytes) }),
        Ok(Err(e)) => Err(SealingError::proofs("vanilla proof", e)),
        Err(panic) => Err(SealingError::Proofs { stage: "vanilla proof", message: panic_message(&panic) }),
    }
}

/// The text of a caught panic.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
    format!("the proofs library panicked: {}", text.unwrap_or_else(|| "(no message)".into()))
}

/// The WindowPoSt SNARK of one message from the vanilla proofs of its sectors (all of miner `miner`, each at most
/// once, in any order) for the challenge `randomness`. Blocking and CPU (or GPU) heavy; reads no sector file.
pub fn window_post_from_vanilla(
    post_type: RegisteredPoStProof,
    randomness: [u8; 32],
    miner: u64,
    vanilla: &[VanillaProof],
) -> Result<Vec<PoStProof>, SealingError> {
    if vanilla.is_empty() {
        return Err(SealingError::InvalidInput("no vanilla proofs to prove with".into()));
    }
    let mut sorted: Vec<&VanillaProof> = vanilla.iter().collect();
    sorted.sort_by_key(|v| v.sector);
    if sorted.windows(2).any(|w| w[0].sector == w[1].sector) {
        return Err(SealingError::InvalidInput("a sector's vanilla proof is given twice".into()));
    }
    let api_type = api_window_post_proof(post_type)?;
    let bytes: Vec<Vec<u8>> = sorted.into_iter().map(|v| v.bytes.0.clone()).collect();
    let generated = catch_unwind(AssertUnwindSafe(|| {
        api::post::generate_window_post_with_vanilla(api_type, &masked(randomness), prover_id(miner), &bytes)
    }));
    let generated = match generated {
        Ok(result) => result.map_err(|e| SealingError::proofs("WindowPoSt", e))?,
        Err(panic) => return Err(SealingError::Proofs { stage: "WindowPoSt", message: panic_message(&panic) }),
    };
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
