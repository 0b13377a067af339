//! A miner's 48 WindowPoSt deadlines and their partitions, at the level of sector numbers: the bitfields of
//! builtin-actors' `Deadline` and `Partition` (actors/miner/src/{deadline_state,partition_state}.rs) without
//! their AMTs and power sums (power is counted from the sets), the deadline timing of deadline_info.rs and
//! deadlines.rs, and the assignment of new sectors of deadline_assignment.rs.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use sealstack_chain::miner::DeadlineInfo;
use serde::{Deserialize, Serialize};

use super::policy::{DeadlineAssignment, MAX_PARTITIONS_PER_DEADLINE, SectorPolicy};

/// One partition: sets of sector numbers as builtin-actors' `Partition` bitfields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// Every sector assigned to it, terminated ones included.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sectors: BTreeSet<u64>,
    /// Sectors not proven since activation: no power until a WindowPoSt covers them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unproven: BTreeSet<u64>,
    /// Faulty sectors (declared, skipped or missed), recovering ones included.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub faults: BTreeSet<u64>,
    /// Faulty sectors declared recovered, to be proven.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub recoveries: BTreeSet<u64>,
    /// Sectors expired or terminated.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub terminated: BTreeSet<u64>,
}

impl Partition {
    /// Sectors not terminated.
    pub fn live(&self) -> BTreeSet<u64> {
        self.sectors.difference(&self.terminated).copied().collect()
    }

    /// Live sectors that are neither faulty nor unproven: those carrying power.
    pub fn active(&self) -> BTreeSet<u64> {
        let live = self.live();
        live.difference(&self.faults).filter(|n| !self.unproven.contains(n)).copied().collect()
    }

    /// Marks `numbers` faulty (builtin-actors `add_faults`): they leave the unproven set. Returns the sectors
    /// newly faulty.
    pub fn add_faults(&mut self, numbers: &BTreeSet<u64>) -> BTreeSet<u64> {
        let new: BTreeSet<u64> =
            numbers.iter().filter(|n| !self.faults.contains(n) && !self.terminated.contains(n)).copied().collect();
        self.faults.extend(&new);
        self.unproven.retain(|n| !new.contains(n));
        new
    }
}

/// One deadline: its partitions and what was proven in its current challenge window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// Its partitions, by index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<Partition>,
    /// Partitions proven in the current challenge window (builtin-actors `partitions_posted`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub posted: BTreeSet<u64>,
    /// WindowPoSts of the current window that builtin-actors would accept optimistically (no recovery).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub optimistic_proofs: u64,
    /// The same count for the last window: proofs that may be disputed (`optimistic_post_submissions_snapshot`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disputable_proofs: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Deadline {
    /// Every sector assigned, terminated ones included.
    pub fn total_sectors(&self) -> u64 {
        self.partitions.iter().map(|p| p.sectors.len() as u64).sum()
    }

    /// Sectors not terminated.
    pub fn live_sectors(&self) -> u64 {
        self.partitions.iter().map(|p| (p.sectors.len() - p.terminated.len()) as u64).sum()
    }

    /// Faulty sectors, recovering ones included (builtin-actors `faulty_power` in sectors).
    pub fn faulty_sectors(&self) -> u64 {
        self.partitions.iter().map(|p| p.faults.len() as u64).sum()
    }

    /// Adds new sectors (sorted), filling the last partition first, then opening new ones of
    /// `partition_size` (builtin-actors `Deadline::add_sectors`). They start unproven. Returns each sector's
    /// partition.
    pub fn add_sectors(&mut self, numbers: &[u64], partition_size: u64) -> Vec<(u64, u64)> {
        let mut placed = Vec::with_capacity(numbers.len());
        for &number in numbers {
            let open = self.partitions.last().is_some_and(|p| (p.sectors.len() as u64) < partition_size);
            if !open {
                self.partitions.push(Partition::default());
            }
            let index = self.partitions.len() - 1;
            let partition = &mut self.partitions[index];
            partition.sectors.insert(number);
            partition.unproven.insert(number);
            placed.push((number, index as u64));
        }
        placed
    }
}

