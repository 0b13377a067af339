//! `sealstack-miner sectors extend | terminate` (lotus-miner sectors extend, sectors terminate; lotus
//! cli/spcli/sectors.go): ExtendSectorExpiration2 and TerminateSectors messages from the worker, straight to the
//! full node, batched within builtin-actors' limits and journaled in the repo (`actor-messages.json`) so a rerun
//! after a crash waits for a pushed message instead of sending another. Without `--really-do-it` they print what
//! they would send. "Days" are the network's proving periods (2880 epochs on mainnet; the devnet's shorter day).

use std::path::Path;

use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::Address;
use sealstack_chain::actors::methods;
use sealstack_chain::miner::SectorLocation;
use sealstack_chain::sector_lifecycle::{
    LocatedSector, active_sectors, batch_step, extension_batches, select_for_extension, send_batches,
    termination_batches,
};
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};

use super::actor::{ActorMessages, CONFIDENCE};
use crate::cli::ExtendArgs;

/// The actor's messages and its worker, which sends them.
struct Actor {
    messages: ActorMessages,
    worker: Address,
}

impl Actor {
    async fn open(repo_dir: &Path) -> anyhow::Result<Actor> {
        let messages = ActorMessages::open(repo_dir).await?;
        let (node, miner) = (&messages.node, messages.miner);
        let info = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.map_err(node.err())?;
        Ok(Actor { worker: info.worker.0, messages })
    }

    /// The deadline and partition of `number`; `None` when it is in none.
    async fn location(&self, number: u64) -> Option<SectorLocation> {
        let ActorMessages { node, miner, .. } = &self.messages;
        let location = node.api().state_sector_partition(LotusJson(*miner), number, TipSetKey::head()).await;
        // Lotus answers an error for a sector in no partition (terminated and compacted); the devnet null.
        location.ok().flatten()
    }

    /// Where the chain keeps `number`, with its expiration; `None` when it is not live (unknown, expired or
    /// terminated).
    async fn locate_live(&self, number: u64) -> anyhow::Result<Option<LocatedSector>> {
        let ActorMessages { node, miner, .. } = &self.messages;
        let api = node.api();
        let info = api.state_sector_get_info(LotusJson(*miner), number, TipSetKey::head()).await;
        let Some(info) = info.map_err(node.err())? else { return Ok(None) };
        let Some(location) = self.location(number).await else { return Ok(None) };
        let partitions = api.state_miner_partitions(LotusJson(*miner), location.deadline, TipSetKey::head());
        let partitions = partitions.await.map_err(node.err())?;
        let live =
            partitions.get(location.partition as usize).is_some_and(|p| p.live_sectors.numbers().contains(&number));
        Ok(live.then_some(LocatedSector {
            number,
            deadline: location.deadline,
            partition: location.partition,
            expiration: info.expiration,
        }))
    }

    /// Each of `numbers`, located; fails naming the first that is not live.
    async fn locate_each_live(&self, numbers: &[u64]) -> anyhow::Result<Vec<LocatedSector>> {
        let mut located = Vec::with_capacity(numbers.len());
        for &number in numbers {
            let sector = self.locate_live(number).await?;
            located.push(sector.ok_or_else(|| anyhow::anyhow!("sector {number} is not live on chain"))?);
        }
        Ok(located)
    }

    /// Sends `batches` of `method_num` (each journaled under a step naming `method` and its parameters) and prints
    /// each landed message.
    async fn send(&mut self, method: &str, method_num: u64, batches: Vec<RawBytes>) -> anyhow::Result<()> {
        let ActorMessages { node, miner, journal, log } = &mut self.messages;
        let batches = batches.into_iter().map(|params| (batch_step(method, &params), params)).collect();
        let landed = send_batches(node, *miner, self.worker, method_num, batches, log, journal, CONFIDENCE).await?;
        for lookup in landed {
            println!("message {} executed at height {}", lookup.message.0, lookup.height);
        }
        Ok(())
    }
}

/// `sectors extend`.
pub async fn extend(repo_dir: &Path, args: ExtendArgs) -> anyhow::Result<()> {
    let mut actor = Actor::open(repo_dir).await?;
    let (node, miner) = (&actor.messages.node, actor.messages.miner);
    let deadline = node.api().state_miner_proving_deadline(LotusJson(miner), TipSetKey::head());
    let deadline = deadline.await.map_err(node.err())?;
    let (now, day) = (deadline.current_epoch, deadline.wpost_proving_period);
    let new_expiration = args.new_expiration.unwrap_or(now + args.extension.unwrap_or(540 * day));
    // Listed sectors are taken whatever their expiration; otherwise the active ones within --from..--to.
    let (candidates, from, to) = if args.sectors.is_empty() {
        let active = active_sectors(node, miner, deadline.wpost_period_deadlines).await?;
        let candidates = active.into_iter().map(|sector| sector.located).collect();
        (candidates, args.from.unwrap_or(now + 120), args.to.unwrap_or(now + 92 * day))
    } else {
        (actor.locate_each_live(&args.sectors).await?, i64::MIN, i64::MAX)
    };
    let tolerance = args.tolerance.unwrap_or(7 * day);
    let chosen = select_for_extension(&candidates, from, to, new_expiration, tolerance, args.max_sectors);
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
    if !args.really_do_it {
        println!("not sent: pass --really-do-it to send");
        return Ok(());
    }
    let encoded = batches.iter().map(RawBytes::serialize).collect::<Result<Vec<_>, _>>()?;
    actor.send("extend-sectors", methods::EXTEND_SECTOR_EXPIRATION2, encoded).await
}

/// `sectors terminate`.
pub async fn terminate(repo_dir: &Path, sectors: &[u64], really_do_it: bool) -> anyhow::Result<()> {
    let mut actor = Actor::open(repo_dir).await?;
    let batches = termination_batches(&actor.locate_each_live(sectors).await?);
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
