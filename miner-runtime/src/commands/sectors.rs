//! `sealstack-miner sectors list | status N | pledge` (lotus-miner sectors ...), through the daemon's API.

use std::path::Path;
use std::time::Duration;

use sealstack_chain::ApiInfo;
use sealstack_miner::protocol::MinerApiClient;
use sealstack_miner::worker::miner_client;

use crate::cli::{MinerApiArgs, SectorsCommand};

/// Runs a `sectors` subcommand.
pub async fn run(repo_dir: &Path, api: MinerApiArgs, command: SectorsCommand) -> anyhow::Result<()> {
    let info = match &api.miner_api {
        Some(text) => ApiInfo::parse(text)?,
        None => ApiInfo::from_repo(repo_dir).map_err(|e| {
            anyhow::anyhow!("{e}: is `sealstack-miner run` running on this repo? (or set MINER_API_INFO)")
        })?,
    };
    let client = miner_client(&info, Duration::from_secs(30))?;
    let unreachable = |e: jsonrpsee::core::ClientError| anyhow::anyhow!("miner API {}: {e}", info.base_url);
    match command {
        SectorsCommand::List => {
            println!("{:<8} {:<16} {:<8} LAST ERROR", "ID", "STATE", "RETRIES");
            for number in client.sectors_list().await.map_err(unreachable)? {
                let sector = client.sectors_status(number, false).await.map_err(unreachable)?;
                println!("{:<8} {:<16} {:<8} {}", number, sector.state, sector.retries, sector.last_err);
            }
        }
        SectorsCommand::Status { number } => {
            let sector = client.sectors_status(number, true).await.map_err(unreachable)?;
            println!("SectorID:   {}", sector.sector_id);
            println!("Status:     {}", sector.state);
            let cid =
                |c: &Option<sealstack_chain::LotusJson<cid::Cid>>| c.as_ref().map_or("-".into(), |c| c.0.to_string());
            println!("CommD:      {}", cid(&sector.comm_d));
            println!("CommR:      {}", cid(&sector.comm_r));
            println!("Ticket:     {}", sector.ticket.as_ref().map_or("-".into(), |t| format!("epoch {}", t.epoch)));
            println!("Seed:       {}", sector.seed.as_ref().map_or("-".into(), |s| format!("epoch {}", s.epoch)));
            println!("PreCommit:  {}", cid(&sector.pre_commit_msg));
            println!("Commit:     {}", cid(&sector.commit_msg));
            println!("Proof:      {} bytes", sector.proof.as_ref().map_or(0, |p| p.0.len()));
            if sector.activation > 0 {
                println!("Activation: {}", sector.activation);
                println!("Expiration: {}", sector.expiration);
            }
            println!("Retries:    {}", sector.retries);
            if !sector.last_err.is_empty() {
                println!("Last error: {}", sector.last_err);
            }
            println!("Log:");
            for entry in sector.log {
                println!("  {} {:<6} {}", entry.timestamp, entry.kind, entry.message);
            }
        }
        SectorsCommand::Pledge => {
            let id = client.sector_pledge().await.map_err(unreachable)?;
            println!("Created CC sector: {}", id.number);
        }
    }
    Ok(())
}
