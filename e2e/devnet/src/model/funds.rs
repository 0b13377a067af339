//! A miner's locked funds, deposits, pledge and fee debt, and how fees are paid from its balance
//! (builtin-actors actors/miner/src/state.rs: `get_unlocked_balance`, `get_available_balance`,
//! `apply_penalty`, `repay_partial_debt_in_priority_order`, `repay_debts`).

use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use sealstack_chain::json::LotusJson;
use serde::{Deserialize, Serialize};

use super::vesting::{VestSpec, VestingFund, add_vesting, take_unvested, take_vested};

/// The miner state's balance fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MinerFunds {
    /// Locked funds: the FIP-0077 creation deposit and the block rewards in the vesting table.
    pub locked_funds: LotusJson<TokenAmount>,
    /// The vesting table of locked block rewards (part of `locked_funds`).
    pub vesting: Vec<VestingFund>,
    /// Deposits of pre-committed sectors.
    pub pre_commit_deposits: LotusJson<TokenAmount>,
    /// The initial pledge of live sectors (and of early-terminated ones until their fee is paid).
    pub initial_pledge: LotusJson<TokenAmount>,
    /// Fees and penalties not paid yet.
    pub fee_debt: LotusJson<TokenAmount>,
}

impl MinerFunds {
    /// The balance not locked (builtin-actors `get_unlocked_balance`); zero when the balance does not cover
    /// the locked amounts (builtin-actors reports that as a broken invariant).
    pub fn unlocked(&self, balance: &TokenAmount) -> TokenAmount {
        let unlocked = balance.clone() - &self.locked_funds.0 - &self.pre_commit_deposits.0 - &self.initial_pledge.0;
        if unlocked.is_negative() { TokenAmount::from_atto(0) } else { unlocked }
    }

    /// Unlocked funds less the fee debt: negative in debt (builtin-actors `get_available_balance`).
    pub fn available(&self, balance: &TokenAmount) -> TokenAmount {
        self.unlocked(balance) - &self.fee_debt.0
    }

    /// Adds a fee or penalty to the debt, to be repaid now or later (builtin-actors `apply_penalty`).
    pub fn apply_penalty(&mut self, amount: &TokenAmount) {
        self.fee_debt.0 += amount;
    }

    /// Pays as much debt as the miner can: from locked (vesting) funds first, then from the unlocked balance
    /// (builtin-actors `repay_partial_debt_in_priority_order`). Returns the amount to burn.
    pub fn repay_partial_debt(&mut self, balance: &TokenAmount) -> TokenAmount {
        let from_vesting = min(&self.locked_funds.0, &self.fee_debt.0);
        take_unvested(&mut self.vesting, &from_vesting);
        self.locked_funds.0 -= &from_vesting;
        let to_burn = min(&self.unlocked(balance), &self.fee_debt.0);
        self.fee_debt.0 -= &to_burn;
        to_burn
    }

    /// Pays the whole debt from the unlocked balance, or refuses (builtin-actors `repay_debts`, exit
    /// USR_INSUFFICIENT_FUNDS). Returns the amount to burn.
    pub fn repay_debts(&mut self, balance: &TokenAmount) -> Result<TokenAmount, (ExitCode, String)> {
        let unlocked = self.unlocked(balance);
        if unlocked < self.fee_debt.0 {
            return Err((
                ExitCode::USR_INSUFFICIENT_FUNDS,
                format!("unlocked balance can not repay fee debt ({} < {})", unlocked.atto(), self.fee_debt.atto()),
            ));
        }
        Ok(std::mem::take(&mut self.fee_debt.0))
    }

    /// Unlocks the rewards vested by `now` (builtin-actors `unlock_vested_funds`); returns the amount.
    pub fn unlock_vested(&mut self, now: i64) -> TokenAmount {
        let vested = take_vested(&mut self.vesting, now);
        self.locked_funds.0 -= &vested;
        vested
    }

    /// Locks `amount` of reward vesting from `now` by `spec` (builtin-actors `add_locked_funds`, which first
    /// unlocks what vested); returns the amount newly vested.
    pub fn lock_reward(&mut self, now: i64, amount: &TokenAmount, spec: &VestSpec, period_start: i64) -> TokenAmount {
        let vested = self.unlock_vested(now);
        add_vesting(&mut self.vesting, now, amount, spec, period_start);
        self.locked_funds.0 += amount;
        vested
    }
}

fn min(a: &TokenAmount, b: &TokenAmount) -> TokenAmount {
    if a < b { a.clone() } else { b.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atto(n: i64) -> TokenAmount {
        TokenAmount::from_atto(n)
    }

    fn funds(locked: i64, deposits: i64, pledge: i64, debt: i64) -> MinerFunds {
        MinerFunds {
            locked_funds: LotusJson(atto(locked)),
            vesting: Vec::new(),
            pre_commit_deposits: LotusJson(atto(deposits)),
            initial_pledge: LotusJson(atto(pledge)),
            fee_debt: LotusJson(atto(debt)),
        }
    }

    #[test]
    fn debt_is_paid_from_vesting_funds_then_the_unlocked_balance() {
        let mut f = funds(10, 5, 20, 0);
        assert_eq!(f.unlocked(&atto(50)), atto(15));
        f.apply_penalty(&atto(40));
        assert_eq!(f.available(&atto(50)), atto(-25));
        // The 10 locked are unlocked first; the balance's 25 unlocked then (15 + those 10) are burnt: 15 owed.
        assert_eq!(f.repay_partial_debt(&atto(50)), atto(25));
        assert_eq!((f.locked_funds.0.clone(), f.fee_debt.0.clone()), (atto(0), atto(15)));
    }

    #[test]
    fn repaying_all_debt_needs_the_unlocked_balance() {
        let mut f = funds(0, 0, 20, 30);
        let (code, message) = f.repay_debts(&atto(40)).unwrap_err();
        assert_eq!(code, ExitCode::USR_INSUFFICIENT_FUNDS);
        assert_eq!(message, "unlocked balance can not repay fee debt (20 < 30)");
        assert_eq!(f.repay_debts(&atto(60)).unwrap(), atto(30));
        assert!(f.fee_debt.is_zero());
    }
}
