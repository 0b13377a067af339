//! The rest of the network: a virtual miner that stands in for every miner the devnet does not run. It holds
//! `ConsensusPolicy::rest_of_network_power`, takes part in every election as a real miner does (a BLS key
//! derived from the network name signs its ticket, election proof and block, so its blocks are deterministic
//! and replay to the same chain), and when it wins it makes a block with the message pool's messages. Its
//! blocks carry no WinningPoSt (it has no sectors) and earn no reward (it has no actor): named departures.

use fvm_shared::address::Address;
use fvm_shared::bigint::BigInt;
use sealstack_chain::block::messages_cid;
use sealstack_chain::election::{compute_win_count, election_vrf_input, ticket_vrf_input};
use sealstack_chain::json::LotusJson;
use sealstack_chain::message::SignatureJson;
use sealstack_chain::tipset::{BlockHeader, ElectionProof, Ticket};

use super::REST_OF_NETWORK_MINER;
use crate::blocks::StoredBlock;
use crate::node::ChainState;
use crate::wallet::{Key, KeyInfo, KeyType};

/// The rest of the network's worker key: derived from the network name.
pub fn key(network_name: &str) -> Key {
    let seed = blake2b_simd::Params::new()
        .hash_length(32)
        .to_state()
        .update(b"sealstack-devnet/rest-of-network/")
        .update(network_name.as_bytes())
        .finalize();
    let secret = bls_signatures::PrivateKey::new(seed.as_bytes());
    let bytes = bls_signatures::Serialize::as_bytes(&secret);
    Key::from_key_info(KeyInfo::new(KeyType::Bls, bytes)).expect("a key from the BLS key derivation is valid")
}

impl ChainState {
    /// The rest of the network's block for the epoch being closed (`self.height`), when it wins that round on
    /// the head: its ticket, election proof and signature made with its key, and the pool's messages that no
    /// submitted block of the epoch touches. `None` when it does not win (or holds no power).
    pub fn rest_of_network_block(&self) -> Option<StoredBlock> {
        let round = self.height;
        let power = BigInt::from(self.consensus.rest_of_network_power);
        let miner = Address::new_id(REST_OF_NETWORK_MINER);
        let key = key(&self.network_name);
        let head = self.head_tipset();
        let base_height = self.head_height();
        let beacon = self.beacon_entry(round);
        let election = key.sign(&election_vrf_input(&beacon.data, round, &miner)).bytes;
        let win_count = compute_win_count(&election, &power, &self.network_power());
        if win_count < 1 {
            return None;
        }
        let ticket = key.sign(&ticket_vrf_input(&beacon.data, round, &miner, head.min_ticket())).bytes;
        let messages = self.messages_for_rest_of_network();
        let (bls, secpk) = crate::consensus::create::split_by_signature(&messages);
        let mut header = BlockHeader {
            miner: LotusJson(miner),
            ticket: Some(Ticket { vrf_proof: LotusJson(ticket) }),
            election_proof: Some(ElectionProof { win_count, vrf_proof: LotusJson(election) }),
            beacon_entries: self.beacon_entries_after(base_height, round),
            win_post_proof: Vec::new(),
            parents: head.key(),
            parent_weight: head.weight.clone(),
            height: round,
            parent_state_root: LotusJson(self.state_root(base_height)),
            parent_message_receipts: LotusJson(self.state_root(base_height)),
            messages: LotusJson(messages_cid(&bls, &secpk)),
            bls_aggregate: Some(crate::consensus::create::bls_aggregate(&messages)),
            timestamp: self.timestamp_of(round),
            block_sig: None,
            fork_signaling: 0,
            parent_base_fee: LotusJson(self.base_fee_at(round)),
        };
        let signing = header.signing_bytes().expect("the devnet's header encodes");
        header.block_sig = Some(SignatureJson::from(&key.sign(&signing)));
        let lotus = |cids: Vec<cid::Cid>| cids.into_iter().map(LotusJson).collect();
        Some(StoredBlock::new(header, lotus(bls), lotus(secpk)).expect("the devnet's header encodes"))
    }

    /// The pool's messages a block of the rest of the network takes: those a block on the head may include,
    /// less every sender that a block already submitted for the epoch carries messages of (no two blocks of
    /// the tipset compete for a nonce).
    fn messages_for_rest_of_network(&self) -> Vec<sealstack_chain::message::SignedMessageJson> {
        let taken: std::collections::BTreeSet<Address> = self
            .pending_blocks
            .iter()
            .flat_map(|b| b.message_cids())
            .filter_map(|cid| self.message(cid))
            .filter_map(|m| self.signer_of(&m.message.from.0))
            .collect();
        self.selectable(&self.base_fee_at(self.height))
            .into_iter()
            .filter(|m| self.signer_of(&m.message.from.0).is_none_or(|s| !taken.contains(&s)))
            .collect()
    }

    /// The timestamp of a block at `round`: the genesis timestamp plus a block delay per epoch.
    pub fn timestamp_of(&self, round: i64) -> u64 {
        self.genesis_timestamp + self.block_delay_secs * round.max(0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_a_function_of_the_network_name() {
        assert_eq!(key("devnet").address(), key("devnet").address());
        assert_ne!(key("devnet").address(), key("other").address());
        assert_eq!(key("devnet").key_type(), KeyType::Bls);
    }
}
