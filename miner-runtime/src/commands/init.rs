//! `sealstack-miner init`: the repo, the libp2p identity, a parameter check, and the miner actor on chain
//! (lotus cli/miner/init.go), crash-safe through the repo's `init.json` journal.

use std::path::Path;
use std::time::Duration;

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
    if let Some(dir) = &args.pre_sealed_sectors {
        // The pre-seal's libp2p key is the one its genesis metadata announces: it becomes the repo's.
        let libp2p = dir.join(super::preseal::LIBP2P_KEY_FILE);
        if libp2p.is_file() {
            std::fs::create_dir_all(repo.file("keystore"))?;
            std::fs::copy(&libp2p, repo.file("keystore/libp2p-host"))?;
        }
    }
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
            request.gas_premium = super::amount::attofil(&args.gas_premium)?;
            request.worker_funding = super::amount::fil(&args.worker_funding)?;
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
    if let Some(dir) = &args.pre_sealed_sectors {
        import_pre_sealed(repo, &identity, dir, args.pre_sealed_metadata.as_deref())?;
    }
    repo.write_identity(&identity)?;
    println!("miner {} initialised in {}", identity.actor, repo.dir().display());
    Ok(())
}

/// Takes over a genesis miner's pre-sealed sectors (lotus-miner init --genesis-miner --pre-sealed-sectors): their
/// files move into the repo's storage (`<repo>/storage`, the daemon's default) and each becomes a proving sector
/// of the daemon (the pre-seal's libp2p key became the repo's first, so the peer ID on chain is the daemon's).
fn import_pre_sealed(
    repo: &MinerRepo,
    identity: &MinerIdentity,
    dir: &Path,
    metadata: Option<&Path>,
) -> anyhow::Result<()> {
    use sealstack_chain::genesis::{pre_seal_file_names, read_manifest};
    use sealstack_miner::daemon::sectors::{SectorRecord, SectorState, SectorStore};
    use sealstack_miner::sealing::{
        PreCommit2Output, SEALED_CODEC, SectorFiles, SectorRef, UNSEALED_CODEC, commitment_of,
    };

    let manifest_path = match metadata {
        Some(path) => path.to_path_buf(),
        None => dir.join(pre_seal_file_names(&identity.actor).0),
    };
    let manifest = read_manifest(&manifest_path)?;
    let actor = chain::address(&identity.actor)?;
    let miner = manifest
        .iter()
        .find(|(_, m)| m.id.0 == actor)
        .map(|(_, m)| m)
        .ok_or_else(|| anyhow::anyhow!("{} has no pre-sealed sectors of {actor}", manifest_path.display()))?;
    anyhow::ensure!(
        miner.sector_size == identity.sector_size,
        "the pre-sealed sectors are of {} bytes, the actor's of {}",
        miner.sector_size,
        identity.sector_size
    );
    let miner_id = actor.id()?;
    let storage = repo.file("storage");
    let store = SectorStore::open(repo.dir())?;
    for preseal in &miner.sectors {
        let sector = SectorRef { miner: miner_id, number: preseal.sector_id, proof: preseal.proof_type.into() };
        let (from, to) = (SectorFiles::new(dir, &sector), SectorFiles::new(&storage, &sector));
        to.create_dirs()?;
        move_path(&from.sealed, &to.sealed)?;
        move_path(&from.cache, &to.cache)?;
        let mut record = SectorRecord::new(sector);
        record.commitments = Some(PreCommit2Output {
            comm_r: commitment_of(&preseal.comm_r.0, SEALED_CODEC)?,
            comm_d: commitment_of(&preseal.comm_d.0, UNSEALED_CODEC)?,
        });
        record.enter(SectorState::Proving, "pre-sealed for a genesis miner: active on chain since genesis");
        store.save(&record)?;
    }
    println!("took over {} pre-sealed sectors into {}", miner.sectors.len(), storage.display());
    Ok(())
}

/// Moves a file or directory, copying when a rename cannot (another filesystem). An existing target is kept
/// when the source is gone (a rerun after a crash).
fn move_path(from: &Path, to: &Path) -> anyhow::Result<()> {
    if !from.exists() && to.exists() {
        return Ok(());
    }
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
        std::fs::remove_dir_all(from)?;
    } else {
        std::fs::copy(from, to)?;
        std::fs::remove_file(from)?;
    }
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
