//! Fault and recovery declarations, as lotus-miner makes them: while deadline `d` is open, the sectors of the next
//! deadline whose fault cutoff is still ahead are checked (a vanilla proof of fresh random challenges each).
//! Sectors that are live and not faulty but fail are declared faulty (DeclareFaults), so the deadline's proof is
//! not refused for them and no larger penalty follows; sectors faulty on chain and not yet recovering that pass
//! are declared recovered (DeclareFaultsRecovered) and proven at that deadline, which restores their power. A
//! daemon that was down across deadlines recovers its sectors this way by itself when it is back.
//!
//! Both messages must land before the target deadline's fault cutoff; each is journaled in
//! `<repo>/posts/declare-<open epoch of the target>.json` under a step naming its sectors, so the same
//! declaration is sent at most once.

use std::collections::{BTreeMap, BTreeSet};

use fvm_ipld_encoding::RawBytes;
use fvm_shared::econ::TokenAmount;
use sealstack_chain::actors::{methods, miner_state};
use sealstack_chain::message::unsigned_message;
use sealstack_chain::miner::{BitFieldJson, DeadlineInfo};
use sealstack_chain::push::MessageLog;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use super::check::{Purpose, ToCheck, check_sectors, random_challenge};
use super::landing::{Delivery, Landing, deliver};
use crate::daemon::Daemon;
use crate::repo::FileJournal;
use crate::sealing::{SEALED_CODEC, commitment_of};

/// Epochs a declaration needs to land: pushed, included in the next block, executed in the one after.
pub const LANDING_EPOCHS: i64 = 3;

/// The deadline whose faults and recoveries are declared while `current` is open: the first one after it whose
/// fault cutoff (its open epoch less the declaration cutoff) leaves [`LANDING_EPOCHS`] to land a message. With
/// mainnet's numbers (60-epoch deadlines, a 70-epoch cutoff) that is the deadline after next, as in lotus. `None`
/// when no other deadline of the period fits (a network whose deadlines are too short for its cutoff): the next
/// occurrence of the open deadline's own index is the open one to the chain, which refuses declarations for it.
pub fn target_deadline(current: &DeadlineInfo) -> Option<DeadlineInfo> {
    (1..current.wpost_period_deadlines as i64)
        .find(|offset| {
            let open = current.open + offset * current.wpost_challenge_window;
            open - current.fault_declaration_cutoff - LANDING_EPOCHS > current.current_epoch
        })
        .map(|offset| shifted(current, offset))
}

/// Deadline `current` moved `offset` deadlines ahead (the index wraps, the period start moves with it).
fn shifted(current: &DeadlineInfo, offset: i64) -> DeadlineInfo {
    let deadlines = current.wpost_period_deadlines as i64;
    let index = current.index as i64 + offset;
    let open = current.open + offset * current.wpost_challenge_window;
    DeadlineInfo {
        index: (index % deadlines) as u64,
        period_start: current.period_start + (index / deadlines) * current.wpost_proving_period,
        open,
        close: open + current.wpost_challenge_window,
        challenge: open - current.wpost_challenge_lookback,
        fault_cutoff: open - current.fault_declaration_cutoff,
        ..current.clone()
    }
}

/// What was declared for one target deadline.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// Sectors declared faulty.
    pub faults: BTreeSet<u64>,
    /// Sectors declared recovered.
    pub recoveries: BTreeSet<u64>,
}

