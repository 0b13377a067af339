//! What a person wants of a Miner at a glance, read from the chain on each resync (the runtime never writes to
//! Kubernetes): power, sector counts, the current proving deadline and the deadlines holding faults, the
//! actor's funds and fee debt, its addresses' balances; and the `Proving` condition, True while no sector is
//! faulty (every deadline with sectors was proven in its last window), False naming the faulty deadlines.
//! [`read`] makes the chain calls; [`summarise`] and [`proving_condition`] are pure.

use std::collections::BTreeSet;

use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use sealstack_chain::actor_state::MinerStateJson;
use sealstack_chain::json::format_fil as fil;
use sealstack_chain::miner::{MinerInfo, MinerPower, MinerSectorCount};
use sealstack_chain::{ChainError, FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_crds::conditions::status::{FALSE, TRUE};
use sealstack_crds::miner::{MinerBalances, MinerPowerStatus, MinerSectorsStatus, ProvingStatus};

use super::status::Observed;

/// Faulty sectors whose deadlines are looked up one by one; beyond this many only their count is shown.
const LOCATED_FAULTS_MAX: u64 = 64;

/// The chain's view of the actor, as read.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainView {
    /// StateMinerPower.
    pub power: MinerPower,
    /// StateMinerSectorCount.
    pub sectors: MinerSectorCount,
    /// How many faulty sectors are declared recovering.
    pub recovering: u64,
    /// The current deadline's index.
    pub current_deadline: u64,
    /// The deadlines of the faulty sectors (`None`: too many faults to look each up).
    pub faulty_deadlines: Option<BTreeSet<u64>>,
    /// The actor's balance.
    pub balance: TokenAmount,
    /// Its funds (StateReadState).
    pub funds: MinerStateJson,
    /// StateMinerAvailableBalance.
    pub available: TokenAmount,
    /// The worker's balance.
    pub worker_balance: TokenAmount,
    /// The owner's balance.
    pub owner_balance: TokenAmount,
}

/// Reads the view of `actor` (whose info is `info`).
pub async fn read(node: &Node, actor: Address, info: &MinerInfo) -> Result<ChainView, ChainError> {
    let (api, at, err) = (node.api(), TipSetKey::head(), node.err());
    let miner = LotusJson(actor);
    let power = api.state_miner_power(miner.clone(), at.clone()).await.map_err(&err)?;
    let sectors = api.state_miner_sector_count(miner.clone(), at.clone()).await.map_err(&err)?;
    let recovering = api.state_miner_recoveries(miner.clone(), at.clone()).await.map_err(&err)?.count();
    let deadline = api.state_miner_proving_deadline(miner.clone(), at.clone()).await.map_err(&err)?;
    let faults = api.state_miner_faults(miner.clone(), at.clone()).await.map_err(&err)?;
    let faulty_deadlines = if faults.count() <= LOCATED_FAULTS_MAX {
        let mut deadlines = BTreeSet::new();
        for number in faults.numbers() {
            if let Some(location) = api.state_sector_partition(miner.clone(), number, at.clone()).await.map_err(&err)? {
                deadlines.insert(location.deadline);
            }
        }
        Some(deadlines)
    } else {
        None
    };
    let state = api.state_read_state(miner.clone(), at.clone()).await.map_err(&err)?;
    let funds = state
        .miner_state()
        .map_err(|e| ChainError::Decode { what: "the miner actor's state".into(), reason: e.to_string() })?;
    let available = api.state_miner_available_balance(miner, at).await.map_err(&err)?.0;
    let worker_balance = api.wallet_balance(info.worker.clone()).await.map_err(&err)?.0;
    let owner_balance = api.wallet_balance(info.owner.clone()).await.map_err(&err)?.0;
    Ok(ChainView {
        power,
        sectors,
        recovering,
        current_deadline: deadline.index,
        faulty_deadlines,
        balance: state.balance.0,
        funds,
        available,
        worker_balance,
        owner_balance,
    })
}

