//! Replacing a message stuck in the message pool by one that pays more, as `lotus mpool replace --auto` does: the
//! same message with the same nonce, the least premium the pool takes as a replacement
//! ([`min_replacement_premium`]) and the fee cap raised to what the sender allows, signed by the node's wallet and
//! pushed with `MpoolPush`. Only one message of a sender's nonce can ever execute, so a replacement can never make
//! the message land twice; `StateSearchMsg` with `allowReplaced` finds the one that did under the original CID.

use cid::Cid;
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;

use crate::api::FullNodeClient;
use crate::client::Node;
use crate::error::ChainError;
use crate::json::{LotusJson, TipSetKey};
use crate::message::{MessageJson, min_replacement_premium};

/// The message that replaces `pending` when the sender pays at most `max_fee` in all: the premium raised to
/// [`min_replacement_premium`] and the fee cap to `max_fee` over the gas limit, the most the budget allows. `None`
/// when the budget cannot pay the minimum replacement premium on top of `base_fee`.
pub fn replacement(pending: &Message, max_fee: &TokenAmount, base_fee: &TokenAmount) -> Option<Message> {
    let gas_limit = pending.gas_limit.max(1);
    let fee_cap = TokenAmount::from_atto(max_fee.atto() / gas_limit);
    let premium = min_replacement_premium(&pending.gas_premium);
    if fee_cap < premium.clone() + base_fee || fee_cap < pending.gas_fee_cap {
        return None;
    }
    let mut replaced = pending.clone();
    replaced.gas_premium = premium;
    replaced.gas_fee_cap = fee_cap;
    Some(replaced)
}

/// Replaces the pending message with the sender and nonce of the message `cid` (the latest replacement of it
/// when there was one) by one that pays more within `max_fee`; returns the new message's CID. Fails with
/// [`ChainError::Client`] when the budget allows no higher premium.
pub async fn replace_by_fee(node: &Node, cid: Cid, max_fee: &TokenAmount) -> Result<Cid, ChainError> {
    let api = node.api();
    let original = api.chain_get_message(LotusJson(cid)).await.map_err(node.err())?.to_message();
    // The version waiting now: the original, or a replacement pushed since (by an earlier run, say).
    let pending = api.mpool_pending(TipSetKey::head()).await.map_err(node.err())?;
    let current = pending
        .into_iter()
        .map(|signed| signed.message.to_message())
        .filter(|m| m.from == original.from && m.sequence == original.sequence)
        .max_by(|a, b| a.gas_premium.cmp(&b.gas_premium))
        .unwrap_or(original);
    let head = api.chain_head().await.map_err(node.err())?;
    let base_fee = head.blocks.first().map(|b| b.parent_base_fee.0.clone()).unwrap_or_default();
    let replaced = replacement(&current, max_fee, &base_fee).ok_or_else(|| {
        ChainError::Client(format!(
            "message {cid} (nonce {}) cannot be replaced within a fee of {} attoFIL: premium {} and base fee {} \
             leave no room",
            current.sequence,
            max_fee.atto(),
            current.gas_premium.atto(),
            base_fee.atto()
        ))
    })?;
    let signed = api
        .wallet_sign_message(LotusJson(replaced.from), MessageJson::from_message(&replaced))
        .await
        .map_err(node.err())?;
    let new = api.mpool_push(signed).await.map_err(node.err())?.0;
    tracing::info!(
        replaced = %cid,
        by = %new,
        nonce = replaced.sequence,
        premium = %replaced.gas_premium.atto(),
        fee_cap = %replaced.gas_fee_cap.atto(),
        "replaced a stuck message by fee"
    );
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fvm_ipld_encoding::RawBytes;
    use fvm_shared::address::Address;

    fn message(premium: u64, fee_cap: u64) -> Message {
        let mut m = crate::message::unsigned_message(
            Address::new_id(1001),
            Address::new_id(1000),
            TokenAmount::from_atto(0),
            5,
            RawBytes::default(),
        );
        m.sequence = 7;
        m.gas_limit = 1_000;
        m.gas_premium = TokenAmount::from_atto(premium);
        m.gas_fee_cap = TokenAmount::from_atto(fee_cap);
        m
    }

    #[test]
    fn replacement_raises_premium_by_the_ratio_and_spends_the_budget_on_the_fee_cap() {
        assert_eq!(min_replacement_premium(&TokenAmount::from_atto(100)), TokenAmount::from_atto(111));
        let pending = message(100, 200);
        let replaced = replacement(&pending, &TokenAmount::from_atto(1_000_000), &TokenAmount::from_atto(500)).unwrap();
        assert_eq!(replaced.sequence, 7, "same nonce: only one of them can ever execute");
        assert_eq!(replaced.gas_premium, TokenAmount::from_atto(111));
        assert_eq!(replaced.gas_fee_cap, TokenAmount::from_atto(1_000), "1,000,000 attoFIL over 1,000 gas");
        assert_eq!(
            (replaced.to, replaced.method_num, &replaced.params),
            (pending.to, pending.method_num, &pending.params)
        );
    }

    #[test]
    fn no_replacement_beyond_the_budget() {
        let pending = message(100, 200);
        // 300 per gas cannot pay a base fee of 200 plus the minimum replacement premium of 111.
        assert!(replacement(&pending, &TokenAmount::from_atto(300_000), &TokenAmount::from_atto(200)).is_none());
        // Nor lower the fee cap the pending message already has.
        assert!(
            replacement(&message(1, 5_000), &TokenAmount::from_atto(1_000_000), &TokenAmount::from_atto(0)).is_none()
        );
    }
}
