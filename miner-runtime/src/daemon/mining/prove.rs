//! The WinningPoSt of a won round: vanilla proofs read from the daemon's storage, then the SNARK. The SNARK is
//! [`winning_post_snark`], the one function a scheduler can hand to a PoSt worker later (the vanilla proofs
//! stay next to the storage, as for WindowPoSt). Also the warm-up at start, so the first real win does not pay
//! for loading the parameters (lotus issue 4824).

use std::time::Instant;

use fvm_shared::sector::PoStProof;
use sealstack_chain::block::ExtendedSectorInfo;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use crate::daemon::Daemon;
use crate::sealing::post::VanillaProof;
use crate::sealing::winning::{winning_post_from_vanilla, winning_vanilla_proofs};
use crate::sealing::{ProvingSector, SEALED_CODEC, SectorRef, commitment_of};

/// Why no WinningPoSt could be made.
#[derive(Debug, thiserror::Error)]
pub enum WinningPoStError {
    /// A challenged sector's CommR is not a sealed commitment.
    #[error("sector {sector}: {reason}")]
    Sector {
        /// The sector.
        sector: u64,
        /// What is wrong.
        reason: String,
    },
    /// The proofs library failed (a sector's files missing or corrupt, a parameter file missing, ...).
    #[error(transparent)]
    Proofs(#[from] crate::sealing::SealingError),
    /// The blocking task panicked or was cancelled.
    #[error("the WinningPoSt task failed: {0}")]
    Task(String),
}

/// The sectors to prove, with their files in the daemon's storage.
fn proving_sectors(daemon: &Daemon, sectors: &[ExtendedSectorInfo]) -> Result<Vec<ProvingSector>, WinningPoStError> {
    sectors
        .iter()
        .map(|s| {
            let comm_r = commitment_of(&s.sealed_cid, SEALED_CODEC)
                .map_err(|e| WinningPoStError::Sector { sector: s.sector_number, reason: e.to_string() })?;
            let sector = SectorRef { miner: daemon.actor_id, number: s.sector_number, proof: daemon.seal_proof };
            Ok(ProvingSector { sector, files: daemon.storage.files(&sector), comm_r })
        })
        .collect()
}

/// The WinningPoSt of `sectors` (the round's challenged sectors) for `randomness`: vanilla proofs from storage,
/// then [`winning_post_snark`].
pub async fn winning_post(
    daemon: &Daemon,
    randomness: [u8; 32],
    sectors: &[ExtendedSectorInfo],
) -> Result<Vec<PoStProof>, WinningPoStError> {
    let proving = proving_sectors(daemon, sectors)?;
    let vanilla = tokio::task::spawn_blocking(move || winning_vanilla_proofs(randomness, &proving))
        .await
        .map_err(|e| WinningPoStError::Task(e.to_string()))??;
    winning_post_snark(daemon, randomness, vanilla).await
}

/// The WinningPoSt SNARK from the challenged sectors' vanilla proofs: today on the daemon itself; the place to
/// hand it to a PoSt-capable SealingWorker (the daemon keeps the keys and signs the block either way).
pub async fn winning_post_snark(
    daemon: &Daemon,
    randomness: [u8; 32],
    vanilla: Vec<VanillaProof>,
) -> Result<Vec<PoStProof>, WinningPoStError> {
    let (seal, miner) = (daemon.seal_proof, daemon.actor_id);
    tokio::task::spawn_blocking(move || winning_post_from_vanilla(seal, randomness, miner, &vanilla))
        .await
        .map_err(|e| WinningPoStError::Task(e.to_string()))?
        .map_err(WinningPoStError::from)
}

/// The warm-up: one WinningPoSt over the miner's first active sector with random challenges (lotus
/// `winPoStWarmup`), so the parameters are loaded before a real win. Skipped when the miner has no active
/// sector; a failure is logged (a real win may still succeed).
pub async fn warm_up(daemon: &Daemon) {
    let api = daemon.node.api();
    let sectors = match api.state_miner_active_sectors(LotusJson(daemon.actor), TipSetKey::head()).await {
        Ok(sectors) => sectors,
        Err(error) => {
            tracing::warn!(%error, "WinningPoSt warm-up: cannot list the active sectors");
            return;
        }
    };
    let Some(first) = sectors.into_iter().min_by_key(|s| s.sector_number) else {
        tracing::info!("skipping the WinningPoSt warm-up: no active sector");
        return;
    };
    let sector = ExtendedSectorInfo {
        seal_proof: first.seal_proof,
        sector_number: first.sector_number,
        sector_key: None,
        sealed_cid: first.sealed_cid,
    };
    tracing::info!(sector = sector.sector_number, "starting the WinningPoSt warm-up");
    let started = Instant::now();
    match winning_post(daemon, rand::random(), &[sector]).await {
        Ok(_) => {
            daemon.metrics.mining.winning_post_warmup.set(started.elapsed().as_secs_f64());
            tracing::info!(took = ?started.elapsed(), "WinningPoSt warm-up done");
        }
        Err(error) => tracing::warn!(error = format!("{error:#}"), "WinningPoSt warm-up failed"),
    }
}
