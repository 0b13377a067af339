//! What the read commands (`info`, `proving ...`, `sectors ...`) work from, as lotus-miner's do: the running
//! daemon's API (`MINER_API_INFO`, else the repo's `api` and `token` files) for the miner actor and its local
//! state, and the full node (`FULLNODE_API_INFO`) for the chain's view. Inside the operator's runtime pod both
//! are set, so the commands work there as typed.

use std::path::Path;
use std::time::Duration;

use fvm_shared::address::Address;
use jsonrpsee::http_client::HttpClient;
use sealstack_chain::tipset::TipSet;
use sealstack_chain::{ApiInfo, FullNodeClient, Node};
use sealstack_miner::protocol::MinerApiClient;
use sealstack_miner::repo::MinerRepo;
use sealstack_miner::worker::miner_client;

use super::chain;

/// The daemon's API, found as the `sectors` commands find it.
pub fn daemon_api(repo_dir: &Path, miner_api: Option<&str>) -> anyhow::Result<(HttpClient, String)> {
    let info = match miner_api {
        Some(text) => ApiInfo::parse(text)?,
        None => ApiInfo::from_repo(repo_dir).map_err(|e| {
            anyhow::anyhow!("{e}: is `sealstack-miner run` running on this repo? (or set MINER_API_INFO)")
        })?,
    };
    Ok((miner_client(&info, Duration::from_secs(30))?, info.base_url))
}

/// The miner actor: the running daemon's, else the one `init` wrote into the repo.
pub async fn actor(repo_dir: &Path, miner_api: Option<&str>) -> anyhow::Result<Address> {
    let from_daemon = match daemon_api(repo_dir, miner_api) {
        Ok((client, _)) => client.actor_address().await.ok().map(|a| a.0),
        Err(_) => None,
    };
    match from_daemon {
        Some(actor) => Ok(actor),
        None => {
            let identity = MinerRepo::at(repo_dir).identity()?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no miner at {}: no running daemon answers there and no `sealstack-miner init` repo",
                    repo_dir.display()
                )
            })?;
            chain::address(&identity.actor)
        }
    }
}

/// The miner actor and the full node.
pub async fn miner_and_node(repo_dir: &Path, miner_api: Option<&str>) -> anyhow::Result<(Address, Node)> {
    let node = chain::connect().await?;
    let actor = actor(repo_dir, miner_api).await?;
    Ok((actor, node))
}

/// An epoch as lotus-miner prints one: the epoch, how far from now, and the wall-clock time it falls at
/// (`1234 (in 2m0s, 2026-12-05T15:40:00Z)`), from the head's timestamp and the block delay.
pub fn epoch_time(epoch: i64, head: &TipSet, block_delay: u64) -> String {
    let head_time = head.blocks.first().map_or(0, |b| b.timestamp) as i64;
    let at = head_time + (epoch - head.height) * block_delay as i64;
    let delta = (epoch - head.height) * block_delay as i64;
    let relative = if delta >= 0 {
        format!("in {}", duration(delta as u64))
    } else {
        format!("{} ago", duration(delta.unsigned_abs()))
    };
    format!("{epoch} ({relative}, {})", date(at))
}

/// Unix seconds as an RFC 3339 UTC date.
pub fn date(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds).map_or_else(|_| unix_seconds.to_string(), |t| t.to_string())
}

/// Seconds as `1h2m3s`.
pub fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds / 60) % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// The network's block delay, seconds.
pub async fn block_delay(node: &Node) -> anyhow::Result<u64> {
    Ok(node.api().state_get_network_params().await.map_err(node.err())?.block_delay_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_dates_print_like_lotus() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(125), "2m5s");
        assert_eq!(duration(3725), "1h2m5s");
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
    }
}