/// Seconds until the next deadline holding live sectors opens (the current one counts while open: `0`), or
/// `None` when no deadline holds sectors. Reads every deadline's partitions (48 calls): asked only while the
/// runtime is not ready, for the alert on a runtime down before a deadline.
pub async fn next_deadline_with_sectors(node: &Node, actor: Address) -> Result<Option<f64>, ChainError> {
    let (api, at, err) = (node.api(), TipSetKey::head(), node.err());
    let miner = LotusJson(actor);
    let info = api.state_miner_proving_deadline(miner.clone(), at.clone()).await.map_err(&err)?;
    let delay = node.version().block_delay as f64;
    for offset in 0..info.wpost_period_deadlines {
        let index = (info.index + offset) % info.wpost_period_deadlines;
        let partitions = api.state_miner_partitions(miner.clone(), index, at.clone()).await.map_err(&err)?;
        if partitions.iter().any(|p| !p.live_sectors.is_empty()) {
            let open = info.open + offset as i64 * info.wpost_challenge_window;
            return Ok(Some((open - info.current_epoch).max(0) as f64 * delay));
        }
    }
    Ok(None)
}

/// The status fields of a view. The proving schedule is shown while the actor has sectors: without any, the
/// current deadline means nothing and would only make the status change at every deadline.
pub fn summarise(view: &ChainView) -> (MinerPowerStatus, MinerSectorsStatus, Option<ProvingStatus>, MinerBalances) {
    let power = MinerPowerStatus {
        raw: quantity(&view.power.miner_power.raw_byte_power),
        quality_adjusted: quantity(&view.power.miner_power.quality_adj_power),
        meets_consensus_minimum: view.power.has_min_power,
    };
    let sectors = MinerSectorsStatus {
        live: view.sectors.live,
        active: view.sectors.active,
        faulty: view.sectors.faulty,
        recovering: view.recovering,
    };
    // The rest of the schedule is the deadline gate's (`super::disruption`).
    let proving = (view.sectors.live > 0).then(|| ProvingStatus {
        current_deadline: view.current_deadline,
        faulty_deadlines: view.faulty_deadlines.iter().flatten().copied().collect(),
        ..ProvingStatus::default()
    });
    let balances = MinerBalances {
        actor: fil(&view.balance),
        available: fil(&view.available),
        locked: fil(&view.funds.locked_funds.0),
        initial_pledge: fil(&view.funds.initial_pledge.0),
        pre_commit_deposits: fil(&view.funds.pre_commit_deposits.0),
        fee_debt: fil(&view.funds.fee_debt.0),
        worker: fil(&view.worker_balance),
        owner: fil(&view.owner_balance),
    };
    (power, sectors, proving, balances)
}

/// `Proving`: True while no sector is faulty; False naming the deadlines with faulty sectors.
pub fn proving_condition(view: &ChainView) -> Observed {
    let faulty = view.sectors.faulty;
    if view.sectors.live == 0 {
        return (TRUE, "NoSectors".into(), "no sectors to prove yet".into());
    }
    let unproven = view.sectors.live.saturating_sub(view.sectors.active + faulty);
    if faulty == 0 && unproven > 0 {
        let message = format!("{unproven} of {} live sectors waiting for their first WindowPoSt", view.sectors.live);
        return (TRUE, "AwaitingFirstProof".into(), message);
    }
    if faulty == 0 {
        let message = format!("all {} live sectors were proven in their deadlines", view.sectors.live);
        return (TRUE, "AllProven".into(), message);
    }
    let recovering = match view.recovering {
        0 => String::new(),
        n => format!(", {n} of them declared recovered and waiting for their next proof"),
    };
    let deadlines = match &view.faulty_deadlines {
        Some(deadlines) => {
            let list: Vec<String> = deadlines.iter().map(|d| d.to_string()).collect();
            format!(" in deadline{} {}", if deadlines.len() == 1 { "" } else { "s" }, list.join(", "))
        }
        None => String::new(),
    };
    (
        FALSE,
        "SectorsFaulty".into(),
        format!("{faulty} of {} live sectors faulty{deadlines}{recovering}", view.sectors.live),
    )
}

