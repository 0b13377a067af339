//! The actor as the chain sees it, refreshed once a deadline and exported as metrics: power (raw and
//! quality-adjusted, and whether it meets the consensus minimum), sectors live, active, faulty and recovering,
//! the actor's balance, available balance, locked funds, pledge, pre-commit deposits and fee debt, and the
//! worker's and owner's wallet balances. A fee debt, or a worker balance under `--worker-balance-low`, is logged
//! as a warning each time (and is a metric the chart's alert rules watch).

use sealstack_chain::json::format_fil as fil;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use crate::daemon::Daemon;
use crate::daemon::metrics::Balances;

/// Refreshes the status metrics; a failure is logged and leaves the last values.
pub async fn refresh(daemon: &Daemon) {
    if let Err(error) = refresh_or_fail(daemon).await {
        tracing::warn!(error = format!("{error:#}"), "reading the actor's status");
    }
}

async fn refresh_or_fail(daemon: &Daemon) -> anyhow::Result<()> {
    let api = daemon.node.api();
    let (actor, head) = (LotusJson(daemon.actor), TipSetKey::head());
    let err = daemon.node.err();
    let power = api.state_miner_power(actor.clone(), head.clone()).await.map_err(&err)?;
    let counts = api.state_miner_sector_count(actor.clone(), head.clone()).await.map_err(&err)?;
    let recovering = api.state_miner_recoveries(actor.clone(), head.clone()).await.map_err(&err)?.count();
    let info = api.state_miner_info(actor.clone(), head.clone()).await.map_err(&err)?;
    let state = api.state_read_state(actor.clone(), head.clone()).await.map_err(&err)?;
    let miner = state.miner_state()?;
    let available = api.state_miner_available_balance(actor, head).await.map_err(&err)?;
    let worker = api.wallet_balance(info.worker.clone()).await.map_err(&err)?;
    let owner = api.wallet_balance(info.owner.clone()).await.map_err(&err)?;

    let metrics = &daemon.metrics;
    metrics.set_power(&power.miner_power.raw_byte_power, &power.miner_power.quality_adj_power);
    metrics.winning_post_eligible.set(i64::from(power.has_min_power));
    metrics.set_sector_counts(counts.live, counts.active, counts.faulty, recovering);
    let balances = Balances {
        balance: state.balance.0.clone(),
        available: available.0.clone(),
        locked: miner.locked_funds.0.clone(),
        initial_pledge: miner.initial_pledge.0.clone(),
        pre_commit_deposits: miner.pre_commit_deposits.0.clone(),
        fee_debt: miner.fee_debt.0.clone(),
        worker: worker.0.clone(),
        owner: owner.0.clone(),
    };
    metrics.set_balances(&balances);
    let low = &daemon.config.worker_balance_low;
    metrics.worker_balance_low.set(i64::from(&worker.0 < low));
    if !miner.fee_debt.0.is_zero() {
        tracing::warn!(
            fee_debt = %fil(&miner.fee_debt.0),
            available = %fil(&available.0),
            "the miner actor is in fee debt: it cannot pre-commit until the debt is repaid (send funds to the actor)"
        );
    }
    if &worker.0 < low {
        tracing::warn!(
            worker = %info.worker,
            balance = %fil(&worker.0),
            threshold = %fil(low),
            "the worker's balance is low: its proving messages may not be paid for (send funds to the worker)"
        );
    }
    if counts.faulty > 0 {
        tracing::warn!(faulty = counts.faulty, recovering, "the miner has faulty sectors");
    }
    Ok(())
}
