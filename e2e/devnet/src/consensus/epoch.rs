//! Closing an epoch and executing a tipset (lotus stmgr `ApplyBlocks`, messagepool's selection).
//!
//! When the devnet's timer closes epoch `h`, its tipset is the blocks submitted for `h` (validated on arrival)
//! and the rest of the network's block when it won; no block makes a null round. The tipset's messages execute
//! when the next epoch is made: block by block in the tipset's order, each message once (a message seen in an
//! earlier block, or whose nonce is not its sender's next, is skipped), then the block's reward to its miner.

use std::collections::{BTreeMap, BTreeSet};

use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use sealstack_chain::election::tipset_weight;
use sealstack_chain::json::LotusJson;
use sealstack_chain::message::{SignedMessageJson, message_cid};

use super::REST_OF_NETWORK_MINER;
use crate::blocks::{StoredBlock, StoredTipSet};
use crate::model::{GasOutputs, StateEngine};
use crate::node::{ChainState, Env, Executed};

impl ChainState {
    /// Executes the tipset at `height` (if it is not a null round): its blocks' messages and rewards.
    pub(crate) fn execute_tipset(&mut self, height: i64) {
        let Some(tipset) = self.tipset_at(height).cloned() else { return };
        let mut seen = BTreeSet::new();
        let mut skipped = Vec::new();
        let mut next_nonce: BTreeMap<Address, u64> = BTreeMap::new();
        for block in &tipset.blocks {
            let mut tips = TokenAmount::from_atto(0);
            for cid in block.message_cids() {
                let Some(signed) = self.message(cid).cloned() else {
                    tracing::error!(%cid, "a block's message is not in the store");
                    continue;
                };
                if !seen.insert(signed.cid.0) {
                    continue;
                }
                let Some(key) = self.signer_of(&signed.message.from.0) else { continue };
                let expected =
                    *next_nonce.entry(key).or_insert_with(|| self.actors.actor(&key).map(|a| a.nonce).unwrap_or(0));
                if signed.message.nonce != expected {
                    tracing::info!(cid = %signed.cid.0, nonce = signed.message.nonce, expected, "message skipped: not the sender's next nonce");
                    skipped.push(signed);
                    continue;
                }
                next_nonce.insert(key, expected + 1);
                tips += self.execute_message(&signed, height);
            }
            self.reward_block(block, height, &tips);
        }
        // A skipped message goes back to the pool; pending messages whose nonce is now used can never land.
        for signed in skipped {
            if !self.executed.contains_key(&signed.cid.0.to_string())
                && self
                    .pending(
                        &self.signer_of(&signed.message.from.0).unwrap_or(signed.message.from.0),
                        signed.message.nonce,
                    )
                    .is_none()
            {
                self.mempool.push(signed);
            }
        }
        let mempool = std::mem::take(&mut self.mempool);
        self.mempool = mempool
            .into_iter()
            .filter(|m| {
                let key = self.signer_of(&m.message.from.0).unwrap_or(m.message.from.0);
                m.message.nonce >= self.actors.actor(&key).map(|a| a.nonce).unwrap_or(0)
            })
            .collect();
    }

    /// Executes one message at `height`; returns the tip it paid into the reward actor.
    fn execute_message(&mut self, signed: &SignedMessageJson, height: i64) -> TokenAmount {
        let message = signed.message.to_message();
        let signer = self.signer_of(&message.from);
        let ok = signer
            .zip(signed.signature.to_signature())
            .is_some_and(|(key, sig)| crate::wallet::verify(&sig, &key, &message_cid(&message).to_bytes()).is_ok());
        let receipt = if ok {
            let env = Env::at(self, height);
            self.actors.apply(&message, &env)
        } else {
            crate::model::ApplyReceipt::fail(fvm_shared::error::ExitCode::SYS_SENDER_INVALID, 0, "bad signature")
        };
        let tip = if ok {
            let base_fee = self.base_fee_at(height);
            let gas = receipt.gas_used.max(0) as u64;
            GasOutputs::compute(gas, message.gas_limit, &base_fee, &message.gas_fee_cap, &message.gas_premium).miner_tip
        } else {
            TokenAmount::from_atto(0)
        };
        let executed = Executed {
            height: height + 1,
            exit_code: receipt.exit_code.value(),
            return_data: LotusJson(receipt.return_data),
            gas_used: receipt.gas_used,
            to: LotusJson(message.to),
            method: message.method_num,
        };
        tracing::info!(cid = %signed.cid.0, method = message.method_num, exit_code = executed.exit_code, "executed");
        self.record_executed(signed, executed);
        tip
    }

    /// Pays a block's reward to its miner; the rest of the network has no actor, its rewards stay unminted.
    fn reward_block(&mut self, block: &StoredBlock, height: i64, tips: &TokenAmount) {
        let Some(miner) = block.miner_id().filter(|id| *id != REST_OF_NETWORK_MINER) else { return };
        let award =
            self.actors.award_block_reward(miner, block.win_count(), tips, height, &self.consensus, &self.policy);
        match award {
            Some(award) => tracing::info!(
                miner,
                height,
                block = %block.cid.0,
                paid = %award.paid.atto(),
                locked = %award.locked.atto(),
                burnt = %award.burnt.atto(),
                "block reward"
            ),
            None => tracing::warn!(miner, height, "a block's miner is not a miner actor: no reward"),
        }
    }

    /// Closes the open epoch (`self.height`): its tipset is the blocks submitted for it and `rest`, the rest of
    /// the network's block; none makes a null round. The included messages leave the pool.
    pub(crate) fn close_epoch(&mut self, rest: Option<StoredBlock>) {
        let height = self.height;
        let pending = std::mem::take(&mut self.pending_blocks);
        let mut blocks: Vec<StoredBlock> = pending.into_iter().filter(|b| b.header.height == height).collect();
        blocks.extend(rest);
        if blocks.is_empty() {
            tracing::info!(height, "null round");
            return;
        }
        let parent_weight = self.head_tipset().weight();
        let wins = blocks.iter().map(StoredBlock::win_count);
        let weight = tipset_weight(&parent_weight, &self.network_power(), wins);
        let tipset = StoredTipSet::new(blocks, &weight);
        let mut seen = BTreeSet::new();
        let included: Vec<SignedMessageJson> = tipset
            .blocks
            .iter()
            .flat_map(StoredBlock::message_cids)
            .filter(|cid| seen.insert(**cid))
            .filter_map(|cid| self.message(cid).cloned())
            .collect();
        self.mempool.retain(|m| !seen.contains(&m.cid.0));
        tracing::info!(
            height,
            blocks = tipset.blocks.len(),
            miners = ?tipset.blocks.iter().map(|b| b.header.miner.0.to_string()).collect::<Vec<_>>(),
            messages = included.len(),
            "tipset"
        );
        self.included = included;
        self.blocks.insert(height, tipset);
    }
}
