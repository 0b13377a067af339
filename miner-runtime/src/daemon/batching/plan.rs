//! When a batch goes out and which sectors it takes (pure, unit-tested), as lotus-miner's batchers decide it
//! (storage/pipeline/precommit_batch.go, commit_batch.go): at once when it is full; otherwise when its oldest
//! sector has waited the batch wait, or when a sector's chain deadline, less a slack, is reached.

use std::time::Duration;

/// A sector ready for a batched message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Its number.
    pub number: u64,
    /// Unix seconds since it has been ready.
    pub ready_since: u64,
    /// The epoch by which its message must go out: its chain deadline less the slack.
    pub due_epoch: i64,
}

/// The sectors of the batch to send now, if one is due: the `max` most urgent (earliest due epoch, then lowest
/// number) when there are that many, all of them when the oldest has waited `wait` or one is due at `head`.
pub fn due_batch(candidates: &[Candidate], max: usize, wait: Duration, now: u64, head: i64) -> Option<Vec<u64>> {
    if candidates.is_empty() || max == 0 {
        return None;
    }
    let mut ordered = candidates.to_vec();
    ordered.sort_by_key(|c| (c.due_epoch, c.number));
    let full = ordered.len() >= max;
    let waited = ordered.iter().any(|c| now.saturating_sub(c.ready_since) >= wait.as_secs());
    let urgent = ordered.iter().any(|c| c.due_epoch <= head);
    if !(full || waited || urgent) {
        return None;
    }
    let mut numbers: Vec<u64> = ordered.iter().take(max).map(|c| c.number).collect();
    numbers.sort_unstable();
    Some(numbers)
}

/// Whether a ProveCommit batch of `count` sectors is aggregated (one SnarkPack proof) rather than sent with one
/// proof per sector: at least `min_aggregate` sectors (builtin-actors takes 4 to 819), and a base fee above
/// `above_base_fee` (lotus-miner's AggregateAboveBaseFee: under it, individual proofs cost less gas than
/// verifying an aggregate).
pub fn aggregates(count: usize, min_aggregate: usize, base_fee: u128, above_base_fee: u128) -> bool {
    count >= min_aggregate.max(MIN_AGGREGATED_SECTORS) && base_fee >= above_base_fee
}

/// builtin-actors' fewest sectors in an aggregate (`MIN_AGGREGATED_SECTORS`).
pub const MIN_AGGREGATED_SECTORS: usize = 4;
/// builtin-actors' most sectors in an aggregate (`MAX_AGGREGATED_SECTORS`).
pub const MAX_AGGREGATED_SECTORS: usize = 819;

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(number: u64, ready_since: u64, due_epoch: i64) -> Candidate {
        Candidate { number, ready_since, due_epoch }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_batch_waits_until_full_or_its_oldest_waited_or_a_deadline_nears() {
        let few = [ready(3, 1000, 500), ready(1, 1100, 600)];
        assert_eq!(due_batch(&few, 4, HOUR, 1000 + 3599, 100), None, "not full, not waited, not due");
        assert_eq!(due_batch(&few, 4, HOUR, 1000 + 3600, 100), Some(vec![1, 3]), "the oldest waited an hour");
        assert_eq!(due_batch(&few, 4, HOUR, 1200, 500), Some(vec![1, 3]), "sector 3's deadline is at the head");
        assert_eq!(due_batch(&few, 2, HOUR, 1200, 100), Some(vec![1, 3]), "full");
        assert_eq!(due_batch(&[], 4, HOUR, 99_999, 99_999), None);
    }

    #[test]
    fn a_full_batch_takes_the_most_urgent_sectors() {
        let many = [ready(1, 0, 900), ready(2, 0, 700), ready(3, 0, 800), ready(4, 0, 700)];
        assert_eq!(due_batch(&many, 3, HOUR, 10, 0), Some(vec![2, 3, 4]), "due 700, 700, 800; sector 1 waits");
    }

    #[test]
    fn commits_aggregate_from_four_sectors_and_above_the_base_fee_threshold() {
        assert!(aggregates(4, 4, 200, 100));
        assert!(!aggregates(3, 4, 200, 100), "under builtin-actors' 4");
        assert!(!aggregates(3, 1, 200, 100), "a smaller minimum is raised to builtin-actors' 4");
        assert!(!aggregates(6, 4, 99, 100), "a base fee under the threshold: individual proofs");
        assert!(aggregates(6, 4, 0, 0), "threshold 0 always aggregates");
    }
}
