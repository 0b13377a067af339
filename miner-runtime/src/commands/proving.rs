//! `sealstack-miner proving info | deadlines | faults | check` (lotus-miner proving ...): the miner's proving
//! schedule, faults and recoveries as the chain sees them, and a check of a deadline's sectors by the daemon.

use std::collections::BTreeSet;
use std::path::Path;

use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};
use sealstack_miner::protocol::MinerApiClient;

use super::context::{self, epoch_time};
use crate::cli::{MinerApiArgs, ProvingCommand};

/// Runs a `proving` subcommand.
pub async fn run(repo_dir: &Path, api: MinerApiArgs, command: ProvingCommand) -> anyhow::Result<()> {
    let (miner, node) = context::miner_and_node(repo_dir, api.miner_api.as_deref()).await?;
    let chain = node.api();
    let (actor, head_key) = (LotusJson(miner), TipSetKey::head());
    let err = node.err();
    match command {
        ProvingCommand::Info => {
            let head = chain.chain_head().await.map_err(&err)?;
            let delay = context::block_delay(&node).await?;
            let info = chain.state_miner_proving_deadline(actor.clone(), head_key.clone()).await.map_err(&err)?;
            let faults = chain.state_miner_faults(actor.clone(), head_key.clone()).await.map_err(&err)?.count();
            let recovering = chain.state_miner_recoveries(actor.clone(), head_key.clone()).await.map_err(&err)?.count();
            let counts = chain.state_miner_sector_count(actor.clone(), head_key.clone()).await.map_err(&err)?;
            let partitions = chain.state_miner_partitions(actor, info.index, head_key).await.map_err(&err)?;
            let due: u64 = partitions.iter().map(|p| p.live_sectors.count()).sum();
            let share = if counts.live == 0 { 0.0 } else { faults as f64 * 100.0 / counts.live as f64 };
            println!("Miner: {miner}");
            println!("Current Epoch:           {}", info.current_epoch);
            println!("Proving Period Boundary: {}", info.period_start.rem_euclid(info.wpost_proving_period));
            println!("Proving Period Start:    {}", epoch_time(info.period_start, &head, delay));
            println!(
                "Next Period Start:       {}",
                epoch_time(info.period_start + info.wpost_proving_period, &head, delay)
            );
            println!();
            println!("Faults:      {faults} ({share:.2}%)");
            println!("Recovering:  {recovering}");
            println!();
            println!("Deadline Index:       {}", info.index);
            println!("Deadline Sectors:     {due}");
            println!("Deadline Open:        {}", epoch_time(info.open, &head, delay));
            println!("Deadline Close:       {}", epoch_time(info.close, &head, delay));
            println!("Deadline Challenge:   {}", epoch_time(info.challenge, &head, delay));
            println!("Deadline FaultCutoff: {}", epoch_time(info.fault_cutoff, &head, delay));
        }
        ProvingCommand::Deadlines => {
            let info = chain.state_miner_proving_deadline(actor.clone(), head_key.clone()).await.map_err(&err)?;
            let deadlines = chain.state_miner_deadlines(actor.clone(), head_key.clone()).await.map_err(&err)?;
            println!("Miner: {miner}");
            println!(
                "{:<14} {:<10} {:<12} {:<18} PROVEN PARTITIONS",
                "DEADLINE", "OPEN", "PARTITIONS", "SECTORS (FAULTS)"
            );
            for (index, deadline) in deadlines.iter().enumerate() {
                let index = index as u64;
                let partitions =
                    chain.state_miner_partitions(actor.clone(), index, head_key.clone()).await.map_err(&err)?;
                let sectors: u64 = partitions.iter().map(|p| p.live_sectors.count()).sum();
                let faults: u64 = partitions.iter().map(|p| p.faulty_sectors.count()).sum();
                let offset = (index as i64 - info.index as i64).rem_euclid(info.wpost_period_deadlines as i64);
                let open = info.open + offset * info.wpost_challenge_window;
                let name = if index == info.index { format!("{index} (current)") } else { index.to_string() };
                println!(
                    "{:<14} {:<10} {:<12} {:<18} {}",
                    name,
                    open,
                    partitions.len(),
                    format!("{sectors} ({faults})"),
                    deadline.post_submissions.count()
                );
            }
        }
        ProvingCommand::Faults => {
            println!("Miner: {miner}");
            println!("{:<10} {:<10} SECTORS", "DEADLINE", "PARTITION");
            let info = chain.state_miner_proving_deadline(actor.clone(), head_key.clone()).await.map_err(&err)?;
            for index in 0..info.wpost_period_deadlines {
                let partitions =
                    chain.state_miner_partitions(actor.clone(), index, head_key.clone()).await.map_err(&err)?;
                for (partition, p) in partitions.iter().enumerate() {
                    let recovering: BTreeSet<u64> = p.recovering_sectors.numbers().into_iter().collect();
                    for number in p.faulty_sectors.numbers() {
                        let note = if recovering.contains(&number) { " (recovering)" } else { "" };
                        println!("{index:<10} {partition:<10} {number}{note}");
                    }
                }
            }
        }
        ProvingCommand::Check { deadline, sectors: only, only_bad } => {
            let info = chain.state_miner_proving_deadline(actor.clone(), head_key.clone()).await.map_err(&err)?;
            anyhow::ensure!(
                deadline < info.wpost_period_deadlines,
                "deadline {deadline} out of range: a proving period has deadlines 0 to {}",
                info.wpost_period_deadlines - 1
            );
            let partitions = chain.state_miner_partitions(actor, deadline, head_key).await.map_err(&err)?;
            let mut due: Vec<(usize, u64)> = Vec::new();
            for (index, partition) in partitions.iter().enumerate() {
                due.extend(partition.live_sectors.numbers().into_iter().map(|n| (index, n)));
            }
            if !only.is_empty() {
                let present: BTreeSet<u64> = due.iter().map(|(_, n)| *n).collect();
                let missing: Vec<u64> = only.iter().copied().filter(|n| !present.contains(n)).collect();
                anyhow::ensure!(
                    missing.is_empty(),
                    "sector(s) {missing:?} are not due in deadline {deadline} (its sectors: {:?})",
                    present
                );
                due.retain(|(_, n)| only.contains(n));
            }
            let (client, url) = context::daemon_api(repo_dir, api.miner_api.as_deref())?;
            let numbers: Vec<u64> = due.iter().map(|(_, n)| *n).collect();
            let bad = client.check_provable(numbers).await.map_err(|e| anyhow::anyhow!("miner API {url}: {e}"))?;
            println!("{:<10} {:<10} {:<8} STATUS", "DEADLINE", "PARTITION", "SECTOR");
            for (partition, number) in due {
                match bad.get(&number) {
                    Some(reason) => println!("{deadline:<10} {partition:<10} {number:<8} bad ({reason})"),
                    None if !only_bad => println!("{deadline:<10} {partition:<10} {number:<8} good"),
                    None => {}
                }
            }
        }
    }
    Ok(())
}
