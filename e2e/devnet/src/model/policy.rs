//! The chain parameters of the sector lifecycle: builtin-actors v18's policy (runtime/src/runtime/policy.rs,
//! actors/miner/src/{policy,monies}.rs) with its periods scaled down for a devnet, and fixed amounts where the
//! actors compute them from the network's reward and power. Each field names its mainnet value.

use fvm_shared::econ::TokenAmount;
use serde::{Deserialize, Serialize};

/// WindowPoSt deadlines per proving period on mainnet and every builtin-actors network
/// (`WPOST_PERIOD_DEADLINES`); the devnet's [`SectorPolicy::period_deadlines`] defaults to it.
pub const PERIOD_DEADLINES: u64 = 48;
/// Partitions one SubmitWindowedPoSt may prove (builtin-actors `POSTED_PARTITIONS_MAX`, not scaled).
pub const POSTED_PARTITIONS_MAX: u64 = 3;
/// Partitions a deadline may hold (builtin-actors `MAX_PARTITIONS_PER_DEADLINE`).
pub const MAX_PARTITIONS_PER_DEADLINE: u64 = 3000;
/// Partitions one fault or recovery declaration may address (builtin-actors `ADDRESSED_PARTITIONS_MAX`).
pub const ADDRESSED_PARTITIONS_MAX: u64 = MAX_PARTITIONS_PER_DEADLINE;
/// Sectors one declaration may address (builtin-actors `ADDRESSED_SECTORS_MAX`).
pub const ADDRESSED_SECTORS_MAX: u64 = 25_000;
/// The continued-fault fee is this many days of a sector's expected reward, in hundredths (builtin-actors
/// `CONTINUED_FAULT_FACTOR_NUM / _DENOM`: 3.51 days).
pub const CONTINUED_FAULT_FACTOR_PERCENT: u64 = 351;
/// The termination fee's full share of the pledge is reached after this many days, here proving periods
/// (builtin-actors `TERMINATION_LIFETIME_CAP`: 140 days).
pub const TERMINATION_LIFETIME_CAP_PERIODS: i64 = 140;
/// The shortest lifetime a sector may be given, in proving periods (builtin-actors `MIN_SECTOR_EXPIRATION`: 180
/// days).
pub const MIN_SECTOR_EXPIRATION_PERIODS: i64 = 180;
/// How far past the current epoch an expiration may be set, in proving periods (builtin-actors
/// `MAX_SECTOR_EXPIRATION_EXTENSION`: 1278 days).
pub const MAX_SECTOR_EXPIRATION_EXTENSION_PERIODS: i64 = 1278;
/// The longest a V1_1 sector may live, in hundredths of a proving period (builtin-actors
/// `seal_proof_sector_maximum_lifetime`: 5 years of 365.25 days).
pub const SECTOR_MAXIMUM_LIFETIME_CENTIPERIODS: i64 = 5 * 36_525;
/// How long after its PreCommit a V1_1 sector may be proven, in proving periods, plus the pre-commit challenge
/// delay (builtin-actors actors/miner/src/policy.rs `max_prove_commit_duration`: 30 days + the delay).
pub const MAX_PROVE_COMMIT_DURATION_PERIODS: i64 = 30;
/// Fewest sectors one aggregated seal proof may prove (builtin-actors runtime/src/runtime/policy.rs
/// `MIN_AGGREGATED_SECTORS`, not scaled).
pub const MIN_AGGREGATED_SECTORS: u64 = 4;
/// Most sectors one aggregated seal proof may prove (builtin-actors `MAX_AGGREGATED_SECTORS`, not scaled).
pub const MAX_AGGREGATED_SECTORS: u64 = 819;
/// Largest aggregated seal proof, in bytes (builtin-actors `MAX_AGGREGATED_PROOF_SIZE`).
pub const MAX_AGGREGATED_PROOF_SIZE: usize = 81_960;
// PreCommitSectorBatch2 and batched ProveCommitSectors3 have no batch-size limit in builtin-actors v18: FIP-0100
// removed `PRE_COMMIT_SECTOR_BATCH_MAX_SIZE` (256) in v16 (builtin-actors commit fa53fe06, PR #1586).