/// Deadline timing over chain's [`DeadlineInfo`] (builtin-actors deadline_info.rs).
pub trait DeadlineTiming {
    /// The last epoch of the deadline.
    fn last(&self) -> i64;
    /// Whether the current epoch is in the deadline's challenge window.
    fn is_open(&self) -> bool;
    /// Whether the deadline closed.
    fn has_elapsed(&self) -> bool;
    /// Whether faults and recoveries for it can no longer be declared.
    fn fault_cutoff_passed(&self) -> bool;
}

impl DeadlineTiming for DeadlineInfo {
    fn last(&self) -> i64 {
        self.close - 1
    }
    fn is_open(&self) -> bool {
        self.current_epoch >= self.open && self.current_epoch < self.close
    }
    fn has_elapsed(&self) -> bool {
        self.current_epoch >= self.close
    }
    fn fault_cutoff_passed(&self) -> bool {
        self.current_epoch >= self.fault_cutoff
    }
}

/// The deadline `index` of the proving period starting at `period_start`, seen at `current_epoch`
/// (builtin-actors `new_deadline_info`).
pub fn deadline_info(policy: &SectorPolicy, period_start: i64, index: u64, current_epoch: i64) -> DeadlineInfo {
    let open = period_start + index as i64 * policy.challenge_window;
    DeadlineInfo {
        current_epoch,
        period_start,
        index,
        open,
        close: open + policy.challenge_window,
        challenge: open - policy.challenge_lookback,
        fault_cutoff: open - policy.fault_declaration_cutoff,
        wpost_period_deadlines: policy.period_deadlines,
        wpost_proving_period: policy.proving_period(),
        wpost_challenge_window: policy.challenge_window,
        wpost_challenge_lookback: policy.challenge_lookback,
        fault_declaration_cutoff: policy.fault_declaration_cutoff,
    }
}

/// The same deadline's next occurrence that has not closed yet (builtin-actors `next_not_elapsed`).
pub fn next_not_elapsed(policy: &SectorPolicy, info: DeadlineInfo) -> DeadlineInfo {
    if !info.has_elapsed() {
        return info;
    }
    let periods = 1 + (info.current_epoch - info.close) / policy.proving_period();
    deadline_info(policy, info.period_start + periods * policy.proving_period(), info.index, info.current_epoch)
}

/// Whether new sectors may be assigned to a deadline: its next occurrence opens more than one challenge
/// window from now (builtin-actors `deadline_is_mutable`): neither the open deadline nor the next one.
pub fn deadline_is_mutable(policy: &SectorPolicy, period_start: i64, index: u64, current_epoch: i64) -> bool {
    let next = next_not_elapsed(policy, deadline_info(policy, period_start, index, current_epoch));
    current_epoch < next.open - policy.challenge_window
}

/// `epoch` rounded up to the next epoch congruent to `offset` modulo `unit` (builtin-actors
/// `QuantSpec::quantize_up`): expirations happen at the end of a sector's deadline.
pub fn quantize_up(epoch: i64, unit: i64, offset: i64) -> i64 {
    let remainder = (epoch - offset).rem_euclid(unit);
    if remainder == 0 { epoch } else { epoch - remainder + unit }
}

/// A deadline's counts as builtin-actors' assignment sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssignmentCandidate {
    /// The deadline's index.
    pub index: u64,
    /// Sectors not terminated.
    pub live_sectors: u64,
    /// Every sector, terminated included.
    pub total_sectors: u64,
}

impl AssignmentCandidate {
    fn partitions_after(&self, size: u64) -> u64 {
        (self.total_sectors + 1).div_ceil(size)
    }
    fn compact_partitions_after(&self, size: u64) -> u64 {
        (self.live_sectors + 1).div_ceil(size)
    }
    fn is_full_now(&self, size: u64) -> bool {
        self.total_sectors.is_multiple_of(size)
    }
}

