//! `sealstack-miner sectors list | status N | pledge` (lotus-miner sectors ...), through the daemon's API;
//! `sectors extend | terminate` in [`super::lifecycle`].

use std::path::Path;

use sealstack_chain::miner::SectorLocation;
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};
use sealstack_miner::daemon::batching::BatchKind;
use sealstack_miner::protocol::MinerApiClient;

use super::context;
use super::lifecycle;
use crate::cli::{BatchingKind, MinerApiArgs, SectorsCommand};

/// Runs a `sectors` subcommand.
pub async fn run(repo_dir: &Path, api: MinerApiArgs, command: SectorsCommand) -> anyhow::Result<()> {
    match command {
        SectorsCommand::List => list(&Daemon::connect(repo_dir, &api)?).await,
        SectorsCommand::Status { number } => status(&Daemon::connect(repo_dir, &api)?, number).await,
        SectorsCommand::Pledge => {
            let daemon = Daemon::connect(repo_dir, &api)?;
            let id = daemon.client.sector_pledge().await.map_err(|e| daemon.unreachable(e))?;
            println!("Created CC sector: {}", id.number);
            Ok(())
        }
        SectorsCommand::Batching { kind, publish_now } => {
            batching(&Daemon::connect(repo_dir, &api)?, kind, publish_now).await
        }
        // Extension and termination go to the chain from the repo's identity, not through the daemon.
        SectorsCommand::Extend(args) => lifecycle::extend(repo_dir, args).await,
        SectorsCommand::Terminate { sectors, really_do_it } => {
            lifecycle::terminate(repo_dir, &sectors, really_do_it).await
        }
    }
}

/// The daemon's API client and its URL (for errors).
struct Daemon {
    client: jsonrpsee::http_client::HttpClient,
    url: String,
}

impl Daemon {
    fn connect(repo_dir: &Path, api: &MinerApiArgs) -> anyhow::Result<Daemon> {
        let (client, url) = context::daemon_api(repo_dir, api.miner_api.as_deref())?;
        Ok(Daemon { client, url })
    }

    fn unreachable(&self, error: jsonrpsee::core::ClientError) -> anyhow::Error {
        anyhow::anyhow!("miner API {}: {error}", self.url)
    }
}

/// `sectors list`.
async fn list(daemon: &Daemon) -> anyhow::Result<()> {
    let (client, unreachable) = (&daemon.client, |e: jsonrpsee::core::ClientError| daemon.unreachable(e));
    let numbers = client.sectors_list().await.map_err(unreachable)?;
    let chain = OnChain::connect(client).await;
    println!("{:<8} {:<16} {:<10} {:<8} LAST ERROR", "ID", "STATE", "ON CHAIN", "RETRIES");
    for number in numbers {
        let sector = client.sectors_status(number, false).await.map_err(unreachable)?;
        let on_chain = match &chain {
            Some(chain) => chain.state(number).await.unwrap_or_else(|e| format!("? ({e})")),
            None => "-".into(),
        };
        println!("{:<8} {:<16} {:<10} {:<8} {}", number, sector.state, on_chain, sector.retries, sector.last_err);
    }
    Ok(())
}

/// `sectors batching precommit|commit [--publish-now]`.
async fn batching(daemon: &Daemon, kind: BatchingKind, publish_now: bool) -> anyhow::Result<()> {
    let (client, unreachable) = (&daemon.client, |e: jsonrpsee::core::ClientError| daemon.unreachable(e));
    let (message, batch_kind, name) = match kind {
        BatchingKind::Precommit => ("PreCommitSectorBatch2", BatchKind::PreCommit, "precommit"),
        BatchingKind::Commit => ("ProveCommitSectors3", BatchKind::ProveCommit, "commit"),
    };
    if publish_now {
        let sent = client.batches_flush(name.into()).await.map_err(unreachable)?;
        println!("Publishing now: {}", numbers(&sent));
    } else {
        let pending = match kind {
            BatchingKind::Precommit => client.sector_pre_commit_pending().await,
            BatchingKind::Commit => client.sector_commit_pending().await,
        };
        let waiting: Vec<u64> = pending.map_err(unreachable)?.into_iter().map(|s| s.number).collect();
        println!("Waiting for a {message}: {}", numbers(&waiting));
    }
    let of_kind = |step: &str| [true, false].into_iter().any(|aggregate| batch_kind.step(aggregate) == step);
    let open: Vec<_> =
        client.batches_open().await.map_err(unreachable)?.into_iter().filter(|b| of_kind(&b.step)).collect();
    println!("In flight: {}", open.len());
    if !open.is_empty() {
        println!("{:<36} {:<24} {:<64} SECTORS", "BATCH", "MESSAGE", "CID");
        for batch in open {
            let cid = batch.cid.unwrap_or_else(|| "(not pushed yet)".into());
            println!("{:<36} {:<24} {:<64} {}", batch.id, batch.step, cid, numbers(&batch.sectors));
        }
    }
    Ok(())
}

