//! Building blocks (lotus filcns `CreateBlock`, consensus `CreateBlockHeader`): `MinerCreateBlock` fills in a
//! template's parent weight, state and message roots, base fee and BLS aggregate and signs the header with the
//! miner's worker key; `MpoolSelect` gives the pending messages a block on the head may include.

use bls_signatures::Serialize as _;
use cid::Cid;
use fvm_shared::crypto::signature::SignatureType;
use sealstack_chain::block::{BlockMsg, BlockTemplate, messages_cid};
use sealstack_chain::json::LotusJson;
use sealstack_chain::message::{SignatureJson, SignedMessageJson, message_cid};
use sealstack_chain::tipset::BlockHeader;

use crate::blocks::key_text;
use crate::model::StateEngine;
use crate::node::ChainState;

/// The CIDs of a block's messages, BLS ones (unsigned message CIDs) and secp256k1 ones (signed CIDs).
pub fn split_by_signature(messages: &[SignedMessageJson]) -> (Vec<Cid>, Vec<Cid>) {
    let mut bls = Vec::new();
    let mut secpk = Vec::new();
    for m in messages {
        if m.signature.sig_type == SignatureType::BLS as u8 {
            bls.push(message_cid(&m.message.to_message()));
        } else {
            secpk.push(m.cid.0);
        }
    }
    (bls, secpk)
}

/// The aggregate of the BLS messages' signatures (lotus `aggregateSignatures`; no BLS message gives the
/// aggregate of nothing, the identity point).
pub fn bls_aggregate(messages: &[SignedMessageJson]) -> SignatureJson {
    let signatures: Vec<bls_signatures::Signature> = messages
        .iter()
        .filter(|m| m.signature.sig_type == SignatureType::BLS as u8)
        .filter_map(|m| bls_signatures::Signature::from_bytes(&m.signature.data).ok())
        .collect();
    let bytes = if signatures.is_empty() {
        empty_aggregate()
    } else {
        bls_signatures::aggregate(&signatures).map(|s| s.as_bytes()).unwrap_or_else(|_| empty_aggregate())
    };
    SignatureJson { sig_type: SignatureType::BLS as u8, data: LotusJson(bytes) }
}

/// The compressed G2 identity: the aggregate of no signature.
fn empty_aggregate() -> Vec<u8> {
    let mut bytes = vec![0u8; 96];
    bytes[0] = 0xc0;
    bytes
}

impl ChainState {
    /// `MinerCreateBlock`: the header of a block from `template`, signed with the miner's worker key.
    pub fn create_block(&self, template: &BlockTemplate) -> Result<BlockMsg, String> {
        let base_height =
            self.height_of(&template.parents).map_err(|e| format!("failed to load parent tipset: {e}"))?;
        let base = self.tipset_at(base_height).ok_or_else(|| format!("failed to load parent tipset: {base_height}"))?;
        let miner = self.actors.miner(&template.miner).ok_or_else(|| {
            format!(
                "getting lookback miner actor state: failed to get miner worker: actor {} not found",
                template.miner.0
            )
        })?;
        let worker = self
            .actors
            .account_key(&fvm_shared::address::Address::new_id(miner.worker))
            .ok_or("failed to get miner worker: worker has no key address")?;
        // The messages must be ones the node knows (from its pool): `SyncSubmitBlock` loads them by CID.
        let messages = &template.messages;
        let (bls, secpk) = split_by_signature(messages);
        let mut header = BlockHeader {
            miner: template.miner.clone(),
            ticket: template.ticket.clone(),
            election_proof: template.eproof.clone(),
            beacon_entries: template.beacon_values.clone(),
            win_post_proof: template.winning_post_proof.clone(),
            parents: template.parents.clone(),
            parent_weight: base.weight.clone(),
            height: template.epoch,
            parent_state_root: LotusJson(self.state_root(base_height)),
            parent_message_receipts: LotusJson(self.state_root(base_height)),
            messages: LotusJson(messages_cid(&bls, &secpk)),
            bls_aggregate: Some(bls_aggregate(messages)),
            timestamp: template.timestamp,
            block_sig: None,
            fork_signaling: 0,
            parent_base_fee: LotusJson(self.base_fee_at(template.epoch)),
        };
        let signing = header.signing_bytes().map_err(|e| format!("failed to get signing bytes for block: {e}"))?;
        let signature = self.wallet.sign(&worker, &signing).map_err(|e| format!("failed to sign new block: {e}"))?;
        header.block_sig = Some(SignatureJson::from(&signature));
        tracing::debug!(parents = key_text(&template.parents), epoch = template.epoch, "block created");
        let lotus = |cids: Vec<Cid>| cids.into_iter().map(LotusJson).collect();
        Ok(BlockMsg { header, bls_messages: lotus(bls), secpk_messages: lotus(secpk) })
    }
}
