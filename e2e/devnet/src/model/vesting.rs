//! The miner's vesting table for block rewards (builtin-actors actors/miner/src/vesting_state.rs and the
//! `REWARD_VESTING_SPEC` of policy.rs): a locked reward vests linearly over `vest_period`, in steps of
//! `step`, each step's epoch quantized up to the miner's proving period; funds vest the epoch *after* their
//! entry's epoch.

use fvm_shared::econ::TokenAmount;
use sealstack_chain::json::LotusJson;
use serde::{Deserialize, Serialize};

/// How a locked reward vests (builtin-actors `VestSpec`), in epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VestSpec {
    /// Epochs before vesting starts (builtin-actors 0).
    pub initial_delay: i64,
    /// Epochs over which it vests (builtin-actors 180 days).
    pub vest_period: i64,
    /// Epochs between vesting steps (builtin-actors 1 day).
    pub step: i64,
    /// Step epochs are rounded up to multiples of this, offset by the proving period start (builtin-actors
    /// 12 hours).
    pub quantization: i64,
}

/// One entry of the table: what vests after `epoch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VestingFund {
    /// The entry's epoch.
    #[serde(rename = "Epoch")]
    pub epoch: i64,
    /// The amount.
    #[serde(rename = "Amount")]
    pub amount: LotusJson<TokenAmount>,
}

/// builtin-actors `QuantSpec::quantize_up`: the smallest `offset + k × unit` at or after `epoch`.
pub fn quantize_up(epoch: i64, unit: i64, offset: i64) -> i64 {
    let offset = offset.rem_euclid(unit);
    let remainder = (epoch - offset).rem_euclid(unit);
    if remainder == 0 { epoch } else { epoch - remainder + unit }
}

/// Adds `amount` vesting from `now` by `spec` to the table (kept sorted by epoch, one entry per epoch).
pub fn add_vesting(table: &mut Vec<VestingFund>, now: i64, amount: &TokenAmount, spec: &VestSpec, period_start: i64) {
    let begin = now + spec.initial_delay;
    let mut vested = TokenAmount::from_atto(0);
    let mut epoch = begin;
    while &vested < amount {
        epoch += spec.step;
        let vest_epoch = quantize_up(epoch, spec.quantization, period_start);
        let elapsed = vest_epoch - begin;
        let target = if elapsed < spec.vest_period {
            (amount.clone() * elapsed).div_floor(spec.vest_period)
        } else {
            amount.clone()
        };
        let this_time = target.clone() - &vested;
        vested = target;
        match table.binary_search_by_key(&vest_epoch, |f| f.epoch) {
            Ok(i) => table[i].amount.0 += this_time,
            Err(i) => table.insert(i, VestingFund { epoch: vest_epoch, amount: LotusJson(this_time) }),
        }
    }
}

/// Removes the entries that vested by `now` (epoch < now) and returns their sum.
pub fn take_vested(table: &mut Vec<VestingFund>, now: i64) -> TokenAmount {
    let split = table.partition_point(|f| f.epoch < now);
    table.drain(..split).map(|f| f.amount.0).fold(TokenAmount::from_atto(0), |a, b| a + b)
}

/// Takes up to `amount` out of the table's unvested funds, earliest entries first (builtin-actors
/// `unlock_unvested_funds`); returns what was taken.
pub fn take_unvested(table: &mut Vec<VestingFund>, amount: &TokenAmount) -> TokenAmount {
    let mut taken = TokenAmount::from_atto(0);
    for fund in table.iter_mut() {
        if &taken >= amount {
            break;
        }
        let want = amount.clone() - &taken;
        let part = if fund.amount.0 < want { fund.amount.0.clone() } else { want };
        fund.amount.0 -= &part;
        taken += part;
    }
    table.retain(|f| !f.amount.0.is_zero());
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_rounds_up_to_the_period_grid() {
        assert_eq!(quantize_up(10, 5, 0), 10);
        assert_eq!(quantize_up(11, 5, 0), 15);
        assert_eq!(quantize_up(11, 5, 3), 13);
        assert_eq!(quantize_up(14, 5, 3), 18);
        assert_eq!(quantize_up(13, 5, 103), 13);
    }

    #[test]
    fn a_reward_vests_linearly_and_in_full() {
        let spec = VestSpec { initial_delay: 0, vest_period: 100, step: 10, quantization: 5 };
        let mut table = Vec::new();
        let amount = TokenAmount::from_atto(1000);
        add_vesting(&mut table, 0, &amount, &spec, 0);
        assert_eq!(table.len(), 10);
        assert_eq!(table[0], VestingFund { epoch: 10, amount: LotusJson(TokenAmount::from_atto(100)) });
        let total = table.iter().map(|f| f.amount.0.clone()).fold(TokenAmount::from_atto(0), |a, b| a + b);
        assert_eq!(total, amount);
        // Funds vest the epoch after their entry's.
        assert!(take_vested(&mut table, 10).is_zero());
        assert_eq!(take_vested(&mut table, 21), TokenAmount::from_atto(200));
        assert_eq!(take_unvested(&mut table, &TokenAmount::from_atto(150)), TokenAmount::from_atto(150));
        assert_eq!(table[0], VestingFund { epoch: 40, amount: LotusJson(TokenAmount::from_atto(50)) });
        add_vesting(&mut table, 20, &TokenAmount::from_atto(100), &spec, 0);
        assert_eq!(table[0], VestingFund { epoch: 30, amount: LotusJson(TokenAmount::from_atto(10)) });
        assert_eq!(table[1].amount.0, TokenAmount::from_atto(60), "merged into epoch 40's entry");
    }
}
