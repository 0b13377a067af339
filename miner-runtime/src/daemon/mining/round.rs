//! One mining round, as lotus-miner's `mineOne`: the base info, the ticket and the election proof (VRFs signed
//! by the worker key through the node's `WalletSign`), and on a win the WinningPoSt, the messages
//! (`MpoolSelect`), the block (`MinerCreateBlock`, after the epoch is journaled) and its submission
//! (`SyncSubmitBlock`).

use std::time::Instant;

use fvm_shared::bigint::BigInt;
use sealstack_chain::block::{BlockTemplate, MiningBaseInfo};
use sealstack_chain::election::{compute_win_count, election_vrf_input, ticket_vrf_input, winning_post_randomness};
use sealstack_chain::tipset::{ElectionProof, PoStProofJson, Ticket, TipSet};
use sealstack_chain::{FullNodeClient, LotusJson};

use super::journal::{BlockFate, DAEMON_PROVER, MiningJournal};
use super::prove::winning_post;
use crate::daemon::Daemon;
use crate::daemon::post_jobs::Prover;

/// A round to mine: the base, the null rounds since it, and when the base was seen.
pub struct Round {
    /// The base tipset.
    pub base: TipSet,
    /// The round's epoch (base height + null rounds + 1).
    pub epoch: i64,
    /// When the round opened for this daemon.
    pub opened: Instant,
}

/// What a round gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No sector to prove, or not eligible (power, consensus fault, fee debt).
    NotEligible,
    /// Eligible, not elected.
    LostElection,
    /// Elected, but a block for this epoch was signed already (after a restart).
    AlreadySigned,
    /// Elected, and no WinningPoSt could be made.
    ProofFailed(String),
    /// Elected, and the block was not ready before the round's deadline: not signed.
    Late,
    /// A block was submitted and accepted.
    Submitted {
        /// Its CID.
        cid: String,
    },
    /// A block was made and the node refused it.
    Refused {
        /// Late: its epoch closed before it arrived.
        late: bool,
        /// The node's message.
        message: String,
    },
}

/// The VRF of `input` by the worker key, signed by the node's wallet (lotus `ComputeVRF`: must be BLS).
async fn vrf(daemon: &Daemon, info: &MiningBaseInfo, input: [u8; 32]) -> anyhow::Result<Vec<u8>> {
    let signature = daemon
        .node
        .api()
        .wallet_sign(info.worker_key.clone(), LotusJson(input.to_vec()))
        .await
        .map_err(daemon.node.err())?;
    anyhow::ensure!(signature.sig_type == 2, "miner worker address was not a BLS key");
    Ok(signature.data.0)
}

