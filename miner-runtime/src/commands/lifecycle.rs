//! `sealstack-miner sectors extend | terminate` (lotus-miner sectors extend, sectors terminate; lotus
//! cli/spcli/sectors.go): ExtendSectorExpiration2 and TerminateSectors messages from the worker, straight to the
//! full node, batched within builtin-actors' limits and journaled in the repo (`actor-messages.json`) so a rerun
//! after a crash waits for a pushed message instead of sending another. Without `--really-do-it` they print what
//! they would send. "Days" are the network's proving periods (2880 epochs on mainnet; the devnet's shorter day).

use std::path::Path;

use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::Address;
use sealstack_chain::actors::methods;
use sealstack_chain::push::MessageLog;
use sealstack_chain::sector_lifecycle::{
    LocatedSector, extension_batches, select_for_extension, send_batches, termination_batches,
};
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_miner::repo::{FileJournal, MinerRepo};

use super::chain;

/// Epochs to wait on top of each message.
const CONFIDENCE: u64 = 5;

/// What `sectors extend` was asked for.
#[derive(Debug)]
pub struct ExtendRequest {
    /// Only these sectors (empty: every active sector within `from..=to`).
    pub sectors: Vec<u64>,
    /// Sectors expiring at or after this epoch (default: 120 epochs from now).
    pub from: Option<i64>,
    /// Sectors expiring at or before this epoch (default: 92 days from now).
    pub to: Option<i64>,
    /// The new expiration (default: now plus `extension`).
    pub new_expiration: Option<i64>,
    /// Epochs from now to the new expiration (default: 540 days).
    pub extension: Option<i64>,
    /// Sectors already within this many epochs of the new expiration are left (default: 7 days).
    pub tolerance: Option<i64>,
    /// At most this many sectors.
    pub max_sectors: Option<usize>,
    /// Send, rather than print the plan.
    pub really_do_it: bool,
}

/// The miner's identity, node and worker, and its message journal.
struct Actor {
    node: Node,
    miner: Address,
    worker: Address,
    journal: FileJournal,
    log: MessageLog,
}

impl Actor {
    async fn open(repo_dir: &Path) -> anyhow::Result<Actor> {
        let repo = MinerRepo::at(repo_dir);
        let miner = chain::address(&repo.require_identity()?.actor)?;
        let node = chain::connect().await?;
        let info = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.map_err(node.err())?;
        let journal = FileJournal::new(repo.file("actor-messages.json"));
        let log = journal.load()?.unwrap_or_default();
        Ok(Actor { node, miner, worker: info.worker.0, journal, log })
    }

    /// Where the chain keeps `number`, with its expiration; `None` when it is not live (unknown, expired or
    /// terminated).
    async fn locate(&self, number: u64) -> anyhow::Result<Option<LocatedSector>> {
        let api = self.node.api();
        let info = api.state_sector_get_info(LotusJson(self.miner), number, TipSetKey::head()).await;
        let Some(info) = info.map_err(self.node.err())? else { return Ok(None) };
        let location = api.state_sector_partition(LotusJson(self.miner), number, TipSetKey::head()).await;
        // Lotus answers an error for a sector in no partition (terminated and compacted); the devnet null.
        let Some(location) = location.ok().flatten() else { return Ok(None) };
        let partitions = api.state_miner_partitions(LotusJson(self.miner), location.deadline, TipSetKey::head());
        let partitions = partitions.await.map_err(self.node.err())?;
        let live =
            partitions.get(location.partition as usize).is_some_and(|p| p.live_sectors.numbers().contains(&number));
        Ok(live.then_some(LocatedSector {
            number,
            deadline: location.deadline,
            partition: location.partition,
            expiration: info.expiration,
        }))
    }

    /// Sends `batches` of `method_num` and prints each landed message.
    async fn send(&mut self, method: &str, method_num: u64, batches: Vec<RawBytes>) -> anyhow::Result<()> {
        let landed = send_batches(
            &self.node,
            self.miner,
            self.worker,
            method,
            method_num,
            batches,
            &mut self.log,
            &mut self.journal,
            CONFIDENCE,
        )
        .await?;
        for lookup in landed {
            println!("message {} executed at height {}", lookup.message.0, lookup.height);
        }
        Ok(())
    }
}

/// `sectors extend`.
pub async fn extend(repo_dir: &Path, request: ExtendRequest) -> anyhow::Result<()> {
    let mut actor = Actor::open(repo_dir).await?;
    let api = actor.node.api();
    let deadline = api.state_miner_proving_deadline(LotusJson(actor.miner), TipSetKey::head());
    let deadline = deadline.await.map_err(actor.node.err())?;
    let (now, day) = (deadline.current_epoch, deadline.wpost_proving_period);
    let new_expiration = request.new_expiration.unwrap_or(now + request.extension.unwrap_or(540 * day));
    let from = request.from.unwrap_or(now + 120);
    let to = request.to.unwrap_or(now + 92 * day);
    let mut candidates = Vec::new();
    if request.sectors.is_empty() {
        let active = api.state_miner_active_sectors(LotusJson(actor.miner), TipSetKey::head()).await;
        for sector in active.map_err(actor.node.err())? {
            candidates.extend(actor.locate(sector.sector_number).await?);
        }
    } else {
        for &number in &request.sectors {
            let located = actor.locate(number).await?;
            candidates.push(located.ok_or_else(|| anyhow::anyhow!("sector {number} is not live on chain"))?);
        }
    }
    let (from, to) = if request.sectors.is_empty() { (from, to) } else { (i64::MIN, i64::MAX) };
    let tolerance = request.tolerance.unwrap_or(7 * day);
    let chosen = select_for_extension(&candidates, from, to, new_expiration, tolerance, request.max_sectors);
    if chosen.is_empty() {
        println!("no sector to extend to {new_expiration} (of {} considered)", candidates.len());
        return Ok(());
    }
    let batches = extension_batches(&chosen, new_expiration);
    let numbers: Vec<u64> = chosen.iter().map(|s| s.number).collect();
    println!(
        "extend {} sectors {numbers:?} to epoch {new_expiration} (now {now}) in {} message(s)",
        chosen.len(),
        batches.len()
    );
    if !request.really_do_it {
        println!("not sent: pass --really-do-it to send");
        return Ok(());
    }
    let encoded = batches.iter().map(RawBytes::serialize).collect::<Result<Vec<_>, _>>()?;
    actor.send("extend-sectors", methods::EXTEND_SECTOR_EXPIRATION2, encoded).await
}

/// `sectors terminate`.
pub async fn terminate(repo_dir: &Path, sectors: &[u64], really_do_it: bool) -> anyhow::Result<()> {
    let mut actor = Actor::open(repo_dir).await?;
    let mut located = Vec::with_capacity(sectors.len());
    for &number in sectors {
        located
            .push(actor.locate(number).await?.ok_or_else(|| anyhow::anyhow!("sector {number} is not live on chain"))?);
    }
    let batches = termination_batches(&located);
    println!(
        "terminate sectors {sectors:?} in {} message(s): their power goes at once, each pays the termination fee",
        batches.len()
    );
    if !really_do_it {
        println!("not sent: pass --really-do-it to send (this cannot be undone)");
        return Ok(());
    }
    let encoded = batches.iter().map(RawBytes::serialize).collect::<Result<Vec<_>, _>>()?;
    actor.send("terminate-sectors", methods::TERMINATE_SECTORS, encoded).await
}
