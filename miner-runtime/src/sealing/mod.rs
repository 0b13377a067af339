//! Sealing and proving of sectors with filecoin-proofs-api: the library the miner daemon and its workers share.
//!
//! A sector is named by a [`SectorRef`] and stored under a storage root in Lotus's layout ([`SectorFiles`]).
//! [`stages`] runs AddPiece (committed capacity), PreCommit1/2 and Commit1/2 over those files and checks seal
//! proofs, [`aggregate`] aggregates seal proofs for a ProveCommitSectors3; [`post`] generates and checks WindowPoSts, [`winning`] WinningPoSts. Every output is serialisable so a worker can hand it to the
//! daemon. [`proofs`] maps on-chain proof types to the proofs library's, derives the prover id and converts
//! commitments to and from their CIDs.

pub mod aggregate;
pub mod error;
pub mod post;
pub mod proofs;
pub mod sector;
pub mod stages;
pub mod winning;

pub use aggregate::{SealToAggregate, aggregate_seal_proofs};
pub use error::SealingError;
pub use post::{ProvingSector, generate_window_post, verify_window_post};
pub use proofs::{
    CommitmentError, SEALED_CODEC, UNSEALED_CODEC, api_seal_proof, api_window_post_proof, commitment_of, prover_id,
    sealed_cid, unsealed_cid, window_post_proof_of,
};
pub use sector::{SectorFiles, SectorRef, staged_path, write_staged};
pub use stages::{
    Commit1Output, PreCommit1Output, PreCommit2Output, add_piece_cc, commit1, commit2, precommit1, precommit2,
    verify_seal,
};
