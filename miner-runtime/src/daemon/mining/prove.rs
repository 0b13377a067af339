//! The WinningPoSt of a won round: vanilla proofs read from the daemon's storage, then the SNARK
//! ([`winning_post_snark`]). The SNARK reads no file: when a SealingWorker with the `WinningPoSt` task is
//! connected (a GPU pool), it is handed to up to `--post-redundancy` of them (`daemon::post_jobs`) and the
//! daemon checks each answer as the chain will; when none answers validly by the time that still leaves the
//! daemon room to prove it itself before the round's deadline, the daemon makes it (and still takes a valid
//! answer that comes first). The daemon signs and submits the block either way: the keys and the single-writer
//! guarantee stay in one place. Also the warm-up at start, so the first real win does not pay for loading the
//! parameters (lotus issue 4824).

use std::time::{Duration, Instant};

use fvm_shared::sector::PoStProof;
use sealstack_chain::block::ExtendedSectorInfo;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use crate::daemon::Daemon;
use crate::daemon::post_jobs::{self, GiveUp, Prover};
use crate::protocol::{TaskInput, TaskKind, TaskResult};
use crate::sealing::post::VanillaProof;
use crate::sealing::winning::{
    verify_winning_post, winning_post_from_vanilla, winning_post_proof_of, winning_vanilla_proofs,
};
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

/// The challenged sectors' vanilla proofs for `randomness`, read from storage, with each sector's number and
/// CommR (what a worker's SNARK is checked against).
async fn vanilla_proofs(
    daemon: &Daemon,
    randomness: [u8; 32],
    sectors: &[ExtendedSectorInfo],
) -> Result<(Vec<VanillaProof>, Vec<(u64, [u8; 32])>), WinningPoStError> {
    let proving = proving_sectors(daemon, sectors)?;
    let checked = proving.iter().map(|p| (p.sector.number, p.comm_r)).collect();
    let vanilla = tokio::task::spawn_blocking(move || winning_vanilla_proofs(randomness, &proving))
        .await
        .map_err(|e| WinningPoStError::Task(e.to_string()))??;
    Ok((vanilla, checked))
}

/// The WinningPoSt of `sectors` (the round's challenged sectors) for `randomness`, ready by `deadline` if it
/// can be: vanilla proofs from storage, then [`winning_post_snark`]. Returns who made the SNARK.
pub async fn winning_post(
    daemon: &Daemon,
    randomness: [u8; 32],
    sectors: &[ExtendedSectorInfo],
    deadline: Instant,
) -> Result<(Vec<PoStProof>, Prover), WinningPoStError> {
    let (vanilla, checked) = vanilla_proofs(daemon, randomness, sectors).await?;
    winning_post_snark(daemon, randomness, vanilla, &checked, deadline).await
}

/// The WinningPoSt SNARK from the challenged sectors' vanilla proofs: on the PoSt workers with the
/// `WinningPoSt` task until [`give_up_at`], then on the daemon too, the first valid proof taken.
pub async fn winning_post_snark(
    daemon: &Daemon,
    randomness: [u8; 32],
    vanilla: Vec<VanillaProof>,
    sectors: &[(u64, [u8; 32])],
    deadline: Instant,
) -> Result<(Vec<PoStProof>, Prover), WinningPoStError> {
    let workers = post_jobs::workers_for(daemon, TaskKind::WinningPoSt);
    let local_estimate = *daemon.local_winning_snark.lock().expect("estimate lock");
    let give_up = give_up_at(Instant::now(), deadline, local_estimate);
    if workers == 0 || Instant::now() >= give_up {
        if workers > 0 {
            tracing::warn!("no time left for PoSt workers: the daemon makes the WinningPoSt itself");
        }
        return Ok((locally(daemon, randomness, vanilla, Timing::Learn).await?, Prover::Daemon));
    }
    let (post_type, _) = winning_post_proof_of(daemon.seal_proof)?;
    let input = TaskInput::WinningPoSt {
        post_proof: i64::from(post_type),
        randomness: LotusJson(randomness.to_vec()),
        miner: daemon.actor_id,
        vanilla: vanilla.clone(),
    };
    let check = |result| check(daemon, randomness, sectors, result);
    let local = async { locally(daemon, randomness, vanilla, Timing::Learn).await.map_err(anyhow::Error::from) };
    post_jobs::on_workers_or_locally(daemon, input, workers, GiveUp::At(give_up.into()), check, local)
        .await
        .map_err(|e| WinningPoStError::Task(format!("{e:#}")))
}

