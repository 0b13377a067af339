//! The miner's deadline cron (builtin-actors actors/miner/src/lib.rs `handle_proving_deadline` and
//! `process_early_terminations`, state.rs `advance_deadline`, deadline_state.rs `process_deadline_end`,
//! partition_state.rs `record_missed_post` and `pop_expired_sectors`), run at the last epoch of each
//! deadline:
//! 1. partitions not proven in the window: every live sector faulty, unproven ones included, and declared
//!    recoveries dropped (they stay faulty);
//! 2. sectors due expire: on time (pledge released) or early, faulty past `FAULT_MAX_AGE` (terminated, with
//!    the termination fee);
//! 3. the continued-fault fee for sectors already faulty before this end, and the FIP-0100 daily fee of the
//!    deadline's live sectors (capped at half their expected day reward);
//! 4. fees are added to the fee debt and paid from locked funds, then from the unlocked balance; what cannot be
//!    paid stays as debt.

use std::collections::BTreeSet;

use fvm_shared::econ::TokenAmount;

use super::deadlines::{DeadlineTiming, quantize_up};
use super::miner::MinerActor;
use super::policy::SectorPolicy;

/// What one deadline end did, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeadlineEnd {
    /// The deadline.
    pub deadline: u64,
    /// Sectors that became faulty because their partition was not proven.
    pub detected_faults: BTreeSet<u64>,
    /// Sectors that expired on time.
    pub expired: BTreeSet<u64>,
    /// Sectors terminated for staying faulty too long.
    pub terminated: BTreeSet<u64>,
    /// Fees and penalties charged (added to the debt before repaying).
    pub charged: TokenAmount,
    /// Burnt from the miner's balance.
    pub burnt: TokenAmount,
}

impl MinerActor {
    /// Runs the cron of every deadline that ended after the last call, up to `epoch`. `balance` is the
    /// miner's balance; returns what was burnt from it in all.
    pub fn end_deadlines(&mut self, epoch: i64, policy: &SectorPolicy, balance: &TokenAmount) -> TokenAmount {
        let mut burnt = TokenAmount::from_atto(0);
        for e in (self.processed_epoch + 1)..=epoch {
            // Epoch `e` opening a deadline means the previous one ended at `e - 1`.
            if e != self.deadline_info(e, policy).open {
                continue;
            }
            let ended = self.deadline_info(e - 1, policy);
            // builtin-actors unlocks vested rewards in each deadline's cron.
            self.funds.unlock_vested(e - 1);
            let end = self.end_deadline(ended.index, ended.last(), policy, &(balance.clone() - &burnt));
            if !end.detected_faults.is_empty() || !end.terminated.is_empty() || !end.charged.is_zero() {
                tracing::info!(
                    miner = self.id,
                    deadline = end.deadline,
                    detected_faults = ?end.detected_faults,
                    expired = ?end.expired,
                    terminated = ?end.terminated,
                    charged = %end.charged.atto(),
                    burnt = %end.burnt.atto(),
                    fee_debt = %self.funds.fee_debt.atto(),
                    "deadline cron"
                );
            }
            burnt += end.burnt;
        }
        self.processed_epoch = self.processed_epoch.max(epoch);
        burnt
    }

    /// The cron of deadline `index`, whose last epoch is `last`.
    pub fn end_deadline(&mut self, index: u64, last: i64, policy: &SectorPolicy, balance: &TokenAmount) -> DeadlineEnd {
        self.ensure_deadlines(policy);
        let mut end = DeadlineEnd { deadline: index, ..Default::default() };
        let deadline = &mut self.deadlines[index as usize];
        let previously_faulty = deadline.faulty_sectors();
        if deadline.live_sectors() == 0 {
            return end;
        }

        // 1. Missed PoSts.
        let fault_expiration = last + policy.fault_max_age();
        for (partition_index, partition) in deadline.partitions.iter_mut().enumerate() {
            if deadline.posted.contains(&(partition_index as u64)) {
                continue;
            }
            let live = partition.live();
            if partition.recoveries.is_empty() && partition.faults == live {
                continue;
            }
            end.detected_faults.extend(live.difference(&partition.faults));
            partition.faults = live;
            partition.recoveries.clear();
            partition.unproven.clear();
        }
        deadline.posted.clear();
        deadline.disputable_proofs = std::mem::take(&mut deadline.optimistic_proofs);
        for number in &end.detected_faults {
            self.sectors.get_mut(number).expect("a partition's sector exists").fault_expiration =
                Some(fault_expiration);
        }

        // 2. Expirations, on time or early.
        let deadline = &mut self.deadlines[index as usize];
        for partition in &mut deadline.partitions {
            for number in partition.live() {
                let sector = &self.sectors[&number];
                let on_time = quantize_up(sector.expiration, policy.proving_period(), last);
                match sector.fault_expiration.filter(|f| *f < on_time) {
                    Some(early) if early <= last => end.terminated.insert(number),
                    Some(_) => false,
                    None if on_time <= last => end.expired.insert(number),
                    None => false,
                };
            }
            for number in end.expired.iter().chain(&end.terminated) {
                if partition.sectors.contains(number) {
                    partition.terminated.insert(*number);
                    partition.faults.remove(number);
                    partition.recoveries.remove(number);
                }
            }
        }
        let pledge_of = |numbers: &BTreeSet<u64>| -> TokenAmount {
            numbers.iter().map(|n| self.sectors[n].pledge.0.clone()).fold(TokenAmount::from_atto(0), |a, b| a + b)
        };
        let released = pledge_of(&end.expired);
        self.funds.initial_pledge.0 -= &released;

        // 3. The continued-fault fee and the daily fee.
        let deadline = &self.deadlines[index as usize];
        let live: Vec<u64> = deadline.partitions.iter().flat_map(|p| p.live()).collect();
        let daily_fee: TokenAmount =
            live.iter().map(|n| self.sectors[n].daily_fee.0.clone()).fold(TokenAmount::from_atto(0), |a, b| a + b);
        let day_reward: TokenAmount = live
            .iter()
            .map(|n| self.sectors[n].expected_day_reward.0.clone())
            .fold(TokenAmount::from_atto(0), |a, b| a + b);
        let cap = day_reward.div_floor(2);
        let daily_fee = if daily_fee < cap { daily_fee } else { cap };
        let fault_fee = policy.fault_fee() * previously_faulty;
        end.charged = fault_fee.clone() + &daily_fee;
        self.funds.apply_penalty(&fault_fee);
        self.funds.apply_penalty(&daily_fee);
        end.burnt = self.funds.repay_partial_debt(balance);

        // Early terminations: the termination fee, and their pledge released.
        if !end.terminated.is_empty() {
            let (fee, burnt) =
                self.process_terminations(&end.terminated, last, policy, &(balance.clone() - &end.burnt));
            end.charged += &fee;
            end.burnt += burnt;
        }
        for number in &end.expired {
            self.sectors.get_mut(number).expect("a partition's sector exists").fault_expiration = None;
        }
        end
    }
}
