//! `sealstack-miner init`: the repo, the libp2p identity, a parameter check, and the miner actor on chain
//! (lotus cli/miner/init.go), crash-safe through the repo's `init.json` journal.

use std::path::Path;
use std::time::Duration;

use fvm_shared::econ::TokenAmount;
use sealstack_chain::miner_creation::{CreateMinerRequest, CreationRecord, create_miner};
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_miner::params::manifest;
use sealstack_miner::repo::{FileJournal, MinerIdentity, MinerRepo};

use super::chain;
use crate::cli::InitArgs;

/// Runs `init`.
pub async fn run(repo_dir: &Path, args: InitArgs) -> anyhow::Result<()> {
    let repo = MinerRepo::at(repo_dir);
    if let Some(identity) = repo.identity()? {
        anyhow::bail!("repo at {} is already initialised (actor {})", repo_dir.display(), identity.actor);
    }
    let existed = repo_dir.exists();
    let journal_path = repo.file("init.json");
    let mut journal = FileJournal::new(journal_path);
    let mut record: CreationRecord = journal.load()?.unwrap_or_default();
    let resuming = !record.messages.0.is_empty();

    let result = initialise(&repo, &args, &mut record, &mut journal).await;
    if result.is_err() && !existed && record.messages.0.is_empty() {
        // Nothing reached the chain: remove the half-made repo, as lotus-miner does.
        let _ = std::fs::remove_dir_all(repo_dir);
    } else if result.is_err() {
        eprintln!(
            "messages may have been sent: the repo keeps their record; run `sealstack-miner init` again to resume"
        );
    }
    if resuming && result.is_ok() {
        tracing::info!("resumed an interrupted init");
    }
    result
}

async fn initialise(
    repo: &MinerRepo,
    args: &InitArgs,
    record: &mut CreationRecord,
    journal: &mut FileJournal,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(repo.dir())?;
    let key = repo.libp2p_key()?;
    let peer_id = key.public().to_peer_id();
    println!("libp2p peer ID {peer_id}");
    check_parameters(args)?;

    let node = chain::connect().await?;
    if !args.nosync {
        wait_for_sync(&node).await?;
    }
    let sector_size = sealstack_chain::actors::sector_size(args.sector_size.bytes())
        .ok_or_else(|| anyhow::anyhow!("sector size {} is not a Filecoin sector size", args.sector_size))?;

    let identity = match &args.actor {
        Some(actor) => adopt(&node, chain::address(actor)?).await?,
        None => {
            let mut request = CreateMinerRequest::new(sector_size, peer_id.to_bytes());
            request.owner = args.owner.as_deref().map(chain::address).transpose()?;
            request.worker = args.worker.as_deref().map(chain::address).transpose()?;
            request.create_worker_key = args.create_worker_key;
            request.sender = args.from.as_deref().map(chain::address).transpose()?;
            request.gas_premium = attofil(&args.gas_premium)?;
            request.worker_funding = fil(&args.worker_funding)?;
            request.confidence = args.confidence;
            let created = create_miner(&node, &request, record, journal).await?;
            println!("created miner actor {} ({})", created.id_address, created.robust_address);
            MinerIdentity {
                actor: created.id_address.to_string(),
                owner: created.owner.to_string(),
                worker: created.worker.to_string(),
                sector_size: args.sector_size.bytes(),
            }
        }
    };
    repo.write_identity(&identity)?;
    println!("miner {} initialised in {}", identity.actor, repo.dir().display());
    Ok(())
}

/// An existing actor: its owner and worker from the chain.
async fn adopt(node: &Node, actor: fvm_shared::address::Address) -> anyhow::Result<MinerIdentity> {
    let info = node.api().state_miner_info(LotusJson(actor), TipSetKey::head()).await.map_err(node.err())?;
    println!("adopting existing miner actor {actor}");
    Ok(MinerIdentity {
        actor: actor.to_string(),
        owner: info.owner.to_string(),
        worker: info.worker.to_string(),
        sector_size: info.sector_size,
    })
}

/// The PoRep parameters and verifying keys of the sector size must be in the cache (fetch-params puts them
/// there and verifies their digests).
fn check_parameters(args: &InitArgs) -> anyhow::Result<()> {
    let parameters = match &args.manifest {
        Some(path) => manifest::read(path)?,
        None => manifest::official_parameters(),
    };
    let missing: Vec<String> = parameters
        .iter()
        .filter(|(_, entry)| entry.sector_size == args.sector_size.bytes())
        .map(|(name, _)| name.clone())
        .filter(|name| !args.parameter_cache.join(name).exists())
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "{} proof parameter files for {} missing in {} (first: {}): run `sealstack-miner fetch-params {}`",
            missing.len(),
            args.sector_size,
            args.parameter_cache.display(),
            missing[0],
            args.sector_size
        );
    }
    Ok(())
}

/// Waits until the node reports its sync complete (lotus-miner init does the same unless --nosync).
async fn wait_for_sync(node: &Node) -> anyhow::Result<()> {
    use sealstack_chain::node::sync_stage;
    loop {
        let state = node.api().sync_state().await.map_err(node.err())?;
        let synced = state.active_syncs.iter().all(|s| s.stage == sync_stage::COMPLETE || s.stage == sync_stage::IDLE);
        if synced {
            return Ok(());
        }
        println!("waiting for the node to sync...");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn attofil(text: &str) -> anyhow::Result<TokenAmount> {
    let atto: fvm_shared::bigint::BigInt =
        text.parse().map_err(|_| anyhow::anyhow!("invalid attoFIL amount {text:?}"))?;
    Ok(TokenAmount::from_atto(atto))
}

/// Whole or fractional FIL ("10", "0.5").
fn fil(text: &str) -> anyhow::Result<TokenAmount> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit());
    if whole.is_empty() || fraction.len() > 18 || !digits {
        anyhow::bail!("invalid FIL amount {text:?}");
    }
    attofil(&format!("{whole}{fraction:0<18}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse() {
        assert_eq!(fil("10").unwrap(), TokenAmount::from_whole(10));
        assert_eq!(fil("0.5").unwrap().atto().to_string(), "500000000000000000");
        assert!(fil("1.2.3").is_err() && fil("-1").is_err() && fil("").is_err());
        assert_eq!(attofil("100").unwrap().atto().to_string(), "100");
    }
}
