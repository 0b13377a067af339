//! The deadline gate: when the runtime pod may be disrupted. A WindowPoSt must land inside its deadline's window,
//! and the runtime makes it; lotus's maintenance guide says never to restart a miner inside an open, unproven
//! deadline. The operator reads each Miner's proving schedule from the chain ([`read_schedule`]) and owns a
//! PodDisruptionBudget for the runtime pod whose `maxUnavailable` is a pure function of it ([`gate`]): 0 from
//! the challenge of a deadline that holds sectors until its proofs landed, 1 otherwise. `kubectl drain` (the
//! Eviction API) then waits for the proof and goes through after it.
//!
//! The gate never locks anyone out: `spec.maintenance.force` (or the `sealstack.io/maintenance-force: "true"`
//! annotation) opens it, and it opens by itself once it was closed without a break for
//! `spec.maintenance.maxBlockedDuration` (a deadline never proven, a chain the operator cannot read: it then
//! keeps the gate closed, as it cannot know the schedule, and says so).

use std::collections::BTreeSet;
use std::time::Duration;

use fvm_shared::address::Address;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sealstack_chain::{ChainError, FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_crds::Miner;
use sealstack_crds::conditions::status::{FALSE, TRUE};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use sealstack_crds::miner::MinerStatus;
use tracing::info;

use super::build::{metadata, selector_labels};
use super::status::Observed;
use crate::apply::apply;
use crate::context::Context;
use crate::error::Result;
use crate::stores::lookup;

/// The annotation that forces the gate open, as `spec.maintenance.force` does.
pub const FORCE_ANNOTATION: &str = "sealstack.io/maintenance-force";
/// Epochs before a challenge the gate closes already: a drain let through just before it must not run into it.
pub const CLOSE_AHEAD_EPOCHS: i64 = 2;
/// How often a held gate is looked at (how soon after a proof lands it opens).
const HELD_RECHECK: Duration = Duration::from_secs(10);
/// How often an open gate is looked at, at the latest.
const OPEN_RECHECK: Duration = Duration::from_secs(60);

/// A Miner's proving schedule, as read from the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The chain's current epoch.
    pub epoch: i64,
    /// The head's timestamp (Unix seconds), to turn epochs into times.
    pub epoch_time: i64,
    /// Seconds per epoch.
    pub block_delay_secs: u64,
    /// The current deadline's index.
    pub current: u64,
    /// The epoch it opened at; it closes a window later.
    pub open: i64,
    /// Epochs per deadline.
    pub window: i64,
    /// Epochs before a deadline opens that its challenge is drawn.
    pub lookback: i64,
    /// Deadlines per proving period.
    pub period_deadlines: u64,
    /// The deadlines that hold sectors to prove.
    pub with_sectors: BTreeSet<u64>,
    /// Partitions of the current deadline that must be proven and are not yet (none when proven or empty).
    pub current_unproven: u64,
}

impl Schedule {
    /// The next deadline after the current one that holds sectors, and the epoch it opens at.
    pub fn next_with_sectors(&self) -> Option<(u64, i64)> {
        (1..=self.period_deadlines).find_map(|offset| {
            let index = (self.current + offset) % self.period_deadlines;
            self.with_sectors.contains(&index).then_some((index, self.open + offset as i64 * self.window))
        })
    }

    /// The Unix time of `epoch`.
    pub fn time_of(&self, epoch: i64) -> i64 {
        self.epoch_time + (epoch - self.epoch) * self.block_delay_secs as i64
    }
}

/// What the gate allows, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gate {
    /// The PodDisruptionBudget's `maxUnavailable`.
    pub max_unavailable: i32,
    /// The `DisruptionAllowed` condition's reason.
    pub reason: &'static str,
    /// Its message.
    pub message: String,
    /// Until when an open gate stays open (Unix seconds): the next closing, when the schedule is known.
    pub safe_until: Option<i64>,
    /// When a held gate opens at the latest by the schedule (Unix seconds): the close of the deadline it waits for.
    pub held_until: Option<i64>,
}

