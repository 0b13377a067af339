//! `sealstack-miner actor set-addrs | set-peer-id` (lotus cli/spcli/actor.go), journaled in the repo so a
//! rerun after a crash waits for the pushed message instead of sending another.

use std::path::Path;

use fvm_shared::address::Address;
use multiaddr::Multiaddr;
use sealstack_chain::Node;
use sealstack_chain::miner_actor::{set_multiaddrs, set_peer_id};
use sealstack_chain::push::MessageLog;
use sealstack_miner::repo::{FileJournal, MinerRepo};

use super::chain;
use crate::cli::ActorCommand;

/// Epochs to wait on top of a message.
pub const CONFIDENCE: u64 = 5;

/// What a command that sends messages to the miner actor by hand needs: the actor (from the repo's identity), the
/// full node, and the repo's journal of such messages (`actor-messages.json`).
pub struct ActorMessages {
    /// The full node of `FULLNODE_API_INFO`.
    pub node: Node,
    /// The miner actor.
    pub miner: Address,
    /// Where `log` is kept.
    pub journal: FileJournal,
    /// The messages sent, by step.
    pub log: MessageLog,
}

impl ActorMessages {
    /// Reads the repo's identity and journal and connects to the full node.
    pub async fn open(repo_dir: &Path) -> anyhow::Result<ActorMessages> {
        let repo = MinerRepo::at(repo_dir);
        let miner = chain::address(&repo.require_identity()?.actor)?;
        let node = chain::connect().await?;
        let journal = FileJournal::new(repo.file("actor-messages.json"));
        let log = journal.load()?.unwrap_or_default();
        Ok(ActorMessages { node, miner, journal, log })
    }
}

/// Runs an `actor` subcommand.
pub async fn run(repo_dir: &Path, command: ActorCommand) -> anyhow::Result<()> {
    let ActorMessages { node, miner, mut journal, mut log } = ActorMessages::open(repo_dir).await?;
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
