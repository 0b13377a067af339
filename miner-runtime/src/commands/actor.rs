//! `sealstack-miner actor set-addrs | set-peer-id` (lotus cli/spcli/actor.go), journaled in the repo so a
//! rerun after a crash waits for the pushed message instead of sending another.

use std::path::Path;

use multiaddr::Multiaddr;
use sealstack_chain::miner_actor::{set_multiaddrs, set_peer_id};
use sealstack_chain::push::MessageLog;
use sealstack_miner::repo::{FileJournal, MinerRepo};

use super::chain;
use crate::cli::ActorCommand;

/// Epochs to wait on top of a message.
const CONFIDENCE: u64 = 5;

/// Runs an `actor` subcommand.
pub async fn run(repo_dir: &Path, command: ActorCommand) -> anyhow::Result<()> {
    let repo = MinerRepo::at(repo_dir);
    let identity = repo.require_identity()?;
    let miner = chain::address(&identity.actor)?;
    let node = chain::connect().await?;
    let mut journal = FileJournal::new(repo.file("actor-messages.json"));
    let mut log: MessageLog = journal.load()?.unwrap_or_default();
    let lookup = match command {
        ActorCommand::SetAddrs { addrs, unset } => {
            let addrs: Vec<Multiaddr> = if unset {
                Vec::new()
            } else {
                addrs
                    .iter()
                    .map(|a| a.parse().map_err(|e| anyhow::anyhow!("invalid multiaddr {a:?}: {e}")))
                    .collect::<anyhow::Result<_>>()?
            };
            set_multiaddrs(&node, miner, &addrs, &mut log, &mut journal, CONFIDENCE).await?
        }
        ActorCommand::SetPeerId { peer_id } => {
            let peer: libp2p_identity::PeerId =
                peer_id.parse().map_err(|e| anyhow::anyhow!("invalid peer ID {peer_id:?}: {e}"))?;
            set_peer_id(&node, miner, &peer.to_bytes(), &mut log, &mut journal, CONFIDENCE).await?
        }
    };
    println!("message {} executed at height {}", lookup.message.0, lookup.height);
    Ok(())
}