/// Checks the sectors of `target` and declares its new faults and its recoveries.
pub async fn declare_for(daemon: &Daemon, target: &DeadlineInfo) -> anyhow::Result<Declared> {
    let api = daemon.node.api();
    let actor = LotusJson(daemon.actor);
    let partitions =
        api.state_miner_partitions(actor.clone(), target.index, TipSetKey::head()).await.map_err(daemon.node.err())?;
    // Per partition: sectors to check for new faults (live, not faulty) and for recovery (faulty, not recovering).
    let mut healthy: BTreeMap<u64, u64> = BTreeMap::new();
    let mut faulty: BTreeMap<u64, u64> = BTreeMap::new();
    for (index, partition) in partitions.iter().enumerate() {
        let live: BTreeSet<u64> = partition.live_sectors.numbers().into_iter().collect();
        let faults: BTreeSet<u64> = partition.faulty_sectors.numbers().into_iter().collect();
        let recovering: BTreeSet<u64> = partition.recovering_sectors.numbers().into_iter().collect();
        healthy.extend(live.difference(&faults).map(|n| (*n, index as u64)));
        faulty.extend(faults.difference(&recovering).map(|n| (*n, index as u64)));
    }
    // A sector whose ProveCommit has just landed is live on chain while Finalize still brings its files from the
    // worker to long-term storage: not a fault (its files are checked at the next declaration or proof).
    let finalizing = daemon.store.awaiting_finalize(healthy.keys().copied());
    healthy.retain(|number, _| !finalizing.contains(number));
    if healthy.is_empty() && faulty.is_empty() {
        return Ok(Declared::default());
    }
    let numbers: Vec<u64> = healthy.keys().chain(faulty.keys()).copied().collect();
    let on_chain = api
        .state_miner_sectors(actor, Some(BitFieldJson::from_numbers(&numbers)), TipSetKey::head())
        .await
        .map_err(daemon.node.err())?;
    let sectors: Vec<ToCheck> = on_chain
        .iter()
        .map(|s| Ok(ToCheck { number: s.sector_number, comm_r: commitment_of(&s.sealed_cid.0, SEALED_CODEC)? }))
        .collect::<anyhow::Result<_>>()?;
    let checked = check_sectors(daemon, &sectors, random_challenge(), Purpose::Declaration).await;

    let new_faults: BTreeMap<u64, u64> =
        healthy.iter().filter(|(n, _)| checked.bad.contains_key(n)).map(|(n, p)| (*n, *p)).collect();
    let recovered: BTreeMap<u64, u64> =
        faulty.iter().filter(|(n, _)| checked.good.contains_key(n)).map(|(n, p)| (*n, *p)).collect();

    let path = daemon.repo.file(&format!("posts/declare-{}.json", target.open));
    let mut journal = FileJournal::new(path);
    let mut log: MessageLog = journal.load()?.unwrap_or_default();
    let mut declared = Declared::default();
    if !new_faults.is_empty() {
        let params = miner_state::DeclareFaultsParams {
            faults: by_partition(&new_faults)
                .into_iter()
                .map(|(partition, sectors)| miner_state::FaultDeclaration {
                    deadline: target.index,
                    partition,
                    sectors: super::bitfield(sectors),
                })
                .collect(),
        };
        let step = step_name("declare-faults", new_faults.keys());
        if send(daemon, &mut log, &mut journal, target, ("declare-faults", &step), methods::DECLARE_FAULTS, &params)
            .await?
        {
            tracing::warn!(deadline = target.index, sectors = ?new_faults.keys().collect::<Vec<_>>(), "faults declared");
            daemon.metrics.faults_declared(new_faults.len() as u64);
            declared.faults = new_faults.into_keys().collect();
        }
    }
    if !recovered.is_empty() {
        let params = miner_state::DeclareFaultsRecoveredParams {
            recoveries: by_partition(&recovered)
                .into_iter()
                .map(|(partition, sectors)| miner_state::RecoveryDeclaration {
                    deadline: target.index,
                    partition,
                    sectors: super::bitfield(sectors),
                })
                .collect(),
        };
        let (step, method) = (step_name("declare-recoveries", recovered.keys()), methods::DECLARE_FAULTS_RECOVERED);
        if send(daemon, &mut log, &mut journal, target, ("declare-recoveries", &step), method, &params).await? {
            tracing::info!(deadline = target.index, sectors = ?recovered.keys().collect::<Vec<_>>(), "recoveries declared");
            daemon.metrics.recoveries_declared(recovered.len() as u64);
            declared.recoveries = recovered.into_keys().collect();
        }
    }
    Ok(declared)
}

/// The journal step of a declaration of `sectors`: the kind and a digest of the numbers, so the same declaration
/// is sent once across restarts and a different one (sectors found failing later) gets a message of its own.
fn step_name<'a>(kind: &str, sectors: impl Iterator<Item = &'a u64>) -> String {
    let mut state = blake2b_simd::Params::new().hash_length(8).to_state();
    for number in sectors {
        state.update(&number.to_be_bytes());
    }
    format!("{kind}-{}", &state.finalize().to_hex()[..12])
}

