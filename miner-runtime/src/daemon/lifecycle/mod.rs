//! The sector lifecycle policy (`run --extend-within-days`, the Miner's `spec.sectorLifecycle.extension`): at each
//! new deadline the daemon counts the active sectors expiring within the policy's window (exported whether or not
//! the policy is on), and once per proving period it extends those sectors with ExtendSectorExpiration2 messages,
//! batched within builtin-actors' limits (lotus-miner has no such loop: `sectors extend` is run by hand or by
//! cron; lotus issue 2367, curio issue 218).
//!
//! Crash safety: a period's batches are journaled in `lifecycle/extend-<period start>.json` under the steps
//! `extend-sectors-<n>`. A restart in the same period finds its batches pushed and waits for them instead of sending
//! a second message, whatever the plan it computes now; sectors the first plan missed wait for the next period.

use std::collections::BTreeMap;
use std::sync::Arc;

use fvm_ipld_encoding::RawBytes;
use sealstack_chain::actors::methods;
use sealstack_chain::miner::DeadlineInfo;
use sealstack_chain::push::{MessageLog, parse_cid, wait_ok};
use sealstack_chain::sector_lifecycle::{ActiveSector, LocatedSector, active_sectors, extension_batches, send_batches};
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use super::Daemon;
use crate::repo::FileJournal;

pub mod metrics;

/// builtin-actors' maximum sector lifetime in hundredths of a day: 5 years of 365.25 days (`SECTOR_MAXIMUM_LIFETIME`
/// of the V1_1 seal proofs, 5 × 1,051,920 epochs on mainnet).
const MAX_LIFETIME_CENTIDAYS: i64 = 182_625;

/// Days of the window the expiring sectors are counted in when no policy is set.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;

/// Which sectors are extended, and to when, in days (proving periods).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionPolicy {
    /// Sectors expiring within this many days of the period's start are extended.
    pub within_days: i64,
    /// Their new expiration, in days from the period's start.
    pub extend_to_days: i64,
    /// A sector already within this many days of its new expiration is left alone.
    pub tolerance_days: i64,
}

/// Sectors given one new expiration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The expiration they get.
    pub new_expiration: i64,
    /// The sectors, soonest expiring first.
    pub sectors: Vec<LocatedSector>,
}

/// What `policy` does in the proving period starting at `period_start`, with days of `day` epochs: the active
/// sectors expiring by `period_start + within` get `period_start + extend_to`, or the latest their maximum lifetime
/// allows; those already within the tolerance of it are left alone (a sector at its maximum lifetime expires).
/// Grouped by new expiration.
pub fn plan(policy: &ExtensionPolicy, sectors: &[ActiveSector], period_start: i64, day: i64) -> Vec<Extension> {
    let window_end = period_start + policy.within_days * day;
    let target = period_start + policy.extend_to_days * day;
    let tolerance = policy.tolerance_days * day;
    let max_lifetime = day * MAX_LIFETIME_CENTIDAYS / 100;
    let mut groups: BTreeMap<i64, Vec<LocatedSector>> = BTreeMap::new();
    for sector in sectors {
        let located = &sector.located;
        let new_expiration = target.min(sector.activation + max_lifetime);
        if located.expiration <= window_end && new_expiration - located.expiration > tolerance {
            groups.entry(new_expiration).or_default().push(located.clone());
        }
    }
    groups
        .into_iter()
        .map(|(new_expiration, mut sectors)| {
            sectors.sort_by_key(|s| (s.expiration, s.number));
            Extension { new_expiration, sectors }
        })
        .collect()
}

/// How many of `sectors` expire by `until`.
pub fn expiring_by(sectors: &[ActiveSector], until: i64) -> usize {
    sectors.iter().filter(|s| s.located.expiration <= until).count()
}

/// Follows the proving schedule until the process ends: a look at each new deadline, the policy once a period.
pub async fn run(daemon: Arc<Daemon>) {
    let (mut looked, mut extended) = (None, None);
    loop {
        if let Err(error) = tick(&daemon, &mut looked, &mut extended).await {
            daemon.metrics.lifecycle.extension("failed");
            tracing::warn!(error = format!("{error:#}"), "sector extension (tried again at the next deadline)");
        }
        tokio::time::sleep(daemon.config.poll).await;
    }
}

/// At a deadline not looked at yet: the expiring sectors counted, and the policy applied unless it was in this
/// period.
async fn tick(daemon: &Daemon, looked: &mut Option<i64>, extended: &mut Option<i64>) -> anyhow::Result<()> {
    let info = daemon
        .node
        .api()
        .state_miner_proving_deadline(LotusJson(daemon.actor), TipSetKey::head())
        .await
        .map_err(daemon.node.err())?;
    if *looked == Some(info.open) {
        return Ok(());
    }
    *looked = Some(info.open);
    let sectors = active_sectors(&daemon.node, daemon.actor, info.wpost_period_deadlines).await?;
    let day = info.wpost_proving_period;
    let window = daemon.config.extension.as_ref().map_or(DEFAULT_WINDOW_DAYS, |p| p.within_days);
    daemon.metrics.lifecycle.expiring.set(expiring_by(&sectors, info.period_start + window * day) as i64);
    if let Some(next) = sectors.iter().map(|s| s.located.expiration).min() {
        daemon.metrics.lifecycle.next_expiration.set(next);
    }
    let Some(policy) = &daemon.config.extension else { return Ok(()) };
    if *extended == Some(info.period_start) {
        return Ok(());
    }
    extend(daemon, policy, &sectors, &info).await?;
    *extended = Some(info.period_start);
    Ok(())
}