impl Gate {
    fn closed(reason: &'static str, message: String, held_until: Option<i64>) -> Self {
        Self { max_unavailable: 0, reason, message, safe_until: None, held_until }
    }

    fn open(reason: &'static str, message: String, safe_until: Option<i64>) -> Self {
        Self { max_unavailable: 1, reason, message, safe_until, held_until: None }
    }

    /// The `DisruptionAllowed` condition.
    pub fn condition(&self) -> Observed {
        let status = if self.max_unavailable > 0 { TRUE } else { FALSE };
        (status, self.reason.into(), self.message.clone())
    }
}

/// The gate for `schedule` (`Err`: why it cannot be read), given whether it is `forced` open, how long it has been
/// closed without a break (`blocked_for`, `None` while open) and the longest it may be (`max_blocked`).
pub fn gate(
    schedule: Result<&Schedule, &str>,
    forced: bool,
    blocked_for: Option<Duration>,
    max_blocked: Duration,
) -> Gate {
    let by_schedule = match schedule {
        Ok(schedule) => by_schedule(schedule),
        Err(why) => Gate::closed(
            "ChainUnreachable",
            format!("the proving schedule cannot be read ({why}): disruptions held, as a deadline may be open"),
            None,
        ),
    };
    if forced {
        let message =
            format!("forced open by spec.maintenance.force or {FORCE_ANNOTATION} (else: {})", by_schedule.message);
        return Gate::open("Forced", message, None);
    }
    match blocked_for {
        Some(blocked) if by_schedule.max_unavailable == 0 && blocked >= max_blocked => {
            let message = format!(
                "held for {}s, longer than maxBlockedDuration ({}s): let through (else: {})",
                blocked.as_secs(),
                max_blocked.as_secs(),
                by_schedule.message
            );
            Gate::open("BlockedTooLong", message, None)
        }
        _ => by_schedule,
    }
}

/// The gate as the schedule alone has it.
fn by_schedule(s: &Schedule) -> Gate {
    if s.current_unproven > 0 {
        let close = s.open + s.window;
        let message = format!(
            "deadline {} is open until epoch {close} with {} partition(s) not proven yet",
            s.current, s.current_unproven
        );
        return Gate::closed("DeadlineOpen", message, Some(s.time_of(close)));
    }
    let Some((next, opens)) = s.next_with_sectors() else {
        return Gate::open("NoSectors", "no deadline holds sectors".into(), None);
    };
    let closes_at = opens - s.lookback - CLOSE_AHEAD_EPOCHS;
    if s.epoch >= closes_at {
        let message = format!("deadline {next} opens at epoch {opens}, its challenge at {}", opens - s.lookback);
        return Gate::closed("ChallengeDrawn", message, Some(s.time_of(opens + s.window)));
    }
    let proven = if s.with_sectors.contains(&s.current) { "proven" } else { "holds no sectors" };
    let message = format!(
        "deadline {} {proven}; the next with sectors, {next}, has its challenge at epoch {}",
        s.current,
        opens - s.lookback
    );
    Gate::open("DeadlineProven", message, Some(s.time_of(closes_at)))
}

/// The `RolloutPending` condition of a change of the runtime held by `gate`.
pub fn rollout_pending(gate: &Gate) -> Observed {
    let when = match gate.held_until.and_then(|at| Timestamp::from_second(at).ok()) {
        Some(at) => format!("; expected to go ahead by {at}"),
        None => String::new(),
    };
    (TRUE, "DeadlineGate".into(), format!("the runtime's change waits: {}{when}", gate.message))
}

/// Whether the gate is forced open for `miner`.
pub fn forced(miner: &Miner) -> bool {
    miner.spec.maintenance.force
        || miner.metadata.annotations.as_ref().and_then(|a| a.get(FORCE_ANNOTATION)).is_some_and(|v| v == "true")
}

/// The name of the runtime pod's PodDisruptionBudget (the runtime StatefulSet's).
pub fn budget_name(miner: &Miner) -> String {
    super::runtime::runtime_name(miner)
}

