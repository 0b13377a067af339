//! `Filecoin.StateReadState`: an actor's balance, code and decoded state (lotus api.ActorState), and the
//! miner actor's state in it.
//!
//! Lotus decodes the actor's CBOR state into its go-state-types struct and marshals that to JSON, so the
//! field names are the Go ones (builtin-actors v18 actors/miner/src/state.rs `State`, in CamelCase). The
//! state of other actors is kept as plain JSON.

use cid::Cid;
use fvm_shared::econ::TokenAmount;
use serde::{Deserialize, Serialize};

use crate::json::LotusJson;

/// `Filecoin.StateReadState`'s result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActorStateJson {
    /// The actor's balance.
    #[serde(rename = "Balance")]
    pub balance: LotusJson<TokenAmount>,
    /// Its code CID.
    #[serde(rename = "Code")]
    pub code: LotusJson<Cid>,
    /// Its state, as the actor's state struct in JSON.
    #[serde(rename = "State")]
    pub state: serde_json::Value,
}

impl ActorStateJson {
    /// The state read as a miner actor's.
    pub fn miner_state(&self) -> Result<MinerStateJson, serde_json::Error> {
        serde_json::from_value(self.state.clone())
    }
}

/// The funds and proving-period fields of a miner actor's state (builtin-actors miner `State`); every other
/// field is kept, undecoded, in [`MinerStateJson::other`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MinerStateJson {
    /// Deposits locked for pre-committed sectors.
    #[serde(rename = "PreCommitDeposits")]
    pub pre_commit_deposits: LotusJson<TokenAmount>,
    /// Funds locked in the vesting table (rewards, and the FIP-0077 creation deposit).
    #[serde(rename = "LockedFunds")]
    pub locked_funds: LotusJson<TokenAmount>,
    /// Unpaid fees and penalties; a miner in debt cannot pre-commit until it is repaid.
    #[serde(rename = "FeeDebt")]
    pub fee_debt: LotusJson<TokenAmount>,
    /// The initial pledge of every live sector.
    #[serde(rename = "InitialPledge")]
    pub initial_pledge: LotusJson<TokenAmount>,
    /// The first epoch of the current proving period.
    #[serde(rename = "ProvingPeriodStart")]
    pub proving_period_start: i64,
    /// The deadline of the current proving period that has not been processed by cron yet.
    #[serde(rename = "CurrentDeadline")]
    pub current_deadline: u64,
    /// The other fields (`Info`, `VestingFunds`, `Sectors`, `Deadlines`, ...).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl MinerStateJson {
    /// Balance not locked and not owed: what the actor could spend (builtin-actors `get_available_balance`:
    /// balance - locked funds - pre-commit deposits - initial pledge - fee debt). Negative in debt.
    pub fn available_balance(&self, balance: &TokenAmount) -> TokenAmount {
        balance.clone() - &self.locked_funds.0 - &self.pre_commit_deposits.0 - &self.initial_pledge.0 - &self.fee_debt.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lotus_doc_example_round_trips() {
        let text = include_str!("../tests/vectors/state_read_state.json");
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let state: ActorStateJson = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&state).unwrap(), value);
        assert!(state.miner_state().is_err(), "an empty state is no miner's");
    }

    #[test]
    fn a_miner_state_keeps_its_other_fields_and_computes_the_available_balance() {
        let value = serde_json::json!({
            "Info": {"/": "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"},
            "PreCommitDeposits": "10",
            "LockedFunds": "100",
            "VestingFunds": null,
            "FeeDebt": "5",
            "InitialPledge": "20",
            "ProvingPeriodStart": 1234,
            "CurrentDeadline": 7,
            "EarlyTerminations": [],
            "DeadlineCronActive": true
        });
        let state: MinerStateJson = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(state.current_deadline, 7);
        assert_eq!(state.other["DeadlineCronActive"], true);
        assert_eq!(serde_json::to_value(&state).unwrap(), value);
        assert_eq!(state.available_balance(&TokenAmount::from_atto(200)), TokenAmount::from_atto(65));
        assert_eq!(state.available_balance(&TokenAmount::from_atto(130)), TokenAmount::from_atto(-5));
    }
}