/// Applies `policy` in the period of `info`: the planned batches sent (or, after a restart in the period, those
/// already journaled waited for), then older periods' journals removed.
async fn extend(
    daemon: &Daemon,
    policy: &ExtensionPolicy,
    sectors: &[ActiveSector],
    info: &DeadlineInfo,
) -> anyhow::Result<()> {
    let planned = plan(policy, sectors, info.period_start, info.wpost_proving_period);
    let mut batches = Vec::new();
    let mut counts = Vec::new();
    for extension in &planned {
        for params in extension_batches(&extension.sectors, extension.new_expiration) {
            counts.push(params.extensions.iter().map(|e| e.sectors.len()).sum::<u64>());
            batches.push((format!("extend-sectors-{}", batches.len()), RawBytes::serialize(&params)?));
        }
    }
    let dir = daemon.repo.file("lifecycle");
    let mut journal = FileJournal::new(dir.join(format!("extend-{}.json", info.period_start)));
    let mut log: MessageLog = journal.load()?.unwrap_or_default();
    // After a restart: a step journaled in this period but not planned now (the plan shrank when an earlier batch
    // landed) is waited for, not sent again.
    for (step, record) in &log.0 {
        let unplanned = !batches.iter().any(|(planned, _)| planned == step);
        if let (true, Some(cid)) = (unplanned, &record.cid)
            && let Err(error) = wait_ok(&daemon.node, parse_cid(cid)?, step, daemon.config.confidence).await
        {
            tracing::warn!(step, error = format!("{error:#}"), "an extension sent before the restart failed");
        }
    }
    if !batches.is_empty() {
        let numbers: Vec<u64> = planned.iter().flat_map(|e| e.sectors.iter().map(|s| s.number)).collect();
        let expirations: Vec<i64> = planned.iter().map(|e| e.new_expiration).collect();
        tracing::info!(sectors = ?numbers, ?expirations, messages = batches.len(), "extending sectors near expiry");
        let (confidence, worker, method) =
            (daemon.config.confidence, daemon.worker, methods::EXTEND_SECTOR_EXPIRATION2);
        let landed =
            send_batches(&daemon.node, daemon.actor, worker, method, batches, &mut log, &mut journal, confidence)
                .await?;
        for (lookup, count) in landed.iter().zip(counts) {
            daemon.metrics.lifecycle.extended.inc_by(count);
            tracing::info!(message = %lookup.message.0, height = lookup.height, sectors = count, "sectors extended");
        }
        daemon.metrics.lifecycle.extension("ok");
    }
    remove_older_journals(&dir, info.period_start);
    Ok(())
}

/// Removes the journals of periods before `period_start` (their messages landed, or were given up for a new plan).
fn remove_older_journals(dir: &std::path::Path, period_start: i64) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let period = name.strip_prefix("extend-").and_then(|n| n.strip_suffix(".json")).and_then(|n| n.parse().ok());
        if period.is_some_and(|p: i64| p < period_start) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 100;

    fn sector(number: u64, expiration: i64, activation: i64) -> ActiveSector {
        ActiveSector { located: LocatedSector { number, deadline: 0, partition: 0, expiration }, activation }
    }

    fn policy(within_days: i64, extend_to_days: i64, tolerance_days: i64) -> ExtensionPolicy {
        ExtensionPolicy { within_days, extend_to_days, tolerance_days }
    }

    fn numbers(extension: &Extension) -> Vec<u64> {
        extension.sectors.iter().map(|s| s.number).collect()
    }

    #[test]
    fn sectors_expiring_within_the_window_get_the_target_soonest_first() {
        // Period starting at 1000: the window ends at 1000 + 30 days, the target is 1000 + 540 days.
        let sectors = [sector(0, 3500, 0), sector(1, 4000, 0), sector(2, 1500, 0), sector(3, 9000, 0)];
        let planned = plan(&policy(30, 540, 7), &sectors, 1000, DAY);
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].new_expiration, 1000 + 540 * DAY);
        assert_eq!(numbers(&planned[0]), [2, 0, 1], "3 expires after the window");
        assert_eq!(expiring_by(&sectors, 1000 + 30 * DAY), 3);
    }

    #[test]
    fn a_sector_is_never_extended_past_its_maximum_lifetime_nor_for_less_than_the_tolerance() {
        let max_lifetime = DAY * MAX_LIFETIME_CENTIDAYS / 100;
        // Activated long ago: the target passes its 5 years, so it gets exactly its maximum lifetime.
        let old = sector(0, 2000, -max_lifetime + 2500 + 10 * DAY);
        // At its maximum lifetime already (within the tolerance of it): left to expire.
        let done = sector(1, 2000, -max_lifetime + 2000 + DAY);
        let young = sector(2, 2000, 0);
        let planned = plan(&policy(30, 540, 7), &[old.clone(), done, young], 1000, DAY);
        let by_expiration: Vec<(i64, Vec<u64>)> = planned.iter().map(|e| (e.new_expiration, numbers(e))).collect();
        assert_eq!(by_expiration, [(old.activation + max_lifetime, vec![0]), (1000 + 540 * DAY, vec![2])]);
        // Already close to the target: nothing to do.
        let close = sector(3, 1000 + 535 * DAY, 0);
        assert!(plan(&policy(600, 540, 7), &[close], 1000, DAY).is_empty());
    }
}
