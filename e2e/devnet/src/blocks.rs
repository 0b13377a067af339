//! The devnet's chain of blocks: a tipset per height (none for a null round), each with its blocks in Lotus's
//! order and its weight; lookups by height, by tipset key and by block CID; the beacon entries of the devnet's
//! deterministic stand-in for drand (one per epoch).

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::bigint::BigInt;
use sealstack_chain::block::{messages_cid, tipset_order_key};
use sealstack_chain::json::{LotusJson, TipSetKey};
use sealstack_chain::message::cbor_cid;
use sealstack_chain::tipset::{BeaconEntry, BlockHeader, TipSet};
use serde::{Deserialize, Serialize};

use crate::node::ChainState;

/// A block as the devnet keeps it: its header, CID and message CIDs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredBlock {
    /// The header.
    pub header: BlockHeader,
    /// Its CID.
    pub cid: LotusJson<Cid>,
    /// Its BLS messages' CIDs (unsigned message CIDs).
    pub bls: Vec<LotusJson<Cid>>,
    /// Its secp256k1 messages' CIDs (signed message CIDs).
    pub secpk: Vec<LotusJson<Cid>>,
}

impl StoredBlock {
    /// A block from its header and message CIDs; its CID is computed.
    pub fn new(header: BlockHeader, bls: Vec<LotusJson<Cid>>, secpk: Vec<LotusJson<Cid>>) -> Result<Self, String> {
        let cid = header.cid().map_err(|e| e.to_string())?;
        Ok(StoredBlock { header, cid: LotusJson(cid), bls, secpk })
    }

    /// Its message CIDs in execution order: BLS messages, then secp256k1 ones (lotus `MessagesForBlock`).
    pub fn message_cids(&self) -> impl Iterator<Item = &Cid> {
        self.bls.iter().chain(&self.secpk).map(|c| &c.0)
    }

    /// The win count its election proof claims (none for the genesis block).
    pub fn win_count(&self) -> i64 {
        self.header.election_proof.as_ref().map(|e| e.win_count).unwrap_or(0)
    }

    /// The miner's ID.
    pub fn miner_id(&self) -> Option<u64> {
        self.header.miner.id().ok()
    }
}

/// The blocks of one height and the tipset's weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredTipSet {
    /// Its blocks, ordered by ticket (lotus `tipsetSortFunc`).
    pub blocks: Vec<StoredBlock>,
    /// Its weight (lotus filcns `Weight`), decimal.
    pub weight: String,
}

impl StoredTipSet {
    /// A tipset of `blocks` (put in Lotus's order) with `weight`.
    pub fn new(mut blocks: Vec<StoredBlock>, weight: &BigInt) -> Self {
        blocks.sort_by_key(|b| tipset_order_key(&b.header, &b.cid.0));
        StoredTipSet { blocks, weight: weight.to_string() }
    }

    /// Its key: its blocks' CIDs in order.
    pub fn key(&self) -> TipSetKey {
        TipSetKey(self.blocks.iter().map(|b| b.cid.clone()).collect())
    }

    /// Its weight as a number.
    pub fn weight(&self) -> BigInt {
        self.weight.parse().unwrap_or_default()
    }

    /// The smallest ticket: its first block's (lotus `MinTicket`).
    pub fn min_ticket(&self) -> &[u8] {
        self.blocks.first().map(|b| b.header.ticket_bytes()).unwrap_or_default()
    }

    /// The latest beacon entry its blocks carry.
    pub fn latest_beacon(&self) -> Option<&BeaconEntry> {
        self.blocks.first().and_then(|b| b.header.beacon_entries.last())
    }

    /// As Lotus's JSON.
    pub fn to_json(&self, height: i64) -> TipSet {
        TipSet { cids: self.key(), blocks: self.blocks.iter().map(|b| b.header.clone()).collect(), height }
    }
}

impl ChainState {
    /// The synthetic root of the state after the tipset at `height` executed (the devnet keeps no HAMT).
    pub fn state_root(&self, height: i64) -> Cid {
        cbor_cid(&fvm_ipld_encoding::to_vec(&("state", &self.network_name, height)).expect("encodes"))
    }