/// A decimal count of bytes as a Kubernetes quantity with a binary suffix when one divides it (`4096` is `4Ki`).
pub fn quantity(bytes: &str) -> String {
    let Ok(mut value) = bytes.parse::<u128>() else { return bytes.to_string() };
    if value == 0 {
        return "0".into();
    }
    let mut suffix = "";
    for next in ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"] {
        if value % 1024 != 0 {
            break;
        }
        value /= 1024;
        suffix = next;
    }
    format!("{value}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealstack_chain::miner::PowerClaim;

    fn view(live: u64, faulty: u64, recovering: u64, deadlines: Option<&[u64]>) -> ChainView {
        let claim = |bytes: u64| PowerClaim { raw_byte_power: bytes.to_string(), quality_adj_power: bytes.to_string() };
        let active = live - faulty;
        ChainView {
            power: MinerPower {
                miner_power: claim(active * 2048),
                total_power: claim(1 << 20),
                has_min_power: active > 0,
            },
            sectors: MinerSectorCount { live, active, faulty },
            recovering,
            current_deadline: 7,
            faulty_deadlines: deadlines.map(|d| d.iter().copied().collect()),
            balance: TokenAmount::from_whole(10),
            funds: serde_json::from_value(serde_json::json!({
                "PreCommitDeposits": "0", "LockedFunds": "1000", "FeeDebt": "0", "InitialPledge": "2000",
                "ProvingPeriodStart": 0, "CurrentDeadline": 7
            }))
            .unwrap(),
            available: TokenAmount::from_atto(5),
            worker_balance: TokenAmount::from_whole(1),
            owner_balance: TokenAmount::from_atto(0),
        }
    }

    #[test]
    fn power_is_a_quantity_and_balances_are_fil() {
        assert_eq!(quantity("4096"), "4Ki");
        assert_eq!(quantity("34359738368"), "32Gi");
        assert_eq!(quantity("3072"), "3Ki");
        assert_eq!(quantity("1000"), "1000");
        assert_eq!(quantity("0"), "0");
        let (power, sectors, proving, balances) = summarise(&view(3, 1, 0, Some(&[4])));
        assert_eq!((power.raw.as_str(), power.meets_consensus_minimum), ("4Ki", true));
        assert_eq!((sectors.live, sectors.active, sectors.faulty), (3, 2, 1));
        let expected = ProvingStatus { current_deadline: 7, faulty_deadlines: vec![4], ..Default::default() };
        assert_eq!(proving, Some(expected));
        assert_eq!(balances.actor, "10 FIL");
        assert_eq!(balances.worker, "1 FIL");
    }

    #[test]
    fn no_schedule_without_sectors() {
        assert_eq!(summarise(&view(0, 0, 0, Some(&[]))).2, None);
    }

    #[test]
    fn proving_names_the_faulty_deadlines() {
        assert_eq!(proving_condition(&view(0, 0, 0, Some(&[]))).1, "NoSectors");
        assert_eq!(proving_condition(&view(2, 0, 0, Some(&[]))).0, TRUE);
        let mut new = view(2, 0, 0, Some(&[]));
        new.sectors.active = 1;
        assert_eq!(
            proving_condition(&new),
            (TRUE, "AwaitingFirstProof".into(), "1 of 2 live sectors waiting for their first WindowPoSt".into())
        );
        let (s, reason, message) = proving_condition(&view(8, 2, 1, Some(&[3, 9])));
        assert_eq!((s, reason.as_str()), (FALSE, "SectorsFaulty"));
        assert_eq!(
            message,
            "2 of 8 live sectors faulty in deadlines 3, 9, 1 of them declared recovered and waiting for their next proof"
        );
        assert_eq!(proving_condition(&view(8, 1, 0, Some(&[3]))).2, "1 of 8 live sectors faulty in deadline 3");
        assert_eq!(proving_condition(&view(900, 100, 0, None)).2, "100 of 900 live sectors faulty");
    }
}