/// How newly activated sectors are given deadlines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadlineAssignment {
    /// builtin-actors `assign_deadlines`: among the mutable deadlines, by its comparator (fewest partitions
    /// after assignment, fill open partitions, fewest live sectors, lowest index): a batch spreads two sectors
    /// (one 2KiB partition) per deadline.
    #[default]
    Spread,
    /// A devnet option for tests: every sector of an activation goes to the mutable deadline that opens
    /// soonest, filling its partitions, so a handful of sectors makes a deadline of several partitions and
    /// is due soon.
    Pack,
}

/// Chain parameters of the sector lifecycle. Periods are in epochs unless named in proving periods (one
/// proving period is the devnet's "day": builtin-actors counts day-based periods in days of 2880 epochs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SectorPolicy {
    /// Epochs between PreCommit and the interactive seed (mainnet 150).
    pub pre_commit_challenge_delay: i64,
    /// How far back a sealing ticket may be when the PreCommit lands (builtin-actors'
    /// `MAX_PRE_COMMIT_RANDOMNESS_LOOKBACK`: a day of epochs plus chain finality, 3780, kept).
    pub max_seal_ticket_age: i64,
    /// Epochs per WindowPoSt deadline (`WPOST_CHALLENGE_WINDOW`, mainnet 60).
    pub challenge_window: i64,
    /// Deadlines per proving period (builtin-actors' `Policy::wpost_period_deadlines`, 48 on every network): a
    /// devnet option, fewer to make the proving period, the devnet's "day", shorter without making a deadline
    /// too short to prove in. Clients read it from `DeadlineInfo.WPoStPeriodDeadlines`.
    pub period_deadlines: u64,
    /// Epochs before a deadline opens that its challenge is drawn (`WPOST_CHALLENGE_LOOKBACK`, mainnet 20).
    pub challenge_lookback: i64,
    /// Epochs before a deadline opens after which faults and recoveries for it are refused
    /// (`FAULT_DECLARATION_CUTOFF`, mainnet 70 = lookback 20 + 50).
    pub fault_declaration_cutoff: i64,
    /// Proving periods a sector may stay faulty before it is terminated (`FAULT_MAX_AGE`, mainnet 42 periods
    /// of 2880 epochs).
    pub fault_max_age_periods: i64,
    /// PreCommit deposit per sector, in attoFIL (mainnet: 20 days of the sector's expected reward).
    pub pre_commit_deposit: u64,
    /// Initial pledge per sector, in attoFIL (mainnet: 20 days of expected reward plus a share of the
    /// circulating supply).
    pub initial_pledge: u64,
    /// A sector's expected reward per proving period, in attoFIL: the base of the fault fee, the
    /// termination fee's floor and the daily fee's cap (mainnet: from the reward and power actors' smoothed
    /// estimates).
    pub expected_day_reward: u64,
    /// The FIP-0100 daily fee per sector per proving period, in attoFIL (mainnet: 7.4e-15 × circulating
    /// supply per 32 GiB of quality-adjusted power, fixed at activation).
    pub daily_fee: u64,
    /// How new sectors are given deadlines.
    pub deadline_assignment: DeadlineAssignment,
    /// Proving periods a genesis miner's pre-sealed sector lives (default
    /// [`GENESIS_SECTOR_LIFETIME_PERIODS`](super::GENESIS_SECTOR_LIFETIME_PERIODS), what Lotus gives them): a test
    /// option, shorter so that expiration and its extension can be seen within a test.
    pub genesis_sector_lifetime_periods: i64,
}

impl Default for SectorPolicy {
    fn default() -> Self {
        SectorPolicy {
            pre_commit_challenge_delay: 10,
            max_seal_ticket_age: 2880 + 900,
            challenge_window: 4,
            period_deadlines: PERIOD_DEADLINES,
            challenge_lookback: 2,
            fault_declaration_cutoff: 5,
            fault_max_age_periods: 3,
            pre_commit_deposit: 1_000_000_000_000,
            initial_pledge: 2_000_000_000_000,
            expected_day_reward: 100_000_000_000,
            daily_fee: 1_000_000_000,
            deadline_assignment: DeadlineAssignment::Spread,
            genesis_sector_lifetime_periods: super::GENESIS_SECTOR_LIFETIME_PERIODS,
        }
    }
}

