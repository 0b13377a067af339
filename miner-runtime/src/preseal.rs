//! Pre-sealed sectors for a genesis miner, as `lotus-seed pre-seal` makes them: committed-capacity sectors sealed
//! (AddPiece, PreCommit1, PreCommit2) for a miner ID known in advance, finalized into Lotus's storage layout, and
//! described in the genesis metadata a devnet starts from. No Commit1/2: the chain's genesis trusts pre-sealed
//! sectors (Lotus's genesis activates them without a seal proof), which is what lets tests prove WindowPoSts over
//! many real sectors without paying for a Groth16 proof each.

use std::path::Path;

use fvm_shared::sector::RegisteredSealProof;

use crate::daemon::storage::kept_in_cache;
use crate::sealing::{self, PreCommit2Output, SealingError, SectorFiles, SectorRef};

/// The sealing ticket of a pre-sealed sector: a fixed function of the miner and the sector number (lotus-seed
/// derives its tickets from a preimage likewise; genesis does not check them).
pub fn preseal_ticket(miner: u64, number: u64) -> [u8; 32] {
    let digest = blake2b_simd::Params::new()
        .hash_length(32)
        .to_state()
        .update(b"sealstack preseal ticket")
        .update(&miner.to_be_bytes())
        .update(&number.to_be_bytes())
        .finalize();
    let mut ticket = [0u8; 32];
    ticket.copy_from_slice(digest.as_bytes());
    ticket
}

/// Seals committed-capacity sector `number` of miner `t0{miner}` under the storage root `dir` and finalizes it
/// there: the sealed file and the cache directory without PreCommit1's layers, no unsealed copy. Blocking.
/// Returns CommR and CommD.
pub fn preseal_sector(
    dir: &Path,
    miner: u64,
    number: u64,
    proof: RegisteredSealProof,
) -> Result<(SectorRef, PreCommit2Output), SealingError> {
    let sector = SectorRef { miner, number, proof };
    let files = SectorFiles::new(dir, &sector);
    let piece = sealing::add_piece_cc(&sector, &files)?;
    let phase1 = sealing::precommit1(&sector, &files, preseal_ticket(miner, number), &[piece])?;
    let commitments = sealing::precommit2(&sector, &files, &phase1)?;
    finalize_in_place(&files)?;
    Ok((sector, commitments))
}

/// Removes what a finalized sector does not keep: the unsealed file of a committed-capacity sector and the cache
/// files left for sealing only (the layers).
fn finalize_in_place(files: &SectorFiles) -> Result<(), SealingError> {
    match std::fs::remove_file(&files.unsealed) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(SealingError::io("remove", &files.unsealed, e)),
    }
    let entries = std::fs::read_dir(&files.cache).map_err(|e| SealingError::io("list", &files.cache, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| SealingError::io("list", &files.cache, e))?;
        let name = entry.file_name();
        if !kept_in_cache(&name.to_string_lossy()) {
            std::fs::remove_file(entry.path()).map_err(|e| SealingError::io("remove", entry.path(), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_differ_by_miner_and_number_and_repeat() {
        assert_eq!(preseal_ticket(1000, 0), preseal_ticket(1000, 0));
        assert_ne!(preseal_ticket(1000, 0), preseal_ticket(1000, 1));
        assert_ne!(preseal_ticket(1000, 0), preseal_ticket(1001, 0));
    }
}
