//! Checking that sectors can be proven, as `lotus-miner proving check` does, and making their vanilla proofs:
//! each sector alone, in parallel (at most `check_parallel` at once) and within `check_timeout`, so a missing disk,
//! a corrupt file or a hung read fails that sector only. Every check ends in a vanilla proof of real challenges:
//! the deadline's own (for the proof that is then sent) or fresh random ones (for fault declarations ahead of a
//! deadline, when its challenge is not drawn yet).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::daemon::Daemon;
use crate::sealing::post::{VanillaProof, check_files, vanilla_proof, window_post_challenges};
use crate::sealing::{ProvingSector, SectorRef};

/// What a check found for each sector.
#[derive(Debug, Default)]
pub struct Checked {
    /// The vanilla proofs of the sectors that passed.
    pub good: BTreeMap<u64, VanillaProof>,
    /// Why each other sector failed.
    pub bad: BTreeMap<u64, String>,
}

/// Why sectors are checked (the label of the check metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// For the proof of an open deadline, with its challenge.
    Proof,
    /// Ahead of a deadline's fault cutoff, for fault and recovery declarations.
    Declaration,
    /// Asked through the API (`proving check`).
    Request,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Proof => "proof",
            Purpose::Declaration => "declaration",
            Purpose::Request => "request",
        }
    }
}

/// A sector to check: its number and CommR (from the chain).
#[derive(Clone, Copy, Debug)]
pub struct ToCheck {
    /// The sector number.
    pub number: u64,
    /// Its CommR.
    pub comm_r: [u8; 32],
}

/// Checks `sectors` against `randomness` (the deadline's challenge, or random bytes) and returns their vanilla
/// proofs and failures. Never fails as a whole: a sector that cannot be checked is a bad sector.
pub async fn check_sectors(daemon: &Daemon, sectors: &[ToCheck], randomness: [u8; 32], purpose: Purpose) -> Checked {
    let mut checked = Checked::default();
    if sectors.is_empty() {
        return checked;
    }
    let started = Instant::now();
    let post_type = match crate::sealing::window_post_proof_of(daemon.seal_proof) {
        Ok(t) => t,
        Err(e) => {
            checked.bad.extend(sectors.iter().map(|s| (s.number, e.to_string())));
            return checked;
        }
    };
    let numbers: Vec<u64> = sectors.iter().map(|s| s.number).collect();
    let miner = daemon.actor_id;
    let challenges =
        match tokio::task::spawn_blocking(move || window_post_challenges(post_type, randomness, miner, &numbers)).await
        {
            Ok(Ok(challenges)) => Arc::new(challenges),
            Ok(Err(e)) => {
                checked.bad.extend(sectors.iter().map(|s| (s.number, e.to_string())));
                return checked;
            }
            Err(e) => {
                checked.bad.extend(sectors.iter().map(|s| (s.number, format!("challenge generation: {e}"))));
                return checked;
            }
        };
    let limit = Arc::new(Semaphore::new(daemon.config.check_parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for sector in sectors {
        let reference = SectorRef { miner, number: sector.number, proof: daemon.seal_proof };
        let proving =
            ProvingSector { sector: reference, files: daemon.storage.files(&reference), comm_r: sector.comm_r };
        let (limit, challenges, timeout) = (limit.clone(), challenges.clone(), daemon.config.check_timeout);
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await.expect("the semaphore is never closed");
            let number = proving.sector.number;
            let work = tokio::task::spawn_blocking(move || prove_one(&proving, &challenges));
            let result = match tokio::time::timeout(timeout, work).await {
                Ok(Ok(result)) => result,
                Ok(Err(e)) => Err(format!("check task failed: {e}")),
                Err(_) => Err(format!("no vanilla proof within {timeout:?} (storage too slow or hung)")),
            };
            (number, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((number, Ok(proof))) => {
                checked.good.insert(number, proof);
            }
            Ok((number, Err(reason))) => {
                checked.bad.insert(number, reason);
            }
            Err(e) => tracing::error!(error = %e, "a sector check task panicked"),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    daemon.metrics.sector_checks(purpose.label(), checked.good.len() as u64, checked.bad.len() as u64, seconds);
    for (number, reason) in &checked.bad {
        tracing::warn!(sector = number, reason = %reason, "sector check failed");
    }
    checked
}

/// The whole check of one sector: its files, then a vanilla proof of its challenges.
fn prove_one(sector: &ProvingSector, challenges: &BTreeMap<u64, Vec<u64>>) -> Result<VanillaProof, String> {
    check_files(sector).map_err(|e| e.to_string())?;
    let leaves = challenges.get(&sector.sector.number).ok_or_else(|| "no challenges drawn".to_string())?;
    vanilla_proof(sector, leaves).map_err(|e| e.to_string())
}

/// Fresh random bytes, the challenge of a check made before a deadline's own is drawn.
pub fn random_challenge() -> [u8; 32] {
    rand::random()
}

/// The check's time limit per sector by default (lotus `SingleCheckTimeout` is 10 minutes for 32GiB sectors on
/// network storage; a 2KiB sector on a local disk takes milliseconds).
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(600);