/// The runtime pod's PodDisruptionBudget for `gate`.
pub fn build_budget(miner: &Miner, gate: &Gate) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: metadata(miner, budget_name(miner), "miner-disruption-budget", None),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(gate.max_unavailable)),
            selector: Some(LabelSelector { match_labels: Some(selector_labels(miner)), ..LabelSelector::default() }),
            // A pod that is not ready proves nothing: evicting it is always allowed.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".into()),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}

/// The gate of `miner` for `schedule` (`Err`: why it cannot be read), held at most `max_blocked` at a stretch
/// (`spec.maintenance.maxBlockedDuration`, validated), applied as its runtime's PodDisruptionBudget
/// (and its PoSt pools', [`super::pool_budgets`]) and recorded in `status` (the schedule under `proving`, since when disruptions are held). Returns it and when to
/// look again: soon while held (the proof may land any moment), at the latest when an open gate closes.
pub async fn apply_gate(
    ctx: &Context,
    miner: &Miner,
    namespace: &str,
    schedule: Result<Schedule, String>,
    max_blocked: Duration,
    status: &mut MinerStatus,
) -> Result<(Gate, Duration)> {
    let now = Timestamp::now();
    let schedule = schedule.as_ref().map_err(String::as_str);
    let held = gate(schedule, false, None, max_blocked).max_unavailable == 0;
    let held_since = held.then(|| status.disruptions_held_since.clone().unwrap_or(Time(now)));
    let blocked_for = held_since.as_ref().map(|since| Duration::from_secs((now - since.0).get_seconds().max(0) as u64));
    let gate = gate(schedule, forced(miner), blocked_for, max_blocked);
    status.disruptions_held_since = held_since;
    if let (Ok(schedule), Some(proving)) = (schedule, status.proving.as_mut()) {
        proving.current_deadline_open = Some(schedule.open);
        proving.current_deadline_close = Some(schedule.open + schedule.window);
        proving.current_deadline_proven =
            schedule.with_sectors.contains(&schedule.current).then_some(schedule.current_unproven == 0);
        proving.next_deadline_with_sectors = schedule.next_with_sectors().map(|(index, _)| index);
        proving.safe_until = gate.safe_until.and_then(|at| Timestamp::from_second(at).ok()).map(Time);
    }
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), namespace);
    let desired = build_budget(miner, &gate);
    let existing = lookup(&ctx.stores.budgets, namespace, &budget_name(miner)).await?;
    let (_, written) = apply(&budgets, &desired, existing.as_deref()).await?;
    super::pool_budgets::apply_pool_budgets(ctx, miner, namespace, &gate).await?;
    if written {
        info!(
            max_unavailable = gate.max_unavailable,
            reason = gate.reason,
            message = gate.message,
            "deadline gate applied"
        );
    }
    let recheck = match gate.safe_until {
        _ if gate.max_unavailable == 0 => HELD_RECHECK,
        Some(at) => Duration::from_secs((at - now.as_second()).clamp(1, OPEN_RECHECK.as_secs() as i64) as u64),
        None => OPEN_RECHECK,
    };
    Ok((gate, recheck))
}

