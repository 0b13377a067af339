//! `sealstack-miner run`: the miner daemon (lotus-miner run).

use std::path::Path;
use std::time::Duration;

use sealstack_miner::daemon::{self, DaemonConfig};
use sealstack_miner::repo::MinerRepo;

use super::chain;
use crate::cli::RunArgs;

/// Runs the daemon until SIGTERM or Ctrl-C.
pub async fn run(repo_dir: &Path, args: RunArgs) -> anyhow::Result<()> {
    let repo = MinerRepo::at(repo_dir);
    let actor = match &args.actor {
        Some(actor) => actor.clone(),
        None => repo.require_identity()?.actor,
    };
    let actor = chain::address(&actor)?;
    let node = chain::connect().await?;
    let key = match &args.libp2p_key {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            libp2p_identity::Keypair::from_protobuf_encoding(&bytes)
                .map_err(|e| anyhow::anyhow!("invalid libp2p key {}: {e}", path.display()))?
        }
        None => repo.libp2p_key()?,
    };
    let jwt_secret = match &args.jwt_secret_file {
        Some(path) => {
            let secret = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            anyhow::ensure!(secret.len() >= 32, "the JWT secret in {} is shorter than 32 bytes", path.display());
            secret
        }
        None => sealstack_chain::repo_files::jwt_secret(repo_dir)?,
    };
    let config = DaemonConfig {
        jwt_secret,
        api_listen: args.api_listen,
        metrics_listen: args.metrics_addr,
        p2p_listen: args.p2p_listen,
        storage: args.storage.unwrap_or_else(|| repo_dir.join("storage")),
        stores: args.stores,
        lease: Duration::from_secs(args.task_lease_secs.max(1)),
        poll: Duration::from_millis(args.poll_ms.max(10)),
        seal_randomness_lookback: args.seal_randomness_lookback,
        sector_lifetime: args.sector_lifetime,
        confidence: args.message_confidence,
        libp2p_key: key,
        worker_balance_low: args
            .worker_balance_low
            .unwrap_or_else(|| (args.post_max_fee.clone() * 48u64).div_floor(10u64)),
        post_max_fee: args.post_max_fee,
        stuck_epochs: args.message_stuck_epochs,
        check_timeout: Duration::from_secs(args.check_timeout_secs),
        check_parallel: args.check_parallel as usize,
        post_redundancy: args.post_redundancy as usize,
        mining: daemon::mining::MiningConfig {
            enabled: !args.no_mining,
            block_delay: args.block_delay_ms.map(Duration::from_millis),
            propagation_delay: Duration::from_millis(args.propagation_delay_ms),
            warm_up: !args.no_winning_post_warmup,
        },
        extension: args.extend_within_days.map(|within| daemon::lifecycle::ExtensionPolicy {
            within_days: i64::from(within),
            extend_to_days: i64::from(args.extend_to_days),
            tolerance_days: i64::from(args.extend_tolerance_days),
        }),
        batching: args.batching.config()?,
    };
    if let Some(policy) = &config.extension {
        anyhow::ensure!(
            policy.within_days < policy.extend_to_days,
            "--extend-within-days ({}) must be less than --extend-to-days ({})",
            policy.within_days,
            policy.extend_to_days
        );
    }
    let running = daemon::start(repo, node, actor, config).await?;
    if running.daemon.store.all().is_empty() {
        for _ in 0..args.pledge {
            running.daemon.pledge()?;
        }
    }
    println!("miner daemon API on {}", running.api_addr);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = running.stopped() => anyhow::bail!("the API server stopped"),
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("stopping: sector state is on disk, unfinished tasks are handed out again at the next start");
    Ok(())
}
