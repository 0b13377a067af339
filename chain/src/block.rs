//! Blocks as miners make and submit them (lotus chain/types/blockheader.go, blockmsg.go, api.BlockTemplate,
//! api.MiningBaseInfo): the header's CBOR form (a 16-field tuple), from which its CID and the bytes the worker
//! key signs are computed, and the JSON of `MinerGetBaseInfo`, `MinerCreateBlock`, `SyncSubmitBlock` and
//! `ChainGetBlockMessages`.

use cid::Cid;
use fvm_ipld_encoding::strict_bytes;
use fvm_ipld_encoding::tuple::{Deserialize_tuple, Serialize_tuple};
use fvm_shared::address::Address;
use fvm_shared::bigint::{BigInt, bigint_ser};
use fvm_shared::crypto::signature::Signature;
use fvm_shared::econ::TokenAmount;
use fvm_shared::sector::{PoStProof, RegisteredPoStProof};
use serde::{Deserialize, Serialize};

use crate::json::{LotusJson, TipSetKey};
use crate::message::{MessageJson, SignatureJson, SignedMessageJson, cbor_cid};
use crate::tipset::{BeaconEntry, BlockHeader, ElectionProof, PoStProofJson, Ticket};

#[derive(Serialize_tuple, Deserialize_tuple)]
struct TicketCbor {
    #[serde(with = "strict_bytes")]
    vrf_proof: Vec<u8>,
}

#[derive(Serialize_tuple, Deserialize_tuple)]
struct ElectionProofCbor {
    win_count: i64,
    #[serde(with = "strict_bytes")]
    vrf_proof: Vec<u8>,
}

#[derive(Serialize_tuple, Deserialize_tuple)]
struct BeaconEntryCbor {
    round: u64,
    #[serde(with = "strict_bytes")]
    data: Vec<u8>,
}

/// The header as Lotus encodes it in CBOR (field order of `BlockHeader`).
#[derive(Serialize_tuple, Deserialize_tuple)]
struct HeaderCbor {
    miner: Address,
    ticket: Option<TicketCbor>,
    election_proof: Option<ElectionProofCbor>,
    beacon_entries: Vec<BeaconEntryCbor>,
    win_post_proof: Vec<PoStProof>,
    parents: Vec<Cid>,
    #[serde(with = "bigint_ser")]
    parent_weight: BigInt,
    height: i64,
    parent_state_root: Cid,
    parent_message_receipts: Cid,
    messages: Cid,
    bls_aggregate: Option<Signature>,
    timestamp: u64,
    block_sig: Option<Signature>,
    fork_signaling: u64,
    parent_base_fee: TokenAmount,
}

/// Why a header cannot be encoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockError {
    /// `ParentWeight` is not a decimal integer.
    #[error("invalid parent weight {0:?}")]
    ParentWeight(String),
    /// A signature of an unknown type.
    #[error("unknown signature type {0}")]
    SignatureType(u8),
}

fn signature(sig: &Option<SignatureJson>) -> Result<Option<Signature>, BlockError> {
    sig.as_ref().map(|s| s.to_signature().ok_or(BlockError::SignatureType(s.sig_type))).transpose()
}

