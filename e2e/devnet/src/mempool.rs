//! The message pool, with Lotus's rules (lotus chain/messagepool/messagepool.go and selection.go):
//! - a pushed message is checked (version, fee cap at least the minimum base fee, premium at most the fee cap,
//!   signature, nonce not below the sender's, funds for it and the sender's other pending messages);
//! - a message with the nonce of a pending one replaces it when its premium is at least 110 % of the old one
//!   plus one (replace-by-fee, `sealstack_chain::message::min_replacement_premium`);
//! - a block includes each sender's pending messages in nonce order, stopping at a gap or at a message whose
//!   fee cap is below the block's base fee: such messages wait, as they do in Lotus.

use std::collections::BTreeMap;

use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use sealstack_chain::message::{SignedMessageJson, message_cid, min_replacement_premium};

use crate::model::StateEngine;
use crate::node::ChainState;

/// Lotus's `MinimumBaseFee`: no fee cap below it is accepted, and the base fee never falls under it.
pub const MINIMUM_BASE_FEE_ATTO: u64 = 100;
/// The largest gas limit of one message: a block's (`BlockGasLimit`).
pub const BLOCK_GAS_LIMIT: u64 = 10_000_000_000;

/// Whether two messages make the same call, gas aside (lotus `Message.EqualCall`): a valid replacement.
pub fn equal_call(a: &SignedMessageJson, b: &SignedMessageJson) -> bool {
    let strip = |s: &SignedMessageJson| {
        let mut m = s.message.to_message();
        m.gas_limit = 0;
        m.gas_fee_cap = TokenAmount::from_atto(0);
        m.gas_premium = TokenAmount::from_atto(0);
        m
    };
    strip(a) == strip(b)
}

/// A sender's funds needed for a message: fee cap × gas limit + value (lotus `RequiredFunds` + value).
fn required_funds(signed: &SignedMessageJson) -> TokenAmount {
    let m = signed.message.to_message();
    m.gas_fee_cap * m.gas_limit + &m.value
}

impl ChainState {
    /// The key address that signs for `address` (itself for a key address, an account's key for its ID).
    pub fn signer_of(&self, address: &Address) -> Option<Address> {
        self.key_address(address)
    }

    /// The sender's nonce after the head block's messages (Lotus's state nonce at the head).
    pub fn state_nonce(&self, key: &Address) -> u64 {
        let on_chain = self.actors.actor(key).map(|a| a.nonce).unwrap_or(0);
        let in_head = self.included.iter().filter(|m| self.signer_of(&m.message.from.0) == Some(*key)).count() as u64;
        on_chain + in_head
    }

    /// The next nonce of a sender, counting its pending messages (`MpoolGetNonce`).
    pub fn next_nonce(&self, address: &Address) -> u64 {
        let key = self.key_address(address).unwrap_or(*address);
        let mut next = self.state_nonce(&key);
        while self.pending(&key, next).is_some() {
            next += 1;
        }
        next
    }

    /// The pending message of a sender with a nonce, if any.
    pub fn pending(&self, key: &Address, nonce: u64) -> Option<&SignedMessageJson> {
        self.mempool
            .iter()
            .find(|m| m.message.nonce == nonce && self.signer_of(&m.message.from.0).as_ref() == Some(key))
    }