/// builtin-actors' assignment order (deadline_assignment.rs `cmp`): the deadline that would have the fewest
/// partitions after compaction, then before it, then one with an open partition (the fullest), then the
/// fewest live sectors, then the lowest index.
fn assignment_order(a: &AssignmentCandidate, b: &AssignmentCandidate, size: u64) -> Ordering {
    a.compact_partitions_after(size)
        .cmp(&b.compact_partitions_after(size))
        .then_with(|| a.partitions_after(size).cmp(&b.partitions_after(size)))
        .then_with(|| a.is_full_now(size).cmp(&b.is_full_now(size)))
        .then_with(|| {
            if !a.is_full_now(size) && !b.is_full_now(size) {
                b.total_sectors.cmp(&a.total_sectors)
            } else {
                Ordering::Equal
            }
        })
        .then_with(|| a.live_sectors.cmp(&b.live_sectors))
        .then_with(|| a.index.cmp(&b.index))
}

/// Gives each of `count` new sectors a deadline among `candidates` (the mutable deadlines), one at a time by
/// builtin-actors' order (`assign_deadlines`). Errs when every deadline is at the partition limit.
pub fn spread(mut candidates: Vec<AssignmentCandidate>, count: usize, partition_size: u64) -> Result<Vec<u64>, String> {
    let mut chosen = Vec::with_capacity(count);
    for _ in 0..count {
        let best = candidates
            .iter_mut()
            .min_by(|a, b| assignment_order(a, b, partition_size))
            .ok_or("no deadline is open to new sectors")?;
        if best.total_sectors >= partition_size * MAX_PARTITIONS_PER_DEADLINE {
            return Err(format!("max partitions limit {MAX_PARTITIONS_PER_DEADLINE} reached for all deadlines"));
        }
        chosen.push(best.index);
        best.live_sectors += 1;
        best.total_sectors += 1;
    }
    Ok(chosen)
}

/// The deadlines new sectors may go to at `epoch`, with their counts.
pub fn mutable_candidates(
    policy: &SectorPolicy,
    deadlines: &[Deadline],
    period_start: i64,
    epoch: i64,
) -> Vec<AssignmentCandidate> {
    (0..policy.period_deadlines)
        .filter(|&index| deadline_is_mutable(policy, period_start, index, epoch))
        .map(|index| {
            let deadline = deadlines.get(index as usize);
            AssignmentCandidate {
                index,
                live_sectors: deadline.map_or(0, Deadline::live_sectors),
                total_sectors: deadline.map_or(0, Deadline::total_sectors),
            }
        })
        .collect()
}

