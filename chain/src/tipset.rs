//! Tipsets and block headers as Lotus's `ChainHead` returns them (lotus chain/types/blockheader.go).

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use serde::{Deserialize, Serialize};

use crate::json::{LotusJson, TipSetKey};
use crate::message::SignatureJson;

/// A tipset: blocks at one height with the same parents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TipSet {
    /// The key of this tipset: its blocks' CIDs.
    #[serde(rename = "Cids")]
    pub cids: TipSetKey,
    /// Its block headers.
    #[serde(rename = "Blocks")]
    pub blocks: Vec<BlockHeader>,
    /// Its epoch.
    #[serde(rename = "Height")]
    pub height: i64,
}

impl TipSet {
    /// The key of this tipset, for state queries at it.
    pub fn key(&self) -> TipSetKey {
        self.cids.clone()
    }
}

/// A block's election ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The VRF output.
    #[serde(rename = "VRFProof")]
    pub vrf_proof: LotusJson<Vec<u8>>,
}

/// A block's proof of winning the election.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElectionProof {
    /// How many times the miner won in this round.
    #[serde(rename = "WinCount")]
    pub win_count: i64,
    /// The VRF output.
    #[serde(rename = "VRFProof")]
    pub vrf_proof: LotusJson<Vec<u8>>,
}

/// A drand beacon entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BeaconEntry {
    /// The drand round.
    #[serde(rename = "Round")]
    pub round: u64,
    /// The drand signature.
    #[serde(rename = "Data")]
    pub data: LotusJson<Vec<u8>>,
}

/// A PoSt proof with its registered proof type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoStProofJson {
    /// `RegisteredPoStProof` as an integer.
    #[serde(rename = "PoStProof")]
    pub post_proof: i64,
    /// The proof bytes.
    #[serde(rename = "ProofBytes")]
    pub proof_bytes: LotusJson<Vec<u8>>,
}

/// A block header with every field Lotus serialises.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The miner that produced the block.
    #[serde(rename = "Miner")]
    pub miner: LotusJson<Address>,
    /// The election ticket.
    #[serde(rename = "Ticket")]
    pub ticket: Option<Ticket>,
    /// The election proof.
    #[serde(rename = "ElectionProof")]
    pub election_proof: Option<ElectionProof>,
    /// Beacon entries since the parent.
    #[serde(rename = "BeaconEntries", deserialize_with = "crate::json::null_as_empty")]
    pub beacon_entries: Vec<BeaconEntry>,
    /// WinningPoSt proofs (`null` in the genesis block).
    #[serde(rename = "WinPoStProof", deserialize_with = "crate::json::null_as_empty")]
    pub win_post_proof: Vec<PoStProofJson>,
    /// The parent tipset's key.
    #[serde(rename = "Parents")]
    pub parents: TipSetKey,
    /// The parent chain weight.
    #[serde(rename = "ParentWeight")]
    pub parent_weight: String,
    /// The epoch.
    #[serde(rename = "Height")]
    pub height: i64,
    /// The state root after executing the parent tipset.
    #[serde(rename = "ParentStateRoot")]
    pub parent_state_root: LotusJson<Cid>,
    /// The receipts of the parent tipset's messages.
    #[serde(rename = "ParentMessageReceipts")]
    pub parent_message_receipts: LotusJson<Cid>,
    /// The block's messages.
    #[serde(rename = "Messages")]
    pub messages: LotusJson<Cid>,
    /// The aggregate of the block's BLS message signatures.
    #[serde(rename = "BLSAggregate")]
    pub bls_aggregate: Option<SignatureJson>,
    /// Unix seconds.
    #[serde(rename = "Timestamp")]
    pub timestamp: u64,
    /// The miner worker's signature of the header.
    #[serde(rename = "BlockSig")]
    pub block_sig: Option<SignatureJson>,
    /// Fork signalling bits.
    #[serde(rename = "ForkSignaling")]
    pub fork_signaling: u64,
    /// The base fee of the parent tipset.
    #[serde(rename = "ParentBaseFee")]
    pub parent_base_fee: LotusJson<TokenAmount>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ChainHead response example of Lotus's documentation/en/api-methods-v1-stable.md (a mainnet
    /// block at height 4863283) decodes and encodes back to the same JSON.
    #[test]
    fn lotus_chain_head_example_round_trips() {
        let text = include_str!("../tests/vectors/chain_head.json");
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let tipset: TipSet = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(tipset.height, 4863283);
        assert_eq!(tipset.blocks[0].miner.id().unwrap(), 1938223);
        assert_eq!(tipset.blocks[0].parents.0.len(), 3);
        assert_eq!(tipset.blocks[0].win_post_proof[0].post_proof, 3);
        assert_eq!(tipset.blocks[0].parent_base_fee.atto().to_string(), "20592036");
        assert_eq!(serde_json::to_value(&tipset).unwrap(), value);
    }
}