impl BlockHeader {
    /// The header's CBOR, with or without its signature (lotus `SigningBytes` encodes it with `BlockSig` nil).
    fn cbor(&self, with_signature: bool) -> Result<Vec<u8>, BlockError> {
        let header = HeaderCbor {
            miner: self.miner.0,
            ticket: self.ticket.as_ref().map(|t| TicketCbor { vrf_proof: t.vrf_proof.0.clone() }),
            election_proof: self
                .election_proof
                .as_ref()
                .map(|e| ElectionProofCbor { win_count: e.win_count, vrf_proof: e.vrf_proof.0.clone() }),
            beacon_entries: self
                .beacon_entries
                .iter()
                .map(|b| BeaconEntryCbor { round: b.round, data: b.data.0.clone() })
                .collect(),
            win_post_proof: self
                .win_post_proof
                .iter()
                .map(|p| PoStProof {
                    post_proof: RegisteredPoStProof::from(p.post_proof),
                    proof_bytes: p.proof_bytes.0.clone(),
                })
                .collect(),
            parents: self.parents.0.iter().map(|c| c.0).collect(),
            parent_weight: self.weight()?,
            height: self.height,
            parent_state_root: self.parent_state_root.0,
            parent_message_receipts: self.parent_message_receipts.0,
            messages: self.messages.0,
            bls_aggregate: signature(&self.bls_aggregate)?,
            timestamp: self.timestamp,
            block_sig: if with_signature { signature(&self.block_sig)? } else { None },
            fork_signaling: self.fork_signaling,
            parent_base_fee: self.parent_base_fee.0.clone(),
        };
        Ok(fvm_ipld_encoding::to_vec(&header).expect("a header always encodes"))
    }

    /// The parent weight as a number.
    pub fn weight(&self) -> Result<BigInt, BlockError> {
        self.parent_weight.parse().map_err(|_| BlockError::ParentWeight(self.parent_weight.clone()))
    }

    /// The block's CID: of its CBOR, signature included.
    pub fn cid(&self) -> Result<Cid, BlockError> {
        Ok(cbor_cid(&self.cbor(true)?))
    }

    /// What the miner's worker key signs (`BlockSig`): the CBOR of the header without its signature.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, BlockError> {
        self.cbor(false)
    }

    /// The ticket's VRF proof, empty when the header has none.
    pub fn ticket_bytes(&self) -> &[u8] {
        self.ticket.as_ref().map(|t| t.vrf_proof.0.as_slice()).unwrap_or_default()
    }
}

/// The CID of a block's message lists as the devnet computes it: of the CBOR pair (BLS message CIDs, secp256k1
/// message CIDs). Lotus's `MsgMeta` holds the roots of two AMTs of those CIDs instead (a named departure of the
/// devnet); a client only passes the value on.
pub fn messages_cid(bls: &[Cid], secp: &[Cid]) -> Cid {
    cbor_cid(&fvm_ipld_encoding::to_vec(&(bls, secp)).expect("CIDs encode"))
}

/// The order of blocks in a tipset (lotus `tipsetSortFunc`): by the blake2b-256 of their ticket, then by CID.
pub fn tipset_order_key(header: &BlockHeader, cid: &Cid) -> ([u8; 32], Vec<u8>) {
    let digest = blake2b_simd::Params::new().hash_length(32).hash(header.ticket_bytes());
    (digest.as_bytes().try_into().expect("32 bytes"), cid.to_bytes())
}

/// A block as it travels between miner and node (lotus `types.BlockMsg`): the header and its messages' CIDs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockMsg {
    /// The header.
    #[serde(rename = "Header")]
    pub header: BlockHeader,
    /// CIDs of the BLS-signed messages (unsigned message CIDs: their signatures are in `BLSAggregate`).
    #[serde(rename = "BlsMessages")]
    pub bls_messages: Vec<LotusJson<Cid>>,
    /// CIDs of the secp256k1-signed messages (signed message CIDs).
    #[serde(rename = "SecpkMessages")]
    pub secpk_messages: Vec<LotusJson<Cid>>,
}

/// What a miner asks the node to make into a block (lotus `api.BlockTemplate`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockTemplate {
    /// The miner actor (ID address).
    #[serde(rename = "Miner")]
    pub miner: LotusJson<Address>,
    /// The base tipset.
    #[serde(rename = "Parents")]
    pub parents: TipSetKey,
    /// The miner's ticket.
    #[serde(rename = "Ticket")]
    pub ticket: Option<Ticket>,
    /// The election proof (win count and VRF).
    #[serde(rename = "Eproof")]
    pub eproof: Option<ElectionProof>,
    /// Beacon entries since the base.
    #[serde(rename = "BeaconValues")]
    pub beacon_values: Vec<BeaconEntry>,
    /// The messages to include, in order.
    #[serde(rename = "Messages")]
    pub messages: Vec<SignedMessageJson>,
    /// The block's epoch (base height + null rounds + 1).
    #[serde(rename = "Epoch")]
    pub epoch: i64,
    /// Unix seconds: the base's timestamp + block delay × (null rounds + 1).
    #[serde(rename = "Timestamp")]
    pub timestamp: u64,
    /// The WinningPoSt.
    #[serde(rename = "WinningPoStProof")]
    pub winning_post_proof: Vec<PoStProofJson>,
}