/// When the daemon stops waiting for PoSt workers and makes the SNARK itself, with `deadline` the round's: it
/// keeps one and a half times its own last SNARK time (`local`; before it made one, half the time left). A
/// worker that answers after that still wins the race against the daemon's own proof.
pub fn give_up_at(now: Instant, deadline: Instant, local: Option<Duration>) -> Instant {
    let left = deadline.saturating_duration_since(now);
    let reserve = local.map_or(left / 2, |local| local.mul_f64(1.5).min(left));
    now + (left - reserve)
}

/// Whether a SNARK's time plans the next give-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timing {
    /// A round's SNARK: the next give-up keeps one and a half times its time.
    Learn,
    /// The warm-up's cold SNARK, which also read the parameters.
    Ignore,
}

/// The daemon's own SNARK; with [`Timing::Learn`] its time is what the next give-up is planned with. (Not queued
/// behind the daemon's own WindowPoSt SNARKs: a block waits for nothing.)
async fn locally(
    daemon: &Daemon,
    randomness: [u8; 32],
    vanilla: Vec<VanillaProof>,
    timing: Timing,
) -> Result<Vec<PoStProof>, WinningPoStError> {
    let started = Instant::now();
    let (seal, miner) = (daemon.seal_proof, daemon.actor_id);
    let proofs = tokio::task::spawn_blocking(move || winning_post_from_vanilla(seal, randomness, miner, &vanilla))
        .await
        .map_err(|e| WinningPoStError::Task(e.to_string()))??;
    if timing == Timing::Learn {
        *daemon.local_winning_snark.lock().expect("estimate lock") = Some(started.elapsed());
    }
    Ok(proofs)
}

/// A worker's answer as the chain will take it: a WinningPoSt that verifies over the challenged sectors.
async fn check(
    daemon: &Daemon,
    randomness: [u8; 32],
    sectors: &[(u64, [u8; 32])],
    result: TaskResult,
) -> Result<Vec<PoStProof>, String> {
    let proof = match result {
        TaskResult::WinningPoSt { proof } => proof.0,
        TaskResult::Failed { error } => return Err(format!("the worker failed: {error}")),
        other => return Err(format!("a {other:?} result to a WinningPoSt job")),
    };
    let (post_type, _) = winning_post_proof_of(daemon.seal_proof).map_err(|e| e.to_string())?;
    let (seal, miner, sectors) = (daemon.seal_proof, daemon.actor_id, sectors.to_vec());
    let bytes = proof.clone();
    let verified =
        tokio::task::spawn_blocking(move || verify_winning_post(seal, randomness, miner, &bytes, &sectors)).await;
    match verified {
        Ok(Ok(true)) => Ok(vec![PoStProof { post_proof: post_type, proof_bytes: proof }]),
        Ok(Ok(false)) => Err("the proof does not verify".into()),
        Ok(Err(e)) => Err(format!("the proof cannot be verified: {e}")),
        Err(e) => Err(format!("verification task failed: {e}")),
    }
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
    // On the daemon itself: it is the fallback of every win, whatever the workers.
    let randomness = rand::random();
    let proved = match vanilla_proofs(daemon, randomness, &[sector]).await {
        // Cold (the parameters read first): its time would keep the daemon from leaving workers any room.
        Ok((vanilla, _)) => locally(daemon, randomness, vanilla, Timing::Ignore).await,
        Err(error) => Err(error),
    };
    match proved {
        Ok(_) => {
            daemon.metrics.mining.winning_post_warmup.set(started.elapsed().as_secs_f64());
            tracing::info!(took = ?started.elapsed(), "WinningPoSt warm-up done");
        }
        Err(error) => tracing::warn!(error = format!("{error:#}"), "WinningPoSt warm-up failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_are_given_what_the_daemon_does_not_need_to_prove_it_itself() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(9);
        assert_eq!(give_up_at(now, deadline, None), now + Duration::from_millis(4500), "before any own SNARK: half");
        let own = Some(Duration::from_secs(2));
        assert_eq!(give_up_at(now, deadline, own), now + Duration::from_secs(6), "1.5 times its own 2 s kept");
        let slow = Some(Duration::from_secs(6));
        assert_eq!(give_up_at(now, deadline, slow), now, "no room for workers: at once");
        assert_eq!(give_up_at(deadline, now, own), deadline, "past the deadline: at once");
    }
}
