//! Keeping the miner's power: WindowPoSt at every deadline with sectors ([`deadline`]), sectors checked before
//! each proof and before each fault cutoff ([`check`]), faults and recoveries declared ahead of their deadline
//! ([`declare`]), proving messages delivered in time ([`landing`]), and the actor's power, faults and balances
//! watched and exported ([`status`]).
//!
//! One loop follows the chain's proving schedule: when a deadline opens it starts that deadline's proof, and it
//! starts the declarations for the deadline whose fault cutoff is next; both run as tasks of their own, so a
//! slow proof never delays a declaration.

pub mod check;
pub mod deadline;
pub mod declare;
pub mod landing;
pub mod snark;
pub mod status;

use std::collections::BTreeSet;
use std::sync::Arc;

use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use super::Daemon;

/// A bitfield of sector numbers, as the miner actor's messages take them.
fn bitfield(numbers: impl IntoIterator<Item = u64>) -> fvm_ipld_bitfield::BitField {
    fvm_ipld_bitfield::BitField::try_from_bits(numbers).expect("sector numbers fit a bitfield")
}

/// Follows the proving schedule until the process ends.
pub async fn run(daemon: Arc<Daemon>) {
    let mut proving = BTreeSet::new();
    let mut declaring = BTreeSet::new();
    let mut last_status = None;
    loop {
        if let Err(error) = tick(&daemon, &mut proving, &mut declaring, &mut last_status).await {
            tracing::warn!(error = format!("{error:#}"), "proving schedule");
        }
        tokio::time::sleep(daemon.config.poll).await;
    }
}

/// One look at the schedule: starts what is due and has not been started.
async fn tick(
    daemon: &Arc<Daemon>,
    proving: &mut BTreeSet<i64>,
    declaring: &mut BTreeSet<i64>,
    last_status: &mut Option<i64>,
) -> anyhow::Result<()> {
    let api = daemon.node.api();
    let info = api
        .state_miner_proving_deadline(LotusJson(daemon.actor), TipSetKey::head())
        .await
        .map_err(daemon.node.err())?;
    daemon.metrics.proving_deadline.set(info.index as i64);
    if *last_status != Some(info.open) {
        // Once a deadline: power, faults and balances.
        status::refresh(daemon).await;
        *last_status = Some(info.open);
    }
    let target = declare::target_deadline(&info);
    if info.current_epoch >= info.open && proving.insert(info.open) {
        let daemon = daemon.clone();
        let info = info.clone();
        tokio::spawn(async move {
            let (index, open) = (info.index, info.open);
            match deadline::prove_deadline(daemon.clone(), info).await {
                Ok(outcome) if outcome.proven.is_empty() && outcome.failed.is_empty() => {
                    tracing::debug!(deadline = index, open, "nothing to prove");
                }
                Ok(outcome) => tracing::info!(deadline = index, open, ?outcome, "deadline done"),
                Err(error) => {
                    daemon.metrics.window_post("error");
                    tracing::warn!(deadline = index, open, error = format!("{error:#}"), "WindowPoSt");
                }
            }
        });
    }
    // Forget what is long past (a proving period back), keeping the sets small.
    let horizon = info.open - info.wpost_proving_period;
    proving.retain(|open| *open > horizon);
    declaring.retain(|open| *open > horizon);
    let Some(target) = target else {
        // Once a deadline (keyed by its open epoch, which no later target can have).
        if declaring.insert(info.open) {
            tracing::warn!(
                deadline = info.index,
                window = info.wpost_challenge_window,
                cutoff = info.fault_declaration_cutoff,
                "no deadline's fault cutoff can be reached from here: faults and recoveries are not declared"
            );
        }
        return Ok(());
    };
    if declaring.insert(target.open) {
        let daemon = daemon.clone();
        tokio::spawn(async move {
            if let Err(error) = declare::declare_for(&daemon, &target).await {
                tracing::warn!(
                    deadline = target.index,
                    error = format!("{error:#}"),
                    "fault and recovery declarations"
                );
            }
        });
    }
    Ok(())
}
