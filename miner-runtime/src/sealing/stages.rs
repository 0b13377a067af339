//! The sealing stages of a sector, over filecoin-proofs-api: AddPiece (committed capacity), PreCommit1,
//! PreCommit2, Commit1, Commit2, and a local check of the seal proof.
//!
//! Every stage is blocking and CPU-heavy (async callers run it in `spawn_blocking`) and reads its parameters from
//! `FIL_PROOFS_PARAMETER_CACHE`. A stage's outputs are serialisable, so a worker can hand them to the daemon;
//! the large intermediate outputs of PreCommit1 and Commit1 are kept as the library's JSON.
//!
//! Files are replaced through [`write_staged`]: the unsealed file by AddPiece, the sealed file by PreCommit1
//! (which copies the data into it) and PreCommit2 (which encodes a copy of it), so a failed stage leaves the
//! previous stage's file intact and can be retried. The cache directory is written by the library in place.

use std::fs::{File, OpenOptions};
use std::io::Read;

use filecoin_proofs_api as api;
use serde::{Deserialize, Serialize};

use super::error::SealingError;
use super::proofs::{api_seal_proof, prover_id};
use super::sector::{SectorFiles, SectorRef, write_staged};

/// The output of PreCommit1: the library's `SealPreCommitPhase1Output` as JSON (megabytes for large sectors).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreCommit1Output(pub Vec<u8>);

/// The output of Commit1: the library's `SealCommitPhase1Output` (vanilla proofs) as JSON.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit1Output(pub Vec<u8>);

impl std::fmt::Debug for PreCommit1Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PreCommit1Output({} bytes of JSON)", self.0.len())
    }
}

impl std::fmt::Debug for Commit1Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Commit1Output({} bytes of JSON)", self.0.len())
    }
}

/// The output of PreCommit2: the sector's commitments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreCommit2Output {
    /// The replica commitment CommR (its CID is [`super::sealed_cid`]).
    pub comm_r: [u8; 32],
    /// The data commitment CommD (its CID is [`super::unsealed_cid`]).
    pub comm_d: [u8; 32],
}

/// Fills the unsealed file of a committed-capacity sector: zeros of the sector's unpadded size, padded by the
/// library to the sector size. Creates the sector's directories. Returns the piece, which PreCommit1 and Commit1
/// take as the sector's only piece.
pub fn add_piece_cc(sector: &SectorRef, files: &SectorFiles) -> Result<api::PieceInfo, SealingError> {
    let proof = api_seal_proof(sector.proof)?;
    files.create_dirs()?;
    let padded = api::PaddedBytesAmount(u64::from(proof.sector_size()));
    let unpadded = api::UnpaddedBytesAmount::from(padded);
    write_staged(&files.unsealed, |staged| {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(staged)
            .map_err(|e| SealingError::io("create", staged, e))?;
        let zeros = std::io::repeat(0).take(unpadded.0);
        let (piece, written) = api::seal::add_piece(proof, zeros, &mut file, unpadded, &[])
            .map_err(|e| SealingError::proofs("AddPiece", e))?;
        if written != unpadded {
            return Err(SealingError::Proofs {
                stage: "AddPiece",
                message: format!("wrote {} bytes of a {}-byte piece", written.0, unpadded.0),
            });
        }
        Ok(piece)
    })
}

/// PreCommit1: the replica id from `ticket` and the SDR labels of the unsealed data. Writes the labels and the
/// data tree into the cache directory and replaces the sealed file by a copy of the data (the library needs it to
/// exist: it is created empty first). `pieces` are the sector's pieces, as [`add_piece_cc`] returns them.
pub fn precommit1(
    sector: &SectorRef,
    files: &SectorFiles,
    ticket: [u8; 32],
    pieces: &[api::PieceInfo],
) -> Result<PreCommit1Output, SealingError> {
    let proof = api_seal_proof(sector.proof)?;
    files.create_dirs()?;
    let output = write_staged(&files.sealed, |staged| {
        File::create(staged).map_err(|e| SealingError::io("create", staged, e))?;
        api::seal::seal_pre_commit_phase1(
            proof,
            &files.cache,
            &files.unsealed,
            staged,
            prover_id(sector.miner),
            api::SectorId::from(sector.number),
            ticket,
            pieces,
        )
        .map_err(|e| SealingError::proofs("PreCommit1", e))
    })?;
    let json =
        serde_json::to_vec(&output).map_err(|source| SealingError::Json { what: "PreCommit1 output", source })?;
    Ok(PreCommit1Output(json))
}

/// PreCommit2: encodes the sealed file with the labels of PreCommit1 (on a staged copy, renamed over the sealed file
/// when done) and builds the column and replica trees in the cache directory. Returns CommR and CommD.
pub fn precommit2(
    sector: &SectorRef,
    files: &SectorFiles,
    phase1: &PreCommit1Output,
) -> Result<PreCommit2Output, SealingError> {
    let proof = api_seal_proof(sector.proof)?;
    let phase1: api::seal::SealPreCommitPhase1Output =
        serde_json::from_slice(&phase1.0).map_err(|source| SealingError::Json { what: "PreCommit1 output", source })?;
    if phase1.registered_proof != proof {
        return Err(SealingError::InvalidInput(format!(
            "PreCommit1 output is for {:?}, the sector is {proof:?}",
            phase1.registered_proof
        )));
    }
    let output = write_staged(&files.sealed, |staged| {
        std::fs::copy(&files.sealed, staged).map_err(|e| SealingError::io("copy", &files.sealed, e))?;
        api::seal::seal_pre_commit_phase2(phase1, &files.cache, staged)
            .map_err(|e| SealingError::proofs("PreCommit2", e))
    })?;
    Ok(PreCommit2Output { comm_r: output.comm_r, comm_d: output.comm_d })
}

