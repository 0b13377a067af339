//! Changing a miner actor's announced addresses and peer ID: what `lotus-miner actor set-addrs` and
//! `set-peer-id` do (lotus cli/spcli/actor.go), through [`push_step`] so a retry never sends twice. The
//! `change_*` functions never wait for the chain (a controller looks again later); the `set_*` ones wait.

use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use multiaddr::{Multiaddr, Protocol};

use crate::actors::{self, methods};
use crate::api::FullNodeClient;
use crate::client::Node;
use crate::error::ChainError;
use crate::json::{LotusJson, TipSetKey};
use crate::message::unsigned_message;
use crate::node::MsgLookup;
use crate::push::{Journal, Landing, MessageLog, forget_if_replaced, push_step, wait_landed};

/// Removes a trailing `/p2p/<peer>` as lotus-miner does before announcing (the peer ID is on chain apart).
pub fn strip_peer_id(address: &Multiaddr) -> Multiaddr {
    address.iter().filter(|p| !matches!(p, Protocol::P2p(_))).collect()
}

/// The step name under which a multiaddr change to exactly `addrs` is logged: a different set is a new
/// message, the same set after a crash is the same message.
pub fn multiaddrs_step(addrs: &[Multiaddr]) -> String {
    let joined: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    let digest = blake2b_simd::Params::new().hash_length(8).hash(joined.join(",").as_bytes());
    format!("change-multiaddrs-{}", digest.to_hex())
}

/// The step name for a peer ID change.
pub fn peer_id_step(peer_id: &[u8]) -> String {
    let digest = blake2b_simd::Params::new().hash_length(8).hash(peer_id);
    format!("change-peer-id-{}", digest.to_hex())
}

/// Sends miner.ChangeMultiaddrs from the miner's worker (an empty list unsets them) and waits for it.
pub async fn set_multiaddrs<T, J>(
    node: &Node,
    miner: Address,
    addrs: &[Multiaddr],
    record: &mut T,
    journal: &mut J,
    confidence: u64,
) -> Result<MsgLookup, ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    let landing = change_multiaddrs(node, miner, addrs, record, journal, confidence).await?;
    wait_landed(node, landing, "change-multiaddrs", confidence).await
}

/// Sends miner.ChangeMultiaddrs (once, journaled) and looks once whether it landed.
pub async fn change_multiaddrs<T, J>(
    node: &Node,
    miner: Address,
    addrs: &[Multiaddr],
    record: &mut T,
    journal: &mut J,
    confidence: u64,
) -> Result<Landing, ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    let stripped: Vec<Multiaddr> = addrs.iter().map(strip_peer_id).collect();
    let info = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.map_err(node.err())?;
    let step = multiaddrs_step(&stripped);
    forget_if_replaced(node, record, journal, &step, info.multiaddrs() == stripped).await?;
    let params = actors::change_multiaddrs_params(stripped.iter().map(|a| a.to_vec()).collect());
    let message = from_worker(info.worker.0, miner, methods::CHANGE_MULTIADDRS, params);
    push_step(node, record, journal, &step, &message, confidence).await
}

/// Sends miner.ChangePeerID from the miner's worker and waits for it.
pub async fn set_peer_id<T, J>(
    node: &Node,
    miner: Address,
    peer_id: &[u8],
    record: &mut T,
    journal: &mut J,
    confidence: u64,
) -> Result<MsgLookup, ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    let landing = change_peer_id(node, miner, peer_id, record, journal, confidence).await?;
    wait_landed(node, landing, "change-peer-id", confidence).await
}

/// Sends miner.ChangePeerID (once, journaled) and looks once whether it landed.
pub async fn change_peer_id<T, J>(
    node: &Node,
    miner: Address,
    peer_id: &[u8],
    record: &mut T,
    journal: &mut J,
    confidence: u64,
) -> Result<Landing, ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    let info = node.api().state_miner_info(LotusJson(miner), TipSetKey::head()).await.map_err(node.err())?;
    let step = peer_id_step(peer_id);
    let shown = multiaddr::PeerId::from_bytes(peer_id).is_ok_and(|p| info.peer_id == Some(p.to_base58()));
    forget_if_replaced(node, record, journal, &step, shown).await?;
    let params = actors::change_peer_id_params(peer_id.to_vec());
    let message = from_worker(info.worker.0, miner, methods::CHANGE_PEER_ID, params);
    push_step(node, record, journal, &step, &message, confidence).await
}

/// A 0-value message to `miner` from its `worker` (lotus-miner sends these from the worker key).
fn from_worker(worker: Address, miner: Address, method_num: u64, params: fvm_ipld_encoding::RawBytes) -> Message {
    unsigned_message(worker, miner, TokenAmount::from_atto(0), method_num, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_are_stripped_and_steps_follow_the_set() {
        let with_peer: Multiaddr =
            "/ip4/10.0.0.1/tcp/24001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf".parse().unwrap();
        assert_eq!(strip_peer_id(&with_peer).to_string(), "/ip4/10.0.0.1/tcp/24001");
        let a = vec!["/ip4/10.0.0.1/tcp/1".parse().unwrap()];
        let b = vec!["/ip4/10.0.0.1/tcp/2".parse().unwrap()];
        assert_eq!(multiaddrs_step(&a), multiaddrs_step(&a.clone()));
        assert_ne!(multiaddrs_step(&a), multiaddrs_step(&b));
    }
}