    /// The tipset at exactly `height`, `None` for a null round (or a height not reached yet).
    pub fn tipset_at(&self, height: i64) -> Option<&StoredTipSet> {
        self.blocks.get(&height)
    }

    /// The height of the latest tipset with blocks: the head.
    pub fn head_height(&self) -> i64 {
        self.blocks.keys().next_back().copied().unwrap_or(0)
    }

    /// The head tipset.
    pub fn head_tipset(&self) -> &StoredTipSet {
        self.blocks.values().next_back().expect("the genesis tipset is always there")
    }

    /// The tipset at `height`, or the latest before it when `height` was a null round (lotus
    /// `ChainGetTipSetByHeight`); heights beyond the head give the head.
    pub fn tipset(&self, height: i64) -> TipSet {
        let (height, tipset) =
            self.blocks.range(..=height.max(0)).next_back().expect("the genesis tipset is always there");
        tipset.to_json(*height)
    }

    /// The first height at or after `from` that has a tipset: where a message included before it executed.
    pub fn first_tipset_from(&self, from: i64) -> Option<i64> {
        self.blocks.range(from..).next().map(|(h, _)| *h)
    }

    /// The height of a tipset key (empty = the head).
    pub fn height_of(&self, key: &TipSetKey) -> Result<i64, String> {
        if key.0.is_empty() {
            return Ok(self.head_height());
        }
        self.blocks
            .iter()
            .rev()
            .find(|(_, tipset)| tipset.key() == *key)
            .map(|(h, _)| *h)
            .ok_or_else(|| format!("loading tipset {}: not found", key_text(key)))
    }

    /// A block by CID.
    pub fn block(&self, cid: &Cid) -> Option<&StoredBlock> {
        self.blocks.values().rev().flat_map(|t| &t.blocks).find(|b| b.cid.0 == *cid)
    }

    /// The beacon entry of `round` (the devnet's stand-in for a drand round: one per epoch).
    pub fn beacon_entry(&self, round: i64) -> BeaconEntry {
        BeaconEntry {
            round: round.max(0) as u64,
            data: LotusJson(crate::node::base(&self.network_name, "beacon", round).to_vec()),
        }
    }

    /// The beacon entries a block of `round` on a base at `base_height` carries: one per epoch after the base
    /// (lotus `BeaconEntriesForBlock`).
    pub fn beacon_entries_after(&self, base_height: i64, round: i64) -> Vec<BeaconEntry> {
        (base_height + 1..=round).map(|r| self.beacon_entry(r)).collect()
    }

    /// The genesis block: no election, the devnet's ticket and beacon of round 0.
    pub fn genesis_block(network_name: &str, timestamp: u64, base_fee: &fvm_shared::econ::TokenAmount) -> StoredBlock {
        let root = cbor_cid(&fvm_ipld_encoding::to_vec(&("state", network_name, -1i64)).expect("encodes"));
        let header = BlockHeader {
            miner: LotusJson(Address::new_id(0)),
            ticket: Some(sealstack_chain::tipset::Ticket {
                vrf_proof: LotusJson(crate::node::base(network_name, "ticket", 0).to_vec()),
            }),
            election_proof: None,
            beacon_entries: vec![BeaconEntry {
                round: 0,
                data: LotusJson(crate::node::base(network_name, "beacon", 0).to_vec()),
            }],
            win_post_proof: Vec::new(),
            parents: TipSetKey::head(),
            parent_weight: "0".into(),
            height: 0,
            parent_state_root: LotusJson(root),
            parent_message_receipts: LotusJson(root),
            messages: LotusJson(messages_cid(&[], &[])),
            bls_aggregate: None,
            timestamp,
            block_sig: None,
            fork_signaling: 0,
            parent_base_fee: LotusJson(base_fee.clone()),
        };
        StoredBlock::new(header, Vec::new(), Vec::new()).expect("the genesis header encodes")
    }
}

/// A tipset key as Lotus prints one: `{cid,cid}`.
pub fn key_text(key: &TipSetKey) -> String {
    key.to_string()
}
