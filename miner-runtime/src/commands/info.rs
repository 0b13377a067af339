//! `sealstack-miner info` (lotus-miner info): the miner actor as the chain sees it (power, proving deadline,
//! balances and fee debt, the worker's and owner's balances, sectors by on-chain state) and, when the daemon runs,
//! its sectors by local state.

use std::collections::BTreeMap;
use std::path::Path;

use fvm_shared::econ::TokenAmount;
use sealstack_chain::json::format_fil as fil;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};
use sealstack_miner::daemon::mining::journal::{BlockFate, DAEMON_PROVER, MiningRecord};
use sealstack_miner::protocol::MinerApiClient;

use super::context::{self, epoch_time};
use crate::cli::MinerApiArgs;

/// Prints the summary.
pub async fn run(repo_dir: &Path, api: MinerApiArgs) -> anyhow::Result<()> {
    let (miner, node) = context::miner_and_node(repo_dir, api.miner_api.as_deref()).await?;
    let chain = node.api();
    let (actor, head_key) = (LotusJson(miner), TipSetKey::head());
    let err = node.err();
    let head = chain.chain_head().await.map_err(&err)?;
    let delay = context::block_delay(&node).await?;
    let info = chain.state_miner_info(actor.clone(), head_key.clone()).await.map_err(&err)?;
    let power = chain.state_miner_power(actor.clone(), head_key.clone()).await.map_err(&err)?;
    let deadline = chain.state_miner_proving_deadline(actor.clone(), head_key.clone()).await.map_err(&err)?;
    let counts = chain.state_miner_sector_count(actor.clone(), head_key.clone()).await.map_err(&err)?;
    let recovering = chain.state_miner_recoveries(actor.clone(), head_key.clone()).await.map_err(&err)?.count();
    let state = chain.state_read_state(actor.clone(), head_key.clone()).await.map_err(&err)?;
    let funds = state.miner_state()?;
    let active = chain.state_miner_active_sectors(actor.clone(), head_key.clone()).await.map_err(&err)?;
    let available = chain.state_miner_available_balance(actor, head_key).await.map_err(&err)?;
    let worker = chain.wallet_balance(info.worker.clone()).await.map_err(&err)?;
    let owner = chain.wallet_balance(info.owner.clone()).await.map_err(&err)?;

    println!("Miner: {miner} ({} sectors)", size(info.sector_size as f64));
    let share = |mine: &str, total: &str| {
        let (mine, total): (f64, f64) = (mine.parse().unwrap_or(0.0), total.parse().unwrap_or(0.0));
        let percent = if total > 0.0 { mine * 100.0 / total } else { 0.0 };
        format!("{} / {} ({percent:.4}%)", size(mine), size(total))
    };
    let (mine, total) = (&power.miner_power, &power.total_power);
    println!("Power: {}", share(&mine.quality_adj_power, &total.quality_adj_power));
    println!("\tRaw: {}", share(&mine.raw_byte_power, &total.raw_byte_power));
    println!("\tCommitted: {}", size(counts.live as f64 * info.sector_size as f64));
    let faulty_bytes = counts.faulty as f64 * info.sector_size as f64;
    println!(
        "\tProving: {} ({} faulty)",
        size((counts.live - counts.faulty) as f64 * info.sector_size as f64),
        size(faulty_bytes)
    );
    if power.has_min_power {
        println!("Meets the consensus minimum power: eligible to win blocks");
    } else {
        println!("Below the consensus minimum power: no blocks will be won");
    }
    print_mining(repo_dir, &power, delay, &head);
    println!(
        "Proving deadline: {} of {}, open {}",
        deadline.index,
        deadline.wpost_period_deadlines,
        epoch_time(deadline.open, &head, delay)
    );
    println!();
    println!("Miner Balance:    {}", fil(&state.balance.0));
    println!("      PreCommit:  {}", fil(&funds.pre_commit_deposits.0));
    println!("      Pledge:     {}", fil(&funds.initial_pledge.0));
    println!("      Vesting:    {}", fil(&funds.locked_funds.0));
    println!("      Fee debt:   {}", fil(&funds.fee_debt.0));
    println!("      Available:  {}", fil(&available.0));
    println!("Worker Balance:   {} ({})", fil(&worker.0), info.worker);
    println!("Owner Balance:    {} ({})", fil(&owner.0), info.owner);
    if !funds.fee_debt.0.is_zero() {
        println!("WARNING: the actor is in fee debt; it cannot pre-commit until the debt is repaid");
    }
    println!();
    println!("Sectors on chain:");
    println!("\tLive: {}", counts.live);
    println!("\tActive: {}", counts.active);
    println!("\tFaulty: {}", counts.faulty);
    println!("\tRecovering: {recovering}");
    let day = deadline.wpost_proving_period;
    if let Some(next) = active.iter().map(|s| s.expiration).min() {
        let soon = active.iter().filter(|s| s.expiration <= head.height + 30 * day).count();
        let days = (next - head.height) as f64 / day as f64;
        println!("\tNext expiration: epoch {next} (in {days:.1} days); {soon} active expire within 30 days");
    }
    if let Ok((client, _)) = context::daemon_api(repo_dir, api.miner_api.as_deref())
        && let Ok(numbers) = client.sectors_list().await
    {
        let mut states: BTreeMap<String, u64> = BTreeMap::new();
        for number in numbers {
            if let Ok(sector) = client.sectors_status(number, false).await {
                *states.entry(sector.state).or_default() += 1;
            }
        }
        println!("Sectors in the daemon:");
        println!("\tTotal: {}", states.values().sum::<u64>());
        for (state, count) in states {
            println!("\t{state}: {count}");
        }
    }
    println!("Peer ID:    {}", info.peer_id.as_deref().unwrap_or("(none)"));
    let addrs: Vec<String> = info.multiaddrs().iter().map(|a| a.to_string()).collect();
    println!("Multiaddrs: {}", if addrs.is_empty() { "(none)".to_string() } else { addrs.join(" ") });
    Ok(())
}

