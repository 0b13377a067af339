//! The errors of sealing and proving.

use std::path::PathBuf;

/// Why a sealing stage, a proof or a file operation on a sector failed.
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    /// The on-chain seal proof type has no filecoin-proofs-api counterpart here (only V1_1 types are supported).
    #[error("seal proof type {0} is not supported")]
    UnsupportedSealProof(i64),
    /// The on-chain PoSt proof type has no filecoin-proofs-api counterpart here (only Window V1_1 types).
    #[error("PoSt proof type {0} is not supported")]
    UnsupportedPoStProof(i64),
    /// A file or directory of a sector could not be read, written or renamed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("create", "rename", ...).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The proofs library refused or failed a stage.
    #[error("{stage} failed: {message}")]
    Proofs {
        /// The stage ("PreCommit1", "Commit2", "WindowPoSt", ...).
        stage: &'static str,
        /// The library's error with its context chain.
        message: String,
    },
    /// A stage output handed over as JSON could not be encoded or decoded.
    #[error("{what} JSON: {source}")]
    Json {
        /// Which output.
        what: &'static str,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// The inputs of a stage do not fit together (for example sectors of two miners in one WindowPoSt).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl SealingError {
    /// A [`SealingError::Io`] for `action` on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { action, path: path.into(), source }
    }

    /// A [`SealingError::Proofs`] for a library error, keeping its context chain.
    pub fn proofs(stage: &'static str, error: anyhow::Error) -> Self {
        Self::Proofs { stage, message: format!("{error:#}") }
    }
}