/// Reads `actor`'s schedule: the current deadline, which deadlines hold sectors (one call per deadline, from the
/// current one on, until one after it holds sectors; none when the actor `has_sectors` not) and what of the
/// current one is proven.
pub async fn read_schedule(node: &Node, actor: Address, has_sectors: bool) -> Result<Schedule, ChainError> {
    let (api, at, err) = (node.api(), TipSetKey::head(), node.err());
    let miner = LotusJson(actor);
    let head = api.chain_head().await.map_err(&err)?;
    let info = api.state_miner_proving_deadline(miner.clone(), at.clone()).await.map_err(&err)?;
    let block_delay_secs = node.version().block_delay;
    let mut schedule = Schedule {
        epoch: head.height,
        epoch_time: head.blocks.first().map_or(0, |b| b.timestamp as i64),
        block_delay_secs,
        current: info.index,
        open: info.open,
        window: info.wpost_challenge_window,
        lookback: info.wpost_challenge_lookback,
        period_deadlines: info.wpost_period_deadlines,
        with_sectors: BTreeSet::new(),
        current_unproven: 0,
    };
    let scanned = if has_sectors { info.wpost_period_deadlines } else { 0 };
    for offset in 0..scanned {
        let index = (info.index + offset) % info.wpost_period_deadlines;
        let partitions = api.state_miner_partitions(miner.clone(), index, at.clone()).await.map_err(&err)?;
        let due: Vec<u64> = partitions
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                let faulty: BTreeSet<u64> = p.faulty_sectors.numbers().into_iter().collect();
                let recovering: BTreeSet<u64> = p.recovering_sectors.numbers().into_iter().collect();
                p.live_sectors.numbers().into_iter().any(|n| !faulty.contains(&n) || recovering.contains(&n))
            })
            .map(|(i, _)| i as u64)
            .collect();
        if due.is_empty() {
            continue;
        }
        schedule.with_sectors.insert(index);
        if offset == 0 {
            let deadlines = api.state_miner_deadlines(miner.clone(), at.clone()).await.map_err(&err)?;
            let proven: BTreeSet<u64> = deadlines
                .get(index as usize)
                .map(|d| d.post_submissions.numbers().into_iter().collect())
                .unwrap_or_default();
            schedule.current_unproven = due.iter().filter(|p| !proven.contains(p)).count() as u64;
        } else {
            break;
        }
    }
    Ok(schedule)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    /// Mainnet's shape: 48 deadlines of 60 epochs, challenges 20 epochs ahead, 30 s epochs; deadline 10 open since
    /// epoch 1000 and the chain at `epoch`.
    fn schedule(epoch: i64, with_sectors: &[u64], current_unproven: u64) -> Schedule {
        Schedule {
            epoch,
            epoch_time: 1_700_000_000,
            block_delay_secs: 30,
            current: 10,
            open: 1000,
            window: 60,
            lookback: 20,
            period_deadlines: 48,
            with_sectors: with_sectors.iter().copied().collect(),
            current_unproven,
        }
    }

    #[test]
    fn an_open_deadline_with_unproven_sectors_holds_disruptions() {
        let gate = gate(Ok(&schedule(1010, &[10, 11], 2)), false, None, HOUR);
        assert_eq!((gate.max_unavailable, gate.reason), (0, "DeadlineOpen"));
        assert_eq!(gate.message, "deadline 10 is open until epoch 1060 with 2 partition(s) not proven yet");
        assert_eq!(gate.safe_until, None);
        assert_eq!(gate.condition().0, FALSE);
    }

    #[test]
    fn a_proven_deadline_lets_disruptions_through_until_the_next_challenge() {
        // Deadline 12 opens at 1120; its challenge at 1100; the gate closes 2 epochs before.
        let gate = gate(Ok(&schedule(1030, &[10, 12], 0)), false, None, HOUR);
        assert_eq!((gate.max_unavailable, gate.reason), (1, "DeadlineProven"));
        assert_eq!(gate.safe_until, Some(1_700_000_000 + (1098 - 1030) * 30));
        assert_eq!(gate.message, "deadline 10 proven; the next with sectors, 12, has its challenge at epoch 1100");
        // At the challenge (less the margin), closed again though the current deadline is proven.
        let drawn = super::gate(Ok(&schedule(1098, &[10, 12], 0)), false, None, HOUR);
        assert_eq!((drawn.max_unavailable, drawn.reason), (0, "ChallengeDrawn"));
    }

    #[test]
    fn the_next_deadline_may_be_a_period_away_or_the_next_one() {
        // Only deadline 10 holds sectors, proven: the next challenge is a proving period on.
        let alone = gate(Ok(&schedule(1030, &[10], 0)), false, None, HOUR);
        assert_eq!(alone.safe_until, Some(1_700_000_000 + (1000 + 48 * 60 - 22 - 1030) * 30));
        // An empty current deadline, the next one's challenge already drawn (it opens at 1060, challenge 1040).
        let next = gate(Ok(&schedule(1045, &[11], 0)), false, None, HOUR);
        assert_eq!((next.max_unavailable, next.reason), (0, "ChallengeDrawn"));
        let before = gate(Ok(&schedule(1020, &[11], 0)), false, None, HOUR);
        assert_eq!((before.max_unavailable, before.reason), (1, "DeadlineProven"));
        assert!(before.message.starts_with("deadline 10 holds no sectors"), "{}", before.message);
    }

    #[test]
    fn a_held_rollout_names_when_it_goes_ahead() {
        let held = gate(Ok(&schedule(1010, &[10], 1)), false, None, HOUR);
        assert_eq!(held.held_until, Some(1_700_000_000 + (1060 - 1010) * 30), "the deadline's close");
        let (status, reason, message) = rollout_pending(&held);
        assert_eq!((status, reason.as_str()), (TRUE, "DeadlineGate"));
        assert!(message.starts_with("the runtime's change waits: deadline 10 is open until epoch 1060"), "{message}");
        assert!(message.ends_with("expected to go ahead by 2023-11-14T22:38:20Z"), "{message}");
        let unknown = rollout_pending(&gate(Err("down"), false, None, HOUR));
        assert!(!unknown.2.contains("expected"), "no time without a schedule: {}", unknown.2);
    }

    #[test]
    fn without_sectors_nothing_is_held() {
        let gate = gate(Ok(&schedule(1010, &[], 0)), false, None, HOUR);
        assert_eq!((gate.max_unavailable, gate.reason, gate.safe_until), (1, "NoSectors", None));
    }

    #[test]
    fn an_unreadable_chain_holds_disruptions_for_at_most_the_bound() {
        let down = gate(Err("connection refused"), false, Some(Duration::from_secs(60)), HOUR);
        assert_eq!((down.max_unavailable, down.reason), (0, "ChainUnreachable"));
        assert!(down.message.contains("connection refused"), "{}", down.message);
        let long = gate(Err("connection refused"), false, Some(HOUR), HOUR);
        assert_eq!((long.max_unavailable, long.reason), (1, "BlockedTooLong"));
        assert!(long.message.contains("held for 3600s, longer than maxBlockedDuration (3600s)"), "{}", long.message);
        // A deadline that never gets proven (a broken runtime) is bounded the same way.
        let stuck = gate(Ok(&schedule(1010, &[10], 1)), false, Some(2 * HOUR), HOUR);
        assert_eq!((stuck.max_unavailable, stuck.reason), (1, "BlockedTooLong"));
        // The bound counts only a closure without a break: an open gate is open by the schedule.
        let open = gate(Ok(&schedule(1030, &[10, 12], 0)), false, Some(2 * HOUR), HOUR);
        assert_eq!(open.reason, "DeadlineProven");
    }

    #[test]
    fn force_opens_the_gate_whatever_the_schedule() {
        for schedule in [Ok(&schedule(1010, &[10], 2)), Err("down")] {
            let gate = gate(schedule, true, None, HOUR);
            assert_eq!((gate.max_unavailable, gate.reason), (1, "Forced"));
        }
    }

    #[test]
    fn the_budget_selects_the_runtime_pod() {
        let miner: Miner = serde_json::from_value(serde_json::json!({
            "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
            "metadata": {"name": "m1", "namespace": "sp", "uid": "u1",
                         "annotations": {FORCE_ANNOTATION: "true"}},
            "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                     "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
        }))
        .unwrap();
        assert!(forced(&miner), "the annotation forces it");
        let closed = gate(Err("down"), false, None, HOUR);
        let budget = build_budget(&miner, &closed);
        assert_eq!(budget.metadata.name.as_deref(), Some("m1-runtime"));
        let spec = budget.spec.unwrap();
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(0)));
        assert_eq!(spec.selector.unwrap().match_labels, Some(selector_labels(&miner)));
        assert_eq!(budget.metadata.owner_references.unwrap()[0].uid, "u1");
    }
}
