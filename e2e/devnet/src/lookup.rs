//! Finding messages: by CID (`ChainGetMessage`), and where they executed (`StateSearchMsg`, `StateWaitMsg`),
//! including a message replaced by fee, which Lotus finds through the message of the same sender and nonce
//! that executed (lotus chain/stmgr/searchwait.go `tipsetExecutedMessage`): with `allowReplaced` the lookup
//! names the replacing message; without it, or when the replacement made a different call, it is an error.

use cid::Cid;
use sealstack_chain::json::LotusJson;
use sealstack_chain::message::SignedMessageJson;
use sealstack_chain::node::{MsgLookup, Receipt};

use crate::mempool::equal_call;
use crate::node::{ChainState, Executed};

impl ChainState {
    /// A message the node has seen, by the CID it was pushed under.
    pub fn message(&self, cid: &Cid) -> Option<&SignedMessageJson> {
        let text = cid.to_string();
        self.messages.get(&text).or_else(|| self.mempool.iter().chain(&self.included).find(|m| m.cid.0 == *cid))
    }

    /// Whether the node has seen a message at all.
    pub fn knows(&self, cid: &Cid) -> bool {
        self.message(cid).is_some() || self.executed.contains_key(&cid.to_string())
    }

    /// The key of the executed-message index: sender key address and nonce.
    pub fn nonce_key(&self, signed: &SignedMessageJson) -> String {
        let from = self.signer_of(&signed.message.from.0).unwrap_or(signed.message.from.0);
        format!("{from}/{}", signed.message.nonce)
    }

    /// Records an executed message.
    pub fn record_executed(&mut self, signed: &SignedMessageJson, executed: Executed) {
        let cid = signed.cid.0.to_string();
        self.executed_nonces.insert(self.nonce_key(signed), cid.clone());
        self.executed.insert(cid, executed);
    }

    /// Where a message executed, or `None` while it has not (StateSearchMsg). A message replaced by another
    /// of the same sender and nonce is found through the replacement when `allow_replaced` (Lotus's rules).
    pub fn search(&self, cid: &Cid, allow_replaced: bool) -> Result<Option<MsgLookup>, String> {
        if let Some(lookup) = self.lookup(cid) {
            return Ok(Some(lookup));
        }
        let Some(wanted) = self.message(cid) else {
            return Err(format!("failed to load message: {cid} not found"));
        };
        let Some(found) = self.executed_nonces.get(&self.nonce_key(wanted)) else { return Ok(None) };
        let found_cid: Cid = found.parse().map_err(|e| format!("corrupt message index: {e}"))?;
        let replacement = self.message(&found_cid).ok_or_else(|| format!("message {found_cid} not kept"))?;
        let nonce = wanted.message.nonce;
        if !equal_call(wanted, replacement) {
            return Err(format!(
                "message was replaced: found message with equal nonce as the one we are looking for that is NOT a \
                 valid replacement message (F:{cid} n {nonce}, TS: {found_cid} n{nonce})"
            ));
        }
        if !allow_replaced {
            return Err(format!(
                "message was replaced: found message with equal nonce as the one we are looking for (F:{cid} n \
                 {nonce}, TS: {found_cid} n{nonce})"
            ));
        }
        Ok(self.lookup(&found_cid))
    }

    /// The lookup of a message that executed under exactly this CID, once the tipset whose parent state holds
    /// its receipt exists (the first after its inclusion that is not a null round).
    pub fn lookup(&self, cid: &Cid) -> Option<MsgLookup> {
        let executed = self.executed.get(&cid.to_string())?;
        let height = self.first_tipset_from(executed.height)?;
        Some(MsgLookup {
            message: LotusJson(*cid),
            receipt: Receipt {
                exit_code: executed.exit_code,
                return_data: executed.return_data.clone(),
                gas_used: executed.gas_used,
                events_root: None,
            },
            return_dec: crate::node::decode_return(executed),
            tipset: self.tipset_at(height).expect("just found").key(),
            height,
        })
    }
}
