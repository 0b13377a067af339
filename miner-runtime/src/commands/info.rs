//! `sealstack-miner info`: the miner actor as the chain sees it.

use std::path::Path;

use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};
use sealstack_miner::repo::MinerRepo;

use super::chain;

/// Prints the actor, its keys, peer ID, multiaddrs, balance and sectors.
pub async fn run(repo_dir: &Path) -> anyhow::Result<()> {
    let identity = MinerRepo::at(repo_dir).require_identity()?;
    let miner = chain::address(&identity.actor)?;
    let node = chain::connect().await?;
    let api = node.api();
    let info = api.state_miner_info(LotusJson(miner), TipSetKey::head()).await.map_err(node.err())?;
    let actor = api.state_get_actor(LotusJson(miner), TipSetKey::head()).await.map_err(node.err())?;
    let sectors = api.state_miner_sectors(LotusJson(miner), None, TipSetKey::head()).await.map_err(node.err())?;
    println!("Miner:         {miner}");
    println!("Owner:         {}", info.owner);
    println!("Worker:        {}", info.worker);
    println!("Sector size:   {} bytes", info.sector_size);
    println!("Peer ID:       {}", info.peer_id.as_deref().unwrap_or("(none)"));
    let addrs: Vec<String> = info.multiaddrs().iter().map(|a| a.to_string()).collect();
    println!("Multiaddrs:    {}", if addrs.is_empty() { "(none)".to_string() } else { addrs.join(" ") });
    println!("Balance:       {} attoFIL", actor.balance.atto());
    println!("Sectors:       {}", sectors.len());
    Ok(())
}
