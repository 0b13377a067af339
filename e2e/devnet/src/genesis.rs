//! Genesis miners from the files `lotus-seed pre-seal` writes (see `sealstack_chain::genesis`): the manifest
//! `pre-seal-<miner>.json` and the worker's key `pre-seal-<miner>.key` beside it. Their keys go into the
//! devnet's wallet, their workers get funded accounts, and the miners are created with their sectors active
//! (`model::GenesisMinerSpec`).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use fvm_shared::econ::TokenAmount;
use sealstack_chain::genesis::{self, GenesisFileError, GenesisMiner, KeyInfo};

use crate::model::{GenesisMinerSpec, commitment};
use crate::wallet::{self, Key};

/// A genesis miner and its worker's key.
#[derive(Clone, Debug)]
pub struct GenesisMinerSetup {
    /// The manifest entry.
    pub miner: GenesisMiner,
    /// The worker's (and owner's) key.
    pub worker_key: KeyInfo,
}

/// Why genesis miners cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// A pre-seal file is missing or malformed.
    #[error(transparent)]
    File(#[from] GenesisFileError),
    /// A manifest entry that the devnet cannot turn into a miner.
    #[error("genesis miner {miner}: {reason}")]
    Invalid {
        /// The miner's address in the manifest.
        miner: String,
        /// What is wrong.
        reason: String,
    },
}

impl GenesisMinerSetup {
    /// The miners of a manifest with the key at `key` (by default the `.key` file beside the manifest, as
    /// `lotus-seed` writes it). Every miner's worker must be that key's address.
    pub fn load(manifest: &Path, key: Option<&Path>) -> Result<Vec<Self>, GenesisError> {
        let key_path: PathBuf = key.map(Path::to_path_buf).unwrap_or_else(|| genesis::key_file_beside(manifest));
        let worker_key = genesis::read_key_file(&key_path)?;
        let miners = genesis::read_manifest(manifest)?;
        Ok(miners.into_values().map(|miner| GenesisMinerSetup { miner, worker_key: worker_key.clone() }).collect())
    }

    /// The miner's address text, for messages.
    pub fn name(&self) -> String {
        self.miner.id.to_string()
    }

    fn invalid(&self, reason: impl Into<String>) -> GenesisError {
        GenesisError::Invalid { miner: self.name(), reason: reason.into() }
    }

    /// The worker key as the wallet holds it, checked against the manifest: it is the worker's key, and the
    /// owner is the worker (as `lotus-seed` makes them).
    pub fn wallet_key(&self) -> Result<wallet::KeyInfo, GenesisError> {
        let json = serde_json::to_value(&self.worker_key).expect("a key info encodes");
        let info: wallet::KeyInfo =
            serde_json::from_value(json).map_err(|e| self.invalid(format!("worker key: {e}")))?;
        let key = Key::from_key_info(info.clone()).map_err(|e| self.invalid(format!("worker key: {e}")))?;
        if key.address() != self.miner.worker.0 {
            return Err(self.invalid(format!(
                "the key file holds the key of {}, not of the worker {}",
                key.address(),
                self.miner.worker.0
            )));
        }
        if self.miner.owner != self.miner.worker {
            return Err(self.invalid("the owner must be the worker (as lotus-seed makes them)"));
        }
        Ok(info)
    }

    /// What the actor model needs, checked.
    pub fn spec(&self) -> Result<GenesisMinerSpec, GenesisError> {
        let id = self.miner.id.id().map_err(|_| self.invalid("the miner address must be an ID address"))?;
        let peer_id = libp2p_identity::PeerId::from_str(&self.miner.peer_id)
            .map_err(|e| self.invalid(format!("peer ID {:?}: {e}", self.miner.peer_id)))?
            .to_bytes();
        let mut sectors = Vec::with_capacity(self.miner.sectors.len());
        for sector in &self.miner.sectors {
            commitment(&sector.comm_r, crate::model::SEALED_CODEC)
                .map_err(|e| self.invalid(format!("sector {}: CommR: {e}", sector.sector_id)))?;
            sectors.push((sector.sector_id, sector.proof_type, sector.comm_r.0));
        }
        Ok(GenesisMinerSpec {
            id,
            worker: self.miner.worker.0,
            peer_id,
            sector_size: self.miner.sector_size,
            power_balance: self.miner.power_balance.0.clone(),
            sectors,
        })
    }
}

/// The genesis balance of a genesis miner's worker account, for its messages (`lotus-seed genesis
/// add-miner` gives the owner 50 million FIL on a Lotus devnet).
pub fn default_worker_balance() -> TokenAmount {
    TokenAmount::from_whole(1_000)
}
