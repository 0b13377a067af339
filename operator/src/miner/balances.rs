//! How often a Miner's balances are rewritten in its status. They move with every message its addresses pay
//! for and, on a real miner, with every reward and vesting step: written whenever anything else in the status
//! changes, but a write for them alone is made at most once per [`REFRESH`] for each Miner. (At 1000 Miners
//! sharing one owner, each creation changed every created Miner's `balances.owner`: a status write each.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sealstack_crds::miner::MinerStatus;

/// The least time between two status writes made for a change of balances alone.
pub const REFRESH: Duration = Duration::from_secs(60);

/// When each Miner's balances were last written (`namespace/name`); a new operator writes a change at once.
#[derive(Default)]
pub struct BalanceWrites {
    written: Mutex<HashMap<String, Instant>>,
}

impl BalanceWrites {
    /// Keeps `previous`'s balances in `next` when they are the only change and were written less than
    /// [`REFRESH`] ago; otherwise records that the balances in `next` are about to be written (when changed).
    pub fn hold_or_record(&self, key: &str, previous: &MinerStatus, next: &mut MinerStatus, now: Instant) {
        if next.balances == previous.balances {
            return;
        }
        let mut written = self.written.lock().expect("not poisoned");
        let only_balances = MinerStatus { balances: previous.balances.clone(), ..next.clone() } == *previous;
        let recent = written.get(key).is_some_and(|at| now.duration_since(*at) < REFRESH);
        if only_balances && recent {
            next.balances.clone_from(&previous.balances);
        } else {
            written.insert(key.to_owned(), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use sealstack_crds::miner::MinerBalances;

    use super::*;

    fn status(owner: &str, peer: &str) -> MinerStatus {
        let balances = MinerBalances { owner: owner.into(), ..MinerBalances::default() };
        MinerStatus { balances: Some(balances), peer_id: Some(peer.into()), ..MinerStatus::default() }
    }

    #[test]
    fn a_change_of_balances_alone_is_written_at_most_once_per_refresh() {
        let writes = BalanceWrites::default();
        let start = Instant::now();
        let (first, second) = (status("1 FIL", "p"), status("2 FIL", "p"));
        // A new operator writes the change at once.
        let mut next = second.clone();
        writes.hold_or_record("ns/m", &first, &mut next, start);
        assert_eq!(next, second);
        // Another change soon after: held.
        let mut next = status("3 FIL", "p");
        writes.hold_or_record("ns/m", &second, &mut next, start + Duration::from_secs(10));
        assert_eq!(next, second, "the balances written last are kept");
        // Another Miner is not held by this one's write.
        let mut next = second.clone();
        writes.hold_or_record("ns/other", &first, &mut next, start + Duration::from_secs(10));
        assert_eq!(next, second);
        // After the refresh period: written.
        let mut next = status("3 FIL", "p");
        writes.hold_or_record("ns/m", &second, &mut next, start + REFRESH);
        assert_eq!(next, status("3 FIL", "p"));
    }

    #[test]
    fn balances_go_with_any_other_change() {
        let writes = BalanceWrites::default();
        let start = Instant::now();
        let mut next = status("2 FIL", "p");
        writes.hold_or_record("ns/m", &status("1 FIL", "p"), &mut next, start);
        let mut next = status("3 FIL", "q");
        writes.hold_or_record("ns/m", &status("2 FIL", "p"), &mut next, start + Duration::from_secs(1));
        assert_eq!(next, status("3 FIL", "q"), "the peer ID changed: the balances are written with it");
    }
}