/// Blocks mined, from the daemon's journal in the repo, their rewards, and the expected win rate.
fn print_mining(
    repo_dir: &Path,
    power: &sealstack_chain::miner::MinerPower,
    delay: u64,
    head: &sealstack_chain::tipset::TipSet,
) {
    let (mine, total): (f64, f64) = (
        power.miner_power.quality_adj_power.parse().unwrap_or(0.0),
        power.total_power.quality_adj_power.parse().unwrap_or(0.0),
    );
    if total > 0.0 && power.has_min_power {
        let per_day =
            mine / total * sealstack_chain::election::BLOCKS_PER_EPOCH as f64 * 86_400.0 / delay.max(1) as f64;
        println!("Expected block win rate: {per_day:.4}/day");
    }
    match MiningRecord::load(repo_dir) {
        Ok(record) if record.signed_total > 0 => {
            let lost = record.blocks.iter().filter(|b| matches!(b.fate, BlockFate::Lost { .. })).count();
            let last = record
                .last_included()
                .map(|b| format!(", last at epoch {}", epoch_time(b.epoch, head, delay)))
                .unwrap_or_default();
            println!(
                "Blocks mined: {} signed, {} included{last}, {lost} lost (of the last {})",
                record.signed_total,
                record.included_total,
                record.blocks.len()
            );
            let by_daemon = record.blocks.iter().filter(|b| b.prover.as_deref() == Some(DAEMON_PROVER)).count();
            let by_workers = record.blocks.iter().filter(|b| b.prover.as_deref().is_some_and(|p| p != DAEMON_PROVER));
            println!(
                "WinningPoSt SNARKs of those {}: {} by PoSt workers, {by_daemon} by the daemon",
                record.blocks.len(),
                by_workers.count()
            );
            let rewards = TokenAmount::from_atto(record.rewards_atto.parse::<u128>().unwrap_or(0));
            println!("Block rewards: {} (75 % of each vests, see Vesting)", fil(&rewards));
        }
        Ok(_) => println!("Blocks mined: none yet"),
        Err(error) => println!("Blocks mined: unknown ({error:#})"),
    }
}

/// Bytes in binary units, as Lotus prints power (`2 KiB`, `1.5 TiB`).
pub(crate) fn size(bytes: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 { format!("{value} {}", UNITS[unit]) } else { format!("{value:.2} {}", UNITS[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(size(2048.0), "2 KiB");
        assert_eq!(size(0.0), "0 B");
        assert_eq!(size(3.0 * 1024.0 * 1024.0 / 2.0), "1.50 MiB");
    }
}