/// The deadline of each of `count` new sectors under the policy's [`DeadlineAssignment`].
pub fn assign(
    policy: &SectorPolicy,
    deadlines: &[Deadline],
    period_start: i64,
    epoch: i64,
    count: usize,
    partition_size: u64,
) -> Result<Vec<u64>, String> {
    let candidates = mutable_candidates(policy, deadlines, period_start, epoch);
    match policy.deadline_assignment {
        DeadlineAssignment::Spread => spread(candidates, count, partition_size),
        DeadlineAssignment::Pack => {
            let soonest = candidates
                .iter()
                .map(|c| next_not_elapsed(policy, deadline_info(policy, period_start, c.index, epoch)))
                .min_by_key(|info| info.open)
                .ok_or("no deadline is open to new sectors")?;
            Ok(vec![soonest.index; count])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SectorPolicy {
        SectorPolicy { challenge_window: 10, challenge_lookback: 3, fault_declaration_cutoff: 12, ..Default::default() }
    }

    #[test]
    fn timing_follows_builtin_actors() {
        let policy = policy();
        let info = deadline_info(&policy, 1000, 2, 1025);
        assert_eq!(
            (info.open, info.close, info.last(), info.challenge, info.fault_cutoff),
            (1020, 1030, 1029, 1017, 1008)
        );
        assert!(info.is_open() && !info.has_elapsed() && info.fault_cutoff_passed());
        let past = deadline_info(&policy, 1000, 1, 1025);
        let next = next_not_elapsed(&policy, past);
        assert_eq!((next.period_start, next.open), (1480, 1490));
        assert_eq!(quantize_up(1000, 480, 29), 1469);
        assert_eq!(quantize_up(1469, 480, 29), 1469);
        assert_eq!(quantize_up(1470, 480, 989), 1469 + 480);
    }

    #[test]
    fn the_open_and_next_deadlines_are_immutable() {
        let policy = policy();
        // Epoch 1025: deadline 2 is open; deadline 3 opens at 1030, within one window.
        let mutable: Vec<u64> = (0..48).filter(|&i| deadline_is_mutable(&policy, 1000, i, 1025)).collect();
        assert!(!mutable.contains(&2) && !mutable.contains(&3));
        assert!(mutable.contains(&4) && mutable.contains(&0) && mutable.contains(&1));
        assert_eq!(mutable.len(), 46);
    }

    #[test]
    fn a_batch_is_spread_two_per_deadline_in_index_order() {
        // Builtin-actors spreads a batch over the empty deadlines: each 2KiB partition (2 sectors) is filled,
        // then the next deadline by index is opened, skipping the immutable ones.
        let policy = policy();
        let deadlines = vec![Deadline::default(); 48];
        let chosen = assign(&policy, &deadlines, 1000, 1005, 7, 2).unwrap();
        // At 1005 deadline 0 is open and deadline 1 is next: 2, 2, 3, 3, 4, 4, 5.
        assert_eq!(chosen, [2, 2, 3, 3, 4, 4, 5]);
    }

    #[test]
    fn assignment_fills_open_partitions_and_balances_live_sectors() {
        let candidate = |index, live, total| AssignmentCandidate { index, live_sectors: live, total_sectors: total };
        // An open partition (3 of 4) is filled before an empty deadline with a lower index.
        assert_eq!(spread(vec![candidate(0, 0, 0), candidate(5, 3, 3)], 1, 4).unwrap(), [5]);
        // The fewest partitions after compaction wins: deadline 1 has many terminated sectors.
        assert_eq!(spread(vec![candidate(0, 4, 4), candidate(1, 0, 8)], 1, 4).unwrap(), [1]);
        // Then the fewest partitions before compaction.
        assert_eq!(spread(vec![candidate(0, 4, 8), candidate(1, 4, 4)], 1, 4).unwrap(), [1]);
        // Two open partitions: the fuller one.
        assert_eq!(spread(vec![candidate(0, 1, 1), candidate(1, 2, 2)], 1, 4).unwrap(), [1]);
        // All full: the fewest live sectors, then the lowest index.
        assert_eq!(spread(vec![candidate(0, 4, 8), candidate(1, 3, 8)], 1, 4).unwrap(), [1]);
        assert_eq!(spread(vec![candidate(3, 4, 4), candidate(1, 4, 4)], 1, 4).unwrap(), [1]);
        let full = candidate(0, 2 * MAX_PARTITIONS_PER_DEADLINE, 2 * MAX_PARTITIONS_PER_DEADLINE);
        assert!(spread(vec![full], 1, 2).unwrap_err().contains("max partitions limit"));
    }

    #[test]
    fn pack_puts_a_batch_in_the_soonest_mutable_deadline() {
        let policy = SectorPolicy { deadline_assignment: DeadlineAssignment::Pack, ..policy() };
        let deadlines = vec![Deadline::default(); 48];
        assert_eq!(assign(&policy, &deadlines, 1000, 1005, 8, 2).unwrap(), [2; 8]);
        // Late in the period the soonest mutable deadline is in the next period.
        assert_eq!(assign(&policy, &deadlines, 1000, 1475, 3, 2).unwrap(), [1; 3]);
        let mut deadline = Deadline::default();
        let placed = deadline.add_sectors(&[1, 2, 3, 4, 5, 6, 7, 8], 2);
        assert_eq!(deadline.partitions.len(), 4);
        assert_eq!(placed.last(), Some(&(8, 3)));
        assert_eq!(deadline.partitions[0].unproven.len(), 2, "new sectors are unproven");
    }
}