/// Sector numbers as a list (`none` for none).
fn numbers(numbers: &[u64]) -> String {
    if numbers.is_empty() {
        return "none".into();
    }
    numbers.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
}

/// `sectors status N`.
async fn status(daemon: &Daemon, number: u64) -> anyhow::Result<()> {
    let (client, unreachable) = (&daemon.client, |e: jsonrpsee::core::ClientError| daemon.unreachable(e));
    let sector = match client.sectors_status(number, true).await {
        Ok(sector) => sector,
        Err(e) => {
            let known = client.sectors_list().await.map_err(unreachable)?;
            anyhow::ensure!(known.contains(&number), "the miner has no sector {number} (its sectors: {known:?})");
            return Err(unreachable(e));
        }
    };
    println!("SectorID:   {}", sector.sector_id);
    println!("Status:     {}", sector.state);
    let cid = |c: &Option<sealstack_chain::LotusJson<cid::Cid>>| c.as_ref().map_or("-".into(), |c| c.0.to_string());
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
    match OnChain::connect(client).await {
        Some(chain) => {
            println!("On chain:   {}", chain.state(number).await.unwrap_or_else(|e| format!("unknown ({e})")));
            if let Ok(Some(location)) = chain.location(number).await {
                println!("Deadline:   {} (partition {})", location.deadline, location.partition);
            }
        }
        None => println!("On chain:   - (set FULLNODE_API_INFO to see the chain's view)"),
    }
    println!("Retries:    {}", sector.retries);
    if !sector.last_err.is_empty() {
        println!("Last error: {}", sector.last_err);
    }
    println!("Log:");
    for entry in sector.log {
        println!("  {} {:<6} {}", context::date(entry.timestamp as i64), entry.kind, entry.message);
    }
    Ok(())
}

/// The chain's view of the miner's sectors, when `FULLNODE_API_INFO` names a node.
struct OnChain {
    node: sealstack_chain::Node,
    miner: LotusJson<fvm_shared::address::Address>,
}

impl OnChain {
    async fn connect(client: &jsonrpsee::http_client::HttpClient) -> Option<Self> {
        std::env::var_os("FULLNODE_API_INFO")?;
        let node = super::chain::connect().await.ok()?;
        let miner = client.actor_address().await.ok()?;
        Some(OnChain { node, miner })
    }

    async fn location(&self, number: u64) -> anyhow::Result<Option<SectorLocation>> {
        let located = self.node.api().state_sector_partition(self.miner.clone(), number, TipSetKey::head()).await;
        // Lotus answers an error for a sector in no partition; the devnet answers null.
        Ok(located.ok().flatten())
    }

    /// `Active`, `Faulty`, `Recovering`, `PreCommit` or `-` (not on chain).
    async fn state(&self, number: u64) -> anyhow::Result<String> {
        let api = self.node.api();
        let Some(location) = self.location(number).await? else {
            let precommit = api
                .state_sector_pre_commit_info(self.miner.clone(), number, TipSetKey::head())
                .await
                .map_err(self.node.err())?;
            return Ok(if precommit.is_some() { "PreCommit" } else { "-" }.into());
        };
        let partitions = api
            .state_miner_partitions(self.miner.clone(), location.deadline, TipSetKey::head())
            .await
            .map_err(self.node.err())?;
        let partition = partitions
            .get(location.partition as usize)
            .ok_or_else(|| anyhow::anyhow!("no partition {} in deadline {}", location.partition, location.deadline))?;
        let has = |field: &sealstack_chain::miner::BitFieldJson| field.numbers().contains(&number);
        Ok(if has(&partition.recovering_sectors) {
            "Recovering"
        } else if has(&partition.faulty_sectors) {
            "Faulty"
        } else if has(&partition.active_sectors) {
            "Active"
        } else if has(&partition.live_sectors) {
            "Unproven"
        } else {
            "Terminated"
        }
        .into())
    }
}