    /// Lotus's checks of a signed message before it enters the pool. `signed_here` skips the signature check
    /// of a message the node's wallet just signed (MpoolPushMessage; Lotus caches it as verified).
    pub fn check_push(&self, signed: &SignedMessageJson, signed_here: bool) -> Result<(), String> {
        let message = signed.message.to_message();
        if message.version != 0 {
            return Err(format!("message not valid for block inclusion: 'Version' unsupported ({})", message.version));
        }
        if message.gas_fee_cap < message.gas_premium {
            return Err("message not valid for block inclusion: 'GasFeeCap' less than 'GasPremium'".into());
        }
        if message.gas_limit > BLOCK_GAS_LIMIT {
            return Err(
                "message not valid for block inclusion: 'GasLimit' field cannot be greater than a block's gas limit"
                    .into(),
            );
        }
        if message.gas_fee_cap < TokenAmount::from_atto(MINIMUM_BASE_FEE_ATTO) {
            return Err("gas fee cap too low".into());
        }
        let key = self.signer_of(&message.from).ok_or_else(|| {
            format!("failed to look up actor state nonce: resolution lookup failed ({})", message.from)
        })?;
        let valid = if signed_here {
            Ok(())
        } else {
            signed
                .signature
                .to_signature()
                .ok_or_else(|| format!("unrecognized signature type: {}", signed.signature.sig_type))
                .and_then(|sig| {
                    crate::wallet::verify(&sig, &key, &message_cid(&message).to_bytes()).map_err(|e| e.to_string())
                })
        };
        if let Err(e) = valid {
            return Err(format!("signature verification failed: failed to validate signature: {e}"));
        }
        let state_nonce = self.state_nonce(&key);
        if message.sequence < state_nonce {
            return Err(format!(
                "minimum expected nonce is {state_nonce}, got {}: message nonce too low",
                message.sequence
            ));
        }
        let balance = self.actors.actor(&key).map(|a| a.balance.0.clone()).unwrap_or_default();
        let required = required_funds(signed);
        if balance < required {
            return Err(format!(
                "not enough funds (required: {}, balance: {}): not enough funds to execute transaction",
                required.atto(),
                balance.atto()
            ));
        }
        let others: TokenAmount = self
            .mempool
            .iter()
            .filter(|m| m.message.nonce != message.sequence && self.signer_of(&m.message.from.0) == Some(key))
            .map(required_funds)
            .fold(TokenAmount::from_atto(0), |a, b| a + b);
        if balance < required.clone() + &others {
            return Err(format!(
                "not enough funds including pending messages (required: {}, balance: {}): validation failure",
                (required + others).atto(),
                balance.atto()
            ));
        }
        if let Some(existing) = self.pending(&key, message.sequence) {
            if existing.cid == signed.cid {
                return Err(format!(
                    "message from {} with nonce {} already in mpool: message with nonce already exists",
                    message.from, message.sequence
                ));
            }
            let min = min_replacement_premium(&existing.message.gas_premium.0);
            if message.gas_premium < min {
                return Err(format!(
                    "message from {} with nonce {} already in mpool, increase GasPremium to {} from {} to trigger \
                     replace by fee: replace by fee has too low GasPremium",
                    message.from,
                    message.sequence,
                    min.atto(),
                    message.gas_premium.atto()
                ));
            }
        }
        Ok(())
    }

    /// Adds a checked message to the pool, replacing a pending one of the same sender and nonce.
    pub fn queue(&mut self, signed: SignedMessageJson) {
        let key = self.signer_of(&signed.message.from.0);
        let nonce = signed.message.nonce;
        let slot =
            self.mempool.iter().position(|m| m.message.nonce == nonce && self.signer_of(&m.message.from.0) == key);
        self.messages.insert(signed.cid.0.to_string(), signed.clone());
        match slot {
            Some(index) => {
                tracing::info!(old = %self.mempool[index].cid.0, new = %signed.cid.0, nonce, "replaced by fee");
                self.mempool[index] = signed;
            }
            None => self.mempool.push(signed),
        }
    }