/// A sector as the WinningPoSt challenges it (lotus `builtin.ExtendedSectorInfo`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExtendedSectorInfo {
    /// `RegisteredSealProof` as an integer.
    #[serde(rename = "SealProof")]
    pub seal_proof: i64,
    /// The sector number.
    #[serde(rename = "SectorNumber")]
    pub sector_number: u64,
    /// The sector key of a snapped sector, else null.
    #[serde(rename = "SectorKey")]
    pub sector_key: Option<LotusJson<Cid>>,
    /// CommR.
    #[serde(rename = "SealedCID")]
    pub sealed_cid: LotusJson<Cid>,
}

/// What a miner needs to mine a round on a base (lotus `api.MiningBaseInfo`); `MinerGetBaseInfo` answers null
/// when the miner has no sector to prove.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MiningBaseInfo {
    /// The miner's quality-adjusted power at the lookback.
    #[serde(rename = "MinerPower")]
    pub miner_power: String,
    /// The network's quality-adjusted power at the lookback.
    #[serde(rename = "NetworkPower")]
    pub network_power: String,
    /// The sectors the round's WinningPoSt challenges.
    #[serde(rename = "Sectors")]
    pub sectors: Vec<ExtendedSectorInfo>,
    /// The worker's key address (what signs the VRFs and the block).
    #[serde(rename = "WorkerKey")]
    pub worker_key: LotusJson<Address>,
    /// Sector size in bytes.
    #[serde(rename = "SectorSize")]
    pub sector_size: u64,
    /// The latest beacon entry in the base.
    #[serde(rename = "PrevBeaconEntry")]
    pub prev_beacon_entry: BeaconEntry,
    /// Beacon entries the new block carries (its last one is the round's randomness).
    #[serde(rename = "BeaconEntries")]
    pub beacon_entries: Vec<BeaconEntry>,
    /// Whether the miner may mine: minimum power met, no consensus fault, no fee debt.
    #[serde(rename = "EligibleForMining")]
    pub eligible_for_mining: bool,
}

impl MiningBaseInfo {
    /// The beacon entry the round draws from: the last new one, or the base's latest.
    pub fn round_beacon(&self) -> &BeaconEntry {
        self.beacon_entries.last().unwrap_or(&self.prev_beacon_entry)
    }
}