/// Commit1: the vanilla proofs of the challenges drawn from `seed`, read from the cache directory and the sealed
/// file. `ticket` and `pieces` are those of PreCommit1, `pre_commit` the output of PreCommit2.
pub fn commit1(
    sector: &SectorRef,
    files: &SectorFiles,
    ticket: [u8; 32],
    seed: [u8; 32],
    pre_commit: &PreCommit2Output,
    pieces: &[api::PieceInfo],
) -> Result<Commit1Output, SealingError> {
    let proof = api_seal_proof(sector.proof)?;
    let pre_commit = api::seal::SealPreCommitPhase2Output {
        registered_proof: proof,
        comm_r: pre_commit.comm_r,
        comm_d: pre_commit.comm_d,
    };
    let output = api::seal::seal_commit_phase1(
        files.cache.as_path(),
        files.sealed.as_path(),
        prover_id(sector.miner),
        api::SectorId::from(sector.number),
        ticket,
        seed,
        pre_commit,
        pieces,
    )
    .map_err(|e| SealingError::proofs("Commit1", e))?;
    let json = serde_json::to_vec(&output).map_err(|source| SealingError::Json { what: "Commit1 output", source })?;
    Ok(Commit1Output(json))
}

/// Commit2: the SNARK of the vanilla proofs of Commit1 (the seal proof that ProveCommit takes). Needs no files.
pub fn commit2(sector: &SectorRef, phase1: &Commit1Output) -> Result<Vec<u8>, SealingError> {
    let proof = api_seal_proof(sector.proof)?;
    let phase1: api::seal::SealCommitPhase1Output =
        serde_json::from_slice(&phase1.0).map_err(|source| SealingError::Json { what: "Commit1 output", source })?;
    if phase1.registered_proof != proof {
        return Err(SealingError::InvalidInput(format!(
            "Commit1 output is for {:?}, the sector is {proof:?}",
            phase1.registered_proof
        )));
    }
    let output = api::seal::seal_commit_phase2(phase1, prover_id(sector.miner), api::SectorId::from(sector.number))
        .map_err(|e| SealingError::proofs("Commit2", e))?;
    Ok(output.proof)
}

/// Verifies a seal proof as the chain does: `Ok(false)` for a proof that does not prove the sector's commitments
/// with this ticket and seed, an error when it cannot be checked at all (a malformed proof, missing keys).
pub fn verify_seal(
    sector: &SectorRef,
    commitments: &PreCommit2Output,
    ticket: [u8; 32],
    seed: [u8; 32],
    seal_proof: &[u8],
) -> Result<bool, SealingError> {
    let proof = api_seal_proof(sector.proof)?;
    api::seal::verify_seal(
        proof,
        commitments.comm_r,
        commitments.comm_d,
        prover_id(sector.miner),
        api::SectorId::from(sector.number),
        ticket,
        seed,
        seal_proof,
    )
    .map_err(|e| SealingError::proofs("VerifySeal", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fvm_shared::sector::RegisteredSealProof;

    fn sector(proof: RegisteredSealProof) -> SectorRef {
        SectorRef { miner: 1000, number: 1, proof }
    }

    #[test]
    fn a_cc_piece_fills_the_2kib_sector_with_zeros() {
        let root = tempfile::tempdir().unwrap();
        let sector = sector(RegisteredSealProof::StackedDRG2KiBV1P1);
        let files = SectorFiles::new(root.path(), &sector);
        let piece = add_piece_cc(&sector, &files).unwrap();
        assert_eq!(piece.size.0, 2032);
        let zero_comm_d = api::seal::compute_comm_d(api::RegisteredSealProof::StackedDrg2KiBV1_1, &[]).unwrap();
        assert_eq!(piece.commitment, zero_comm_d);
        let data = std::fs::read(&files.unsealed).unwrap();
        assert_eq!(data.len(), 2048);
        assert!(data.iter().all(|b| *b == 0));
        assert!(files.cache.is_dir());
        assert!(!super::super::staged_path(&files.unsealed).exists());
    }

    #[test]
    fn unsupported_proof_types_and_bad_outputs_are_errors() {
        let root = tempfile::tempdir().unwrap();
        let old = sector(RegisteredSealProof::StackedDRG2KiBV1);
        let files = SectorFiles::new(root.path(), &old);
        assert!(matches!(add_piece_cc(&old, &files), Err(SealingError::UnsupportedSealProof(0))));
        assert!(!root.path().join("unsealed").exists(), "nothing is written for an unsupported type");

        let sector = sector(RegisteredSealProof::StackedDRG2KiBV1P1);
        let garbage = PreCommit1Output(b"{not json".to_vec());
        assert!(matches!(precommit2(&sector, &files, &garbage), Err(SealingError::Json { .. })));
        assert!(matches!(commit2(&sector, &Commit1Output(Vec::new())), Err(SealingError::Json { .. })));
        // PreCommit1 without the unsealed file fails without leaving a sealed file behind.
        let result = precommit1(&sector, &files, [1; 32], &[]);
        assert!(matches!(result, Err(SealingError::Proofs { stage: "PreCommit1", .. })), "{result:?}");
        assert!(!files.sealed.exists());
    }

    #[test]
    fn outputs_debug_without_their_bytes() {
        assert_eq!(format!("{:?}", PreCommit1Output(vec![0; 5])), "PreCommit1Output(5 bytes of JSON)");
        assert_eq!(format!("{:?}", Commit1Output(vec![0; 3])), "Commit1Output(3 bytes of JSON)");
    }
}