    /// The pending messages a block on the head with `base_fee` may include, in the order to include them
    /// (`MpoolSelect`): per sender, from its nonce after the head's messages on, without gaps, up to the first
    /// whose fee cap is below the base fee (such messages wait, as in Lotus's selection), within the block's
    /// gas limit.
    pub fn selectable(&self, base_fee: &TokenAmount) -> Vec<SignedMessageJson> {
        let mut expected: BTreeMap<Address, u64> = BTreeMap::new();
        let mut keys = Vec::with_capacity(self.mempool.len());
        for m in &self.mempool {
            let key = self.signer_of(&m.message.from.0).unwrap_or(m.message.from.0);
            expected.entry(key).or_insert_with(|| self.state_nonce(&key));
            keys.push(key);
        }
        let mut taken = vec![false; self.mempool.len()];
        let mut selected = Vec::new();
        let mut gas = 0u64;
        loop {
            let mut progress = false;
            for (index, m) in self.mempool.iter().enumerate() {
                let next = expected.get_mut(&keys[index]).expect("every sender has an entry");
                let limit = m.message.gas_limit.max(0) as u64;
                let fits = gas + limit <= BLOCK_GAS_LIMIT;
                if !taken[index] && m.message.nonce == *next && m.message.gas_fee_cap.0 >= *base_fee && fits {
                    taken[index] = true;
                    *next += 1;
                    gas += limit;
                    selected.push(m.clone());
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        selected
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use fvm_shared::econ::TokenAmount;
    use sealstack_chain::message::{MessageJson, MessageSendSpec, unsigned_message};

    use super::*;
    use crate::model::SectorPolicy;
    use crate::node::DevnetNode;
    use crate::repo::Repo;
    use crate::store::ChainStore;
    use crate::wallet::KeyType;

    /// A node on a fresh repo whose default key holds 100 FIL, and a BLS key to send to.
    fn node() -> (tempfile::TempDir, Arc<DevnetNode>, Address, Address) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::open(dir.path()).unwrap();
        let genesis = || {
            Ok(ChainState::genesis(
                "devnet",
                TokenAmount::from_whole(100),
                TokenAmount::from_atto(1),
                SectorPolicy::default(),
            ))
        };
        let (state, store) = ChainStore::open(&repo, genesis).unwrap();
        let node = DevnetNode::new(state, store, std::time::Duration::from_secs(1));
        let to = node.new_key(KeyType::Bls).unwrap();
        let from = node.state().wallet.default_address().unwrap();
        (dir, node, from, to)
    }

    /// The state as a reopened repo holds it (a message's JSON gains its CID once read back).
    fn as_json(state: &ChainState) -> serde_json::Value {
        let read_back: ChainState = serde_json::from_value(serde_json::to_value(state).unwrap()).unwrap();
        serde_json::to_value(read_back).unwrap()
    }

    #[test]
    fn base_fee_changes_and_replacements_are_replayed_after_a_restart() {
        let (dir, node, from, to) = node();
        let send = unsigned_message(from, to, TokenAmount::from_whole(1), 0, Default::default());
        let stuck = node.push_message(MessageJson::from_message(&send), None).unwrap();
        node.set_base_fee(TokenAmount::from_nano(1_000u64)).unwrap();
        node.advance();
        let mut replacement = stuck.message.to_message();
        replacement.gas_fee_cap = TokenAmount::from_nano(2_000u64);
        replacement.gas_premium = min_replacement_premium(&stuck.message.gas_premium.0);
        let signed = node.sign_message(&from, MessageJson::from_message(&replacement)).unwrap();
        node.push_signed(signed).unwrap();
        node.advance();
        node.advance();
        let before = as_json(&node.state());
        drop(node);
        let repo = Repo::open(dir.path()).unwrap();
        let (state, _store) = ChainStore::open(&repo, || panic!("the snapshot is there")).unwrap();
        assert_eq!(as_json(&state), before);
        assert_eq!(state.base_fee_at(state.height), TokenAmount::from_nano(1_000u64));
        assert_eq!(state.base_fee_at(0), TokenAmount::from_atto(crate::model::BASE_FEE_ATTO));
    }

    #[test]
    fn a_stuck_message_replaced_by_fee_lands_once() {
        let (_dir, node, from, to) = node();
        let send = unsigned_message(from, to, TokenAmount::from_whole(1), 0, Default::default());
        let stuck = node.push_message(MessageJson::from_message(&send), None).unwrap();
        // Congestion: the base fee of the next blocks rises above the message's fee cap; it waits.
        let base_fee = TokenAmount::from_nano(1_000u64);
        assert!(stuck.message.gas_fee_cap.0 < base_fee);
        node.set_base_fee(base_fee.clone()).unwrap();
        node.advance();
        node.advance();
        assert_eq!(node.state().mempool, vec![stuck.clone()], "still pending");
        let head = node.state().height;
        assert_eq!(node.state().tipset(head).blocks[0].parent_base_fee.0, base_fee);
        assert_eq!(node.state().search(&stuck.cid, true).unwrap(), None);

        // Replace-by-fee: the same call and nonce, a fee cap over the base fee, too small a premium first.
        let mut replacement = stuck.message.to_message();
        replacement.gas_fee_cap = base_fee.clone() * 2u64;
        replacement.gas_premium = (stuck.message.gas_premium.0.clone() * 11u64).div_floor(10u64);
        let low = node.sign_message(&from, MessageJson::from_message(&replacement)).unwrap();
        let err = node.push_signed(low).unwrap_err();
        assert!(err.contains("replace by fee has too low GasPremium"), "{err}");
        replacement.gas_premium = min_replacement_premium(&stuck.message.gas_premium.0);
        let signed = node.sign_message(&from, MessageJson::from_message(&replacement)).unwrap();
        let cid = node.push_signed(signed).unwrap();
        assert_eq!(node.state().mempool.len(), 1, "replaced in place");
        node.advance();
        node.advance();

        let state = node.state();
        let lookup = state.search(&stuck.cid, true).unwrap().expect("found through its replacement");
        assert_eq!(lookup.message.0, cid);
        assert_eq!(lookup.receipt.exit_code, 0);
        let err = state.search(&stuck.cid, false).unwrap_err();
        assert!(err.contains("message was replaced"), "{err}");
        assert_eq!(state.actors.balance(state.actors.lookup_id(&to).unwrap()), TokenAmount::from_whole(1), "once");
        assert_eq!(state.next_nonce(&from), 1);
        assert!(state.mempool.is_empty() && state.included.is_empty());
    }

    #[test]
    fn gas_is_charged_from_the_base_fee_and_the_premium() {
        let (_dir, node, from, to) = node();
        let before = node.state().actors.balance(100);
        let reward_before = node.state().actors.balance(2);
        let send = unsigned_message(from, to, TokenAmount::from_atto(5), 0, Default::default());
        let signed = node.push_message(MessageJson::from_message(&send), None).unwrap();
        let message = signed.message.to_message();
        assert_eq!(message.gas_limit, 1_250_000, "the flat gas used × Lotus's overestimation");
        node.advance();
        node.advance();
        let state = node.state();
        assert_eq!(state.lookup(&signed.cid).unwrap().receipt.gas_used, crate::model::BASE_GAS);
        let gas = crate::model::GasOutputs::compute(
            crate::model::BASE_GAS as u64,
            message.gas_limit,
            &TokenAmount::from_atto(crate::model::BASE_FEE_ATTO),
            &message.gas_fee_cap,
            &message.gas_premium,
        );
        let spent = gas.burnt() + &gas.miner_tip;
        assert_eq!(state.actors.balance(100), before - spent - TokenAmount::from_atto(5));
        // The rest of the network's block carried it: its miner has no actor, the tip stays in the reward actor.
        assert_eq!(state.actors.balance(2), reward_before + gas.miner_tip, "the tip goes to the reward actor");
    }

    #[test]
    fn pushes_are_checked_as_lotus_checks_them() {
        let (_dir, node, from, to) = node();
        let send = unsigned_message(from, to, TokenAmount::from_atto(5), 0, Default::default());
        let first = node.push_message(MessageJson::from_message(&send), None).unwrap();
        // The same signed message again.
        let err = node.push_signed(first.clone()).unwrap_err();
        assert!(err.contains("already in mpool"), "{err}");
        // A nonce already used.
        node.advance();
        node.advance();
        let err = node.push_signed(first).unwrap_err();
        assert!(err.contains("message nonce too low"), "{err}");
        // A bad signature.
        let mut other = send.clone();
        other.sequence = 1;
        other.gas_limit = 1_000_000;
        other.gas_fee_cap = TokenAmount::from_atto(1_000);
        let mut signed = node.sign_message(&from, MessageJson::from_message(&other)).unwrap();
        signed.message.value = sealstack_chain::json::LotusJson(TokenAmount::from_atto(6));
        let err = node.push_signed(signed).unwrap_err();
        assert!(err.contains("signature verification failed"), "{err}");
        // A fee cap under the minimum base fee.
        other.gas_fee_cap = TokenAmount::from_atto(99);
        other.gas_premium = TokenAmount::from_atto(1);
        let signed = node.sign_message(&from, MessageJson::from_message(&other)).unwrap();
        assert_eq!(node.push_signed(signed).unwrap_err(), "gas fee cap too low");
        // MpoolPushMessage assigns the nonce itself.
        let mut with_nonce = send;
        with_nonce.sequence = 3;
        let err =
            node.push_message(MessageJson::from_message(&with_nonce), Some(MessageSendSpec::default())).unwrap_err();
        assert!(err.contains("expects message nonce to be 0"), "{err}");
    }
}