/// Mines `round`: see the module's documentation. `journal` guards against signing an epoch twice; a block not
/// ready by `deadline` is not signed.
pub async fn mine_one(
    daemon: &Daemon,
    journal: &mut MiningJournal,
    round: &Round,
    deadline: Instant,
) -> anyhow::Result<Outcome> {
    let api = daemon.node.api();
    let miner = daemon.actor;
    let info =
        api.miner_get_base_info(LotusJson(miner), round.epoch, round.base.key()).await.map_err(daemon.node.err())?;
    let Some(info) = info.filter(|i| i.eligible_for_mining) else { return Ok(Outcome::NotEligible) };
    let beacon = info.round_beacon().data.0.clone();
    let min_ticket = round.base.blocks.first().and_then(|b| b.ticket.as_ref()).map(|t| t.vrf_proof.0.clone());
    let ticket =
        vrf(daemon, &info, ticket_vrf_input(&beacon, round.epoch, &miner, &min_ticket.unwrap_or_default())).await?;
    let election = vrf(daemon, &info, election_vrf_input(&beacon, round.epoch, &miner)).await?;
    let power: BigInt = info.miner_power.parse().unwrap_or_default();
    let network: BigInt = info.network_power.parse().unwrap_or_default();
    let win_count = compute_win_count(&election, &power, &network);
    if win_count < 1 {
        return Ok(Outcome::LostElection);
    }
    daemon.metrics.mining.blocks_won.inc();
    tracing::info!(epoch = round.epoch, win_count, "won the election");
    if journal.record().signed_at_or_after(round.epoch) {
        tracing::warn!(
            epoch = round.epoch,
            "a block was signed for this epoch already (before a restart): not signing again"
        );
        return Ok(Outcome::AlreadySigned);
    }
    let randomness = winning_post_randomness(&beacon, round.epoch, &miner);
    let proving = Instant::now();
    let (proofs, prover) = match winning_post(daemon, randomness, &info.sectors, deadline).await {
        Ok((proofs, prover)) => {
            daemon.metrics.mining.winning_post(proving.elapsed().as_secs_f64(), &prover);
            tracing::info!(epoch = round.epoch, ?prover, took = ?proving.elapsed(), "WinningPoSt made");
            let prover = match prover {
                Prover::Worker(name) => name,
                Prover::Daemon => DAEMON_PROVER.to_string(),
            };
            (proofs, prover)
        }
        Err(error) => return Ok(Outcome::ProofFailed(format!("{error:#}"))),
    };
    let messages = api.mpool_select(round.base.key(), ticket_quality(&ticket)).await.map_err(daemon.node.err())?.0;
    if Instant::now() > deadline {
        return Ok(Outcome::Late);
    }
    let nulls = round.epoch - round.base.height - 1;
    let base_time = round.base.blocks.first().map(|b| b.timestamp).unwrap_or_default();
    let template = BlockTemplate {
        miner: LotusJson(miner),
        parents: round.base.key(),
        ticket: Some(Ticket { vrf_proof: LotusJson(ticket) }),
        eproof: Some(ElectionProof { win_count, vrf_proof: LotusJson(election) }),
        beacon_values: info.beacon_entries.clone(),
        messages,
        epoch: round.epoch,
        timestamp: base_time + daemon.network.block_delay_secs * (nulls as u64 + 1),
        winning_post_proof: proofs
            .iter()
            .map(|p| PoStProofJson {
                post_proof: i64::from(p.post_proof),
                proof_bytes: LotusJson(p.proof_bytes.clone()),
            })
            .collect(),
    };
    // The single-writer guarantee: the epoch is on disk before the node signs anything for it.
    journal.record_signing(round.epoch, round.base.key().to_string(), win_count)?;
    let block = api.miner_create_block(template).await.map_err(daemon.node.err())?;
    let cid = block.header.cid().map(|c| c.to_string()).unwrap_or_default();
    journal.update(round.epoch, |b| {
        b.cid = Some(cid.clone());
        b.prover = Some(prover);
    })?;
    crash_after_signing();
    match api.sync_submit_block(block).await {
        Ok(()) => {
            journal.update(round.epoch, |b| b.fate = BlockFate::Submitted)?;
            daemon.metrics.mining.blocks_submitted.inc();
            daemon.metrics.mining.block_production(round.opened.elapsed().as_secs_f64());
            Ok(Outcome::Submitted { cid })
        }
        Err(error) => {
            let message = error.to_string();
            let late = message.contains("after the epoch closed") || message.contains("stale base");
            let reason = if late { "late" } else { "refused" };
            journal.update(round.epoch, |b| b.fate = BlockFate::Lost { reason: reason.into() })?;
            Ok(Outcome::Refused { late, message })
        }
    }
}

/// A ticket's quality in [0, 1) (lotus `Ticket.Quality`: 1 - blake2b(VRF) / 2^256), for message selection.
fn ticket_quality(ticket: &[u8]) -> f64 {
    let digest = blake2b_simd::Params::new().hash_length(32).hash(ticket);
    let top = u64::from_be_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"));
    1.0 - top as f64 / 2f64.powi(64)
}

/// Fault injection for the crash test: with `SEALSTACK_CRASH_AFTER_SIGNING_BLOCK` set, the process aborts right
/// after the node signed a block, before it is submitted.
fn crash_after_signing() {
    if std::env::var_os("SEALSTACK_CRASH_AFTER_SIGNING_BLOCK").is_some() {
        eprintln!("injected crash: a block signed, not submitted");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_quality_is_in_the_unit_interval() {
        for ticket in [b"a".as_slice(), b"b", b"another ticket"] {
            let q = ticket_quality(ticket);
            assert!((0.0..=1.0).contains(&q), "{q}");
        }
        assert_ne!(ticket_quality(b"a"), ticket_quality(b"b"));
    }
}