/// The messages of one block (lotus `api.BlockMessages`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockMessages {
    /// The BLS-signed messages, unsigned.
    #[serde(rename = "BlsMessages")]
    pub bls_messages: Vec<MessageJson>,
    /// The secp256k1-signed messages.
    #[serde(rename = "SecpkMessages")]
    pub secpk_messages: Vec<SignedMessageJson>,
    /// Every message's CID, BLS first.
    #[serde(rename = "Cids")]
    pub cids: Vec<LotusJson<Cid>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tipset::TipSet;

    /// Decodes a Lotus example and encodes it back to the same JSON, except for the `CID` of an unsigned
    /// message, which Lotus's examples print and `MessageJson` ignores on input (it is computed, and written
    /// only where sealstack's answers carry it).
    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(text: &str) -> T {
        let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
        let decoded: T = serde_json::from_value(value.clone()).unwrap();
        strip_unsigned_message_cids(&mut value);
        assert_eq!(serde_json::to_value(&decoded).unwrap(), value);
        decoded
    }

    fn strip_unsigned_message_cids(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                if map.contains_key("GasLimit") {
                    map.remove("CID");
                }
                map.values_mut().for_each(strip_unsigned_message_cids);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip_unsigned_message_cids),
            _ => {}
        }
    }

    /// The mainnet block of Lotus's ChainHead example: its CBOR here gives the CID Lotus printed for it.
    #[test]
    fn a_mainnet_header_encodes_to_its_cid() {
        let tipset: TipSet = serde_json::from_str(include_str!("../tests/vectors/chain_head.json")).unwrap();
        let header = &tipset.blocks[0];
        assert_eq!(header.cid().unwrap(), tipset.cids.0[0].0);
        let signing = header.signing_bytes().unwrap();
        assert!(signing.len() < header.cbor(true).unwrap().len(), "the signature is left out");
        assert_eq!(signing[0], 0x90, "a 16-field CBOR array");
    }

    #[test]
    fn lotus_mining_examples_round_trip() {
        let info: MiningBaseInfo = round_trip(include_str!("../tests/vectors/miner_get_base_info.json"));
        assert_eq!(info.round_beacon().round, 42);
        let [template]: [BlockTemplate; 1] =
            round_trip(include_str!("../tests/vectors/miner_create_block_params.json"));
        assert_eq!(template.eproof.unwrap().win_count, 9);
        let block: BlockMsg = round_trip(include_str!("../tests/vectors/miner_create_block.json"));
        assert_eq!(block.header.height, 10101);
        let [submitted]: [BlockMsg; 1] = round_trip(include_str!("../tests/vectors/sync_submit_block_params.json"));
        assert_eq!(submitted, block);
        let messages: BlockMessages = round_trip(include_str!("../tests/vectors/chain_get_block_messages.json"));
        assert_eq!(messages.cids.len(), 1);
        let header: BlockHeader = round_trip(include_str!("../tests/vectors/chain_get_block.json"));
        assert_eq!(header, block.header);
        let (miner, epoch, base): (LotusJson<Address>, i64, TipSetKey) =
            round_trip(include_str!("../tests/vectors/miner_get_base_info_params.json"));
        assert_eq!((miner.id().unwrap(), epoch, base.0.len()), (1234, 10101, 2));
        let (base, quality): (TipSetKey, f64) = round_trip(include_str!("../tests/vectors/mpool_select_params.json"));
        assert_eq!((base.0.len(), quality), (2, 12.3));
        let selected: Vec<SignedMessageJson> = round_trip(include_str!("../tests/vectors/mpool_select.json"));
        assert_eq!(selected.len(), 1);
        let (signer, data): (LotusJson<Address>, LotusJson<Vec<u8>>) =
            round_trip(include_str!("../tests/vectors/wallet_sign_params.json"));
        assert_eq!((signer.id().unwrap(), data.0.as_slice()), (1234, b"byte array".as_slice()));
        let signature: SignatureJson = round_trip(include_str!("../tests/vectors/wallet_sign.json"));
        assert_eq!(signature.sig_type, 2);
        let entry: BeaconEntry = round_trip(include_str!("../tests/vectors/state_get_beacon_entry.json"));
        assert_eq!(entry.round, 42);
    }

    #[test]
    fn tipset_order_is_by_ticket_digest() {
        let tipset: TipSet = serde_json::from_str(include_str!("../tests/vectors/chain_head.json")).unwrap();
        let mut a = tipset.blocks[0].clone();
        let mut b = a.clone();
        a.ticket = Some(Ticket { vrf_proof: LotusJson(vec![1]) });
        b.ticket = Some(Ticket { vrf_proof: LotusJson(vec![2]) });
        let (ka, kb) = (tipset_order_key(&a, &a.cid().unwrap()), tipset_order_key(&b, &b.cid().unwrap()));
        assert_ne!(ka.0, kb.0);
        assert_ne!(messages_cid(&[a.cid().unwrap()], &[]), messages_cid(&[], &[a.cid().unwrap()]));
    }
}