/// Sector numbers grouped by their partition.
fn by_partition(sectors: &BTreeMap<u64, u64>) -> BTreeMap<u64, BTreeSet<u64>> {
    let mut grouped: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for (number, partition) in sectors {
        grouped.entry(*partition).or_default().insert(*number);
    }
    grouped
}

/// Sends one declaration (at most once per target deadline) and waits for it; true when it landed.
async fn send(
    daemon: &Daemon,
    log: &mut MessageLog,
    journal: &mut FileJournal,
    target: &DeadlineInfo,
    (kind, step): (&'static str, &str),
    method: u64,
    params: &impl serde::Serialize,
) -> anyhow::Result<bool> {
    let message =
        unsigned_message(daemon.worker, daemon.actor, TokenAmount::from_atto(0), method, RawBytes::serialize(params)?);
    let delivery = Delivery {
        kind,
        step: step.to_string(),
        max_fee: daemon.config.post_max_fee.clone(),
        land_before: target.fault_cutoff,
    };
    match deliver(daemon, log, journal, &delivery, &message).await? {
        Landing::Landed(_) => Ok(true),
        Landing::Refused { exit_code, cid } => {
            tracing::error!(deadline = target.index, step, exit_code, %cid, "declaration refused by the chain");
            Ok(false)
        }
        Landing::Missed => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadline(epoch: i64, index: u64, open: i64, window: i64, cutoff: i64) -> DeadlineInfo {
        DeadlineInfo {
            current_epoch: epoch,
            period_start: open - index as i64 * window,
            index,
            open,
            close: open + window,
            challenge: open - 20,
            fault_cutoff: open - cutoff,
            wpost_period_deadlines: 48,
            wpost_proving_period: 48 * window,
            wpost_challenge_window: window,
            wpost_challenge_lookback: 20,
            fault_declaration_cutoff: cutoff,
        }
    }

    #[test]
    fn mainnet_numbers_target_the_deadline_after_next_like_lotus() {
        // Mainnet: 60-epoch deadlines, faults cut off 70 epochs before a deadline opens.
        let current = deadline(1000, 10, 1000, 60, 70);
        let target = target_deadline(&current).unwrap();
        assert_eq!(target.index, 12);
        assert_eq!(target.open, 1120);
        assert_eq!(target.fault_cutoff, 1050);
        // Late in the deadline the one after next is still fine (cutoff 1050 > 1040 + 3)...
        assert_eq!(target_deadline(&DeadlineInfo { current_epoch: 1040, ..current.clone() }).unwrap().index, 12);
        // ...but not at its very end: then the one after that.
        assert_eq!(target_deadline(&DeadlineInfo { current_epoch: 1059, ..current }).unwrap().index, 13);
    }

    #[test]
    fn no_target_when_every_other_deadline_is_past_its_cutoff() {
        // 2-epoch deadlines, 4 a period, a 3-epoch cutoff: the nearest cutoffs are 1, 3 and 5 epochs on, none leaves
        // 3 epochs to land; the open deadline's own next occurrence is the open one to the chain.
        let current =
            DeadlineInfo { wpost_period_deadlines: 4, wpost_proving_period: 8, ..deadline(100, 1, 100, 2, 3) };
        assert_eq!(target_deadline(&current), None);
        // A 2-epoch cutoff with 3-epoch deadlines (the demo's): the deadline after next.
        let demo = DeadlineInfo { wpost_period_deadlines: 4, wpost_proving_period: 12, ..deadline(100, 1, 100, 3, 2) };
        assert_eq!(target_deadline(&demo).map(|t| t.index), Some(3));
    }

    #[test]
    fn the_target_wraps_into_the_next_proving_period() {
        let current = deadline(4700, 47, 4700, 60, 70);
        let target = target_deadline(&current).unwrap();
        assert_eq!(target.index, 1);
        assert_eq!(target.period_start, current.period_start + 48 * 60);
        assert_eq!(target.open, 4820);
    }
}