impl SectorPolicy {
    /// Epochs per proving period (`WPOST_PROVING_PERIOD`, mainnet 2880).
    pub fn proving_period(&self) -> i64 {
        self.challenge_window * self.period_deadlines as i64
    }

    /// The shortest sector lifetime in epochs (`MIN_SECTOR_EXPIRATION`).
    pub fn min_sector_expiration(&self) -> i64 {
        MIN_SECTOR_EXPIRATION_PERIODS * self.proving_period()
    }

    /// How far past now an expiration may be set, in epochs (`MAX_SECTOR_EXPIRATION_EXTENSION`).
    pub fn max_sector_expiration_extension(&self) -> i64 {
        MAX_SECTOR_EXPIRATION_EXTENSION_PERIODS * self.proving_period()
    }

    /// The longest a sector may live from its activation, in epochs (`seal_proof_sector_maximum_lifetime`).
    pub fn sector_maximum_lifetime(&self) -> i64 {
        SECTOR_MAXIMUM_LIFETIME_CENTIPERIODS * self.proving_period() / 100
    }

    /// Epochs after its PreCommit within which a sector must be proven (builtin-actors `max_prove_commit_duration`
    /// for V1_1 proofs: 30 days plus the pre-commit challenge delay).
    pub fn max_prove_commit_duration(&self) -> i64 {
        MAX_PROVE_COMMIT_DURATION_PERIODS * self.proving_period() + self.pre_commit_challenge_delay
    }

    /// Epochs a sector may stay faulty (`FAULT_MAX_AGE`).
    pub fn fault_max_age(&self) -> i64 {
        self.fault_max_age_periods * self.proving_period()
    }

    /// The continued-fault fee of one sector, charged at each end of its deadline while it stays faulty
    /// (builtin-actors `pledge_penalty_for_continued_fault`: 3.51 days of expected reward).
    pub fn fault_fee(&self) -> TokenAmount {
        (TokenAmount::from_atto(self.expected_day_reward) * CONTINUED_FAULT_FACTOR_PERCENT).div_floor(100u64)
    }

    /// The fee for terminating a sector early (builtin-actors `pledge_penalty_for_termination`, FIP-0098):
    /// 8.5 % of its pledge, scaled down by its age below 140 days, and at least 2 % of the pledge and 1.05
    /// times the fault fee.
    pub fn termination_fee(&self, pledge: &TokenAmount, age: i64) -> TokenAmount {
        let simple = (pledge.clone() * 85u64).div_floor(1000u64);
        let cap = TERMINATION_LIFETIME_CAP_PERIODS * self.proving_period();
        let by_age = (simple.clone() * age.max(0)).div_floor(cap);
        let base = if by_age < simple { by_age } else { simple };
        let floor_pledge = (pledge.clone() * 2u64).div_floor(100u64);
        let floor_fault = (self.fault_fee() * 105u64).div_floor(100u64);
        let floor = if floor_pledge > floor_fault { floor_pledge } else { floor_fault };
        if base > floor { base } else { floor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn termination_fee_follows_fip_0098() {
        let policy = SectorPolicy { expected_day_reward: 0, ..SectorPolicy::default() };
        let pledge = TokenAmount::from_atto(1_000_000u64);
        let cap = TERMINATION_LIFETIME_CAP_PERIODS * policy.proving_period();
        // Young: the 2 % floor; old: 8.5 %; in between: by age.
        assert_eq!(policy.termination_fee(&pledge, 0), TokenAmount::from_atto(20_000u64));
        assert_eq!(policy.termination_fee(&pledge, cap), TokenAmount::from_atto(85_000u64));
        assert_eq!(policy.termination_fee(&pledge, 10 * cap), TokenAmount::from_atto(85_000u64));
        assert_eq!(policy.termination_fee(&pledge, cap / 2), TokenAmount::from_atto(42_500u64));
        // At least 1.05 fault fees.
        let policy = SectorPolicy { expected_day_reward: 100_000, ..SectorPolicy::default() };
        assert_eq!(policy.fault_fee(), TokenAmount::from_atto(351_000u64));
        assert_eq!(policy.termination_fee(&pledge, cap), TokenAmount::from_atto(368_550u64));
    }
}
