//! What a message's gas costs its sender, as the FVM charges it (ref-fvm `GasOutputs::compute`, lotus
//! chain/vm/burn.go): the sender locks `GasFeeCap × GasLimit` up front; the base fee of the gas used is burnt,
//! gas limit far above what was used is burnt too (over-estimation), the premium over the gas limit is the
//! block miner's tip, and the rest is refunded.

use fvm_shared::econ::TokenAmount;

/// Gas used beyond which the over-estimation burn starts: 11/10 of the gas used.
const GAS_OVERUSE_NUM: u64 = 11;
const GAS_OVERUSE_DENOM: u64 = 10;

/// Where a message's gas money goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GasOutputs {
    /// Base fee × gas used, burnt.
    pub base_fee_burn: TokenAmount,
    /// Base fee × gas over-estimated, burnt.
    pub over_estimation_burn: TokenAmount,
    /// Premium × gas limit (capped by the fee cap less the base fee), to the block's miner.
    pub miner_tip: TokenAmount,
    /// The rest of `GasFeeCap × GasLimit`, back to the sender.
    pub refund: TokenAmount,
}

impl GasOutputs {
    /// The outputs of a message that used `gas_used` of `gas_limit` at `base_fee`.
    pub fn compute(
        gas_used: u64,
        gas_limit: u64,
        base_fee: &TokenAmount,
        fee_cap: &TokenAmount,
        premium: &TokenAmount,
    ) -> Self {
        let base_fee_to_pay = if base_fee > fee_cap { fee_cap } else { base_fee };
        let headroom = fee_cap.clone() - base_fee_to_pay;
        let tip_per_gas = if premium > &headroom { headroom } else { premium.clone() };
        let miner_tip = tip_per_gas * gas_limit;
        let base_fee_burn = base_fee_to_pay.clone() * gas_used;
        let (_, gas_burned) = over_estimation(gas_used, gas_limit);
        let over_estimation_burn = base_fee_to_pay.clone() * gas_burned;
        let refund = fee_cap.clone() * gas_limit - &base_fee_burn - &miner_tip - &over_estimation_burn;
        GasOutputs { base_fee_burn, over_estimation_burn, miner_tip, refund }
    }

    /// Everything burnt.
    pub fn burnt(&self) -> TokenAmount {
        self.base_fee_burn.clone() + &self.over_estimation_burn
    }
}

/// Gas refunded and gas burnt for an over-estimated limit: none burnt up to 110 % of the gas used, then a
/// growing share of the rest, all of it from twice the gas used.
fn over_estimation(gas_used: u64, gas_limit: u64) -> (u64, u64) {
    if gas_used == 0 {
        return (0, gas_limit);
    }
    let threshold = GAS_OVERUSE_NUM * gas_used / GAS_OVERUSE_DENOM;
    let Some(over) = gas_limit.checked_sub(threshold) else { return (gas_limit.saturating_sub(gas_used), 0) };
    let over = over.min(gas_used);
    let unused = gas_limit.saturating_sub(gas_used);
    let burned = (u128::from(unused) * u128::from(over) / u128::from(gas_used)) as u64;
    (unused - burned, burned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atto(n: u64) -> TokenAmount {
        TokenAmount::from_atto(n)
    }

    #[test]
    fn over_estimation_follows_the_fvm() {
        assert_eq!(over_estimation(100, 110), (10, 0), "up to 110 %: all refunded");
        assert_eq!(over_estimation(100, 100), (0, 0));
        // 125 % of the gas used: over = 125 - 110 = 15, burnt = 25 * 15 / 100 = 3.
        assert_eq!(over_estimation(100, 125), (22, 3));
        assert_eq!(over_estimation(100, 1000), (0, 900), "from 210 %: everything unused is burnt");
        assert_eq!(over_estimation(0, 7), (0, 7));
    }

    #[test]
    fn outputs_add_up_to_what_the_sender_locked() {
        let out = GasOutputs::compute(1_000_000, 1_250_000, &atto(100), &atto(1_200), &atto(1_000));
        assert_eq!(out.base_fee_burn, atto(100_000_000));
        assert_eq!(out.miner_tip, atto(1_000 * 1_250_000));
        // over = 1.25M - 1.1M = 150k; burnt = 250k * 150k / 1M = 37.5k gas.
        assert_eq!(out.over_estimation_burn, atto(100 * 37_500));
        let total = out.burnt() + &out.miner_tip + &out.refund;
        assert_eq!(total, atto(1_200 * 1_250_000));
        // A premium above the fee cap's headroom is capped by it.
        let capped = GasOutputs::compute(10, 10, &atto(100), &atto(150), &atto(1_000));
        assert_eq!(capped.miner_tip, atto(500));
        assert_eq!(capped.refund, atto(0));
    }
}
