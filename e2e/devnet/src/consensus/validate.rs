//! `SyncSubmitBlock`: a submitted block is checked as Lotus checks a block (lotus node/impl/full/sync.go
//! `SyncSubmitBlock`, chain/gen/slashfilter, chain/consensus/filcns `ValidateBlock`, consensus
//! `CommonBlkChecks`) and refused with Lotus's message: the slash filter (a second block of one miner for one
//! epoch, or for one base, is a consensus fault: refused, and recorded on the actor), the message root, then
//! the fast checks (sanity, height, timestamp, parent weight) and the concurrent ones (miner, ticket, election
//! proof and win count, block signature, beacon entries, WinningPoSt, base fee, state root, messages), whose
//! failures Lotus reports together (`N errors occurred`). The devnet keeps one chain, so it also refuses a block
//! that does not build on the head or comes after its epoch closed (Lotus would keep it as a lighter fork).

use std::collections::BTreeMap;

use bls_signatures::Serialize as _;
use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::crypto::signature::Signature;
use fvm_shared::sector::RegisteredPoStProof;
use sealstack_chain::block::{BlockMsg, messages_cid};
use sealstack_chain::election::{compute_win_count, election_vrf_input, ticket_vrf_input, winning_post_randomness};
use sealstack_chain::message::{SignedMessageJson, message_cid};
use sealstack_chain::tipset::BlockHeader;

use crate::blocks::{StoredBlock, StoredTipSet, key_text};
use crate::model::{MinerActor, StateEngine, commitment, prover_id};
use crate::node::ChainState;

/// What the devnet does with a submitted block.
#[derive(Debug)]
pub enum Submission {
    /// Valid: it joins its epoch's tipset when the epoch closes.
    Accepted(Box<StoredBlock>),
    /// The same block again: nothing to do.
    AlreadyKnown,
    /// A second block of the miner for the epoch (or the base): refused, and a consensus fault to record.
    ConsensusFault {
        /// The miner's ID.
        miner: u64,
        /// The block's epoch.
        epoch: i64,
        /// Lotus's message.
        message: String,
    },
    /// Refused with this message.
    Refused(String),
}

/// Lotus's prefix of an error from validating a submitted block.
fn sync_failed(cid: &Cid, inner: &str) -> String {
    format!(
        "sync to submitted block failed: collectChain failed: collectChain syncMessages: message processing failed: \
         validating block {cid}: {inner}"
    )
}

/// Errors of concurrent checks as go-multierror prints them.
fn multierror(errors: &[String]) -> String {
    let points: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    format!("{} {noun} occurred:\n\t{}\n\n", errors.len(), points.join("\n\t"))
}

/// The slash filter's keys of a block: by miner and epoch, and by miner and parents.
pub fn slash_filter_keys(header: &BlockHeader) -> [String; 2] {
    [format!("{}/{}", header.miner.0, header.height), format!("{}/{}", header.miner.0, key_text(&header.parents))]
}

fn verify_bls(signer: &Address, data: &[u8], signature: &[u8]) -> Result<(), String> {
    crate::wallet::verify(&Signature::new_bls(signature.to_vec()), signer, data)
        .map_err(|_| "bls signature failed to verify".to_string())
}

impl ChainState {
    /// Checks a submitted block; see the module's documentation.
    pub fn check_submission(&self, block: &BlockMsg) -> Submission {
        let header = &block.header;
        let cid = match header.cid() {
            Ok(cid) => cid,
            Err(e) => return Submission::Refused(format!("serializing block: {e}")),
        };
        let Some(parent) = header.parents.0.first() else {
            return Submission::Refused("loading parent block: block has no parents".into());
        };
        if self.block(parent).is_none() {
            return Submission::Refused(format!("loading parent block: ipld: could not find {}", parent.0));
        }
        for key in slash_filter_keys(header) {
            match self.mined.get(&key) {
                Some(other) if *other == cid.to_string() => return Submission::AlreadyKnown,
                Some(other) => {
                    let message = format!("<!!> SLASH FILTER DETECTED FAULT due to witness {other}");
                    // Refused either way; recorded on the actor only when its worker signed it (builtin-actors
                    // `ReportConsensusFault` verifies both headers' signatures): nobody else can fault a miner.
                    return match header.miner.id() {
                        Ok(miner) if self.signed_by_worker(header) => {
                            Submission::ConsensusFault { miner, epoch: header.height, message }
                        }
                        Ok(_) => Submission::Refused(message),
                        Err(_) => Submission::Refused("block had non-ID miner address".into()),
                    };
                }
                None => {}
            }
        }
        let messages = match self.load_messages(block) {
            Ok(messages) => messages,
            Err(e) => return Submission::Refused(e),
        };
        let bls: Vec<Cid> = block.bls_messages.iter().map(|c| c.0).collect();
        let secpk: Vec<Cid> = block.secpk_messages.iter().map(|c| c.0).collect();
        if header.messages.0 != messages_cid(&bls, &secpk) {
            return Submission::Refused(
                "provided messages did not match block: messages didn't match message root in header".into(),
            );
        }
        if let Err(e) = self.check_epoch_and_base(header) {
            return Submission::Refused(e);
        }
        match self.validate_block(header, &messages) {
            Ok(()) => {
                let stored = StoredBlock {
                    header: header.clone(),
                    cid: cid.into(),
                    bls: block.bls_messages.clone(),
                    secpk: block.secpk_messages.clone(),
                };
                Submission::Accepted(Box::new(stored))
            }
            Err(inner) => Submission::Refused(sync_failed(&cid, &inner)),
        }
    }

    /// Whether the header's signature is its miner's worker's.
    fn signed_by_worker(&self, header: &BlockHeader) -> bool {
        let worker = self.actors.miner(&header.miner).and_then(|m| self.actors.account_key(&Address::new_id(m.worker)));
        match (worker, header.block_sig.as_ref(), header.signing_bytes()) {
            (Some(worker), Some(sig), Ok(bytes)) => verify_bls(&worker, &bytes, &sig.data).is_ok(),
            _ => false,
        }
    }

    /// The block's messages, from the node's store (lotus `LoadMessagesFromCids`).
    fn load_messages(&self, block: &BlockMsg) -> Result<Vec<SignedMessageJson>, String> {
        let load = |cids: &[sealstack_chain::json::LotusJson<Cid>], kind: &str| {
            cids.iter()
                .enumerate()
                .map(|(i, c)| {
                    self.message(&c.0).cloned().ok_or_else(|| {
                        format!("failed to load {kind} messages: failed to get message: ({}) {i}: not found", c.0)
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mut messages = load(&block.bls_messages, "bls")?;
        messages.extend(load(&block.secpk_messages, "secpk")?);
        Ok(messages)
    }

    /// The devnet's single chain: the block is for the open epoch and builds on the head.
    fn check_epoch_and_base(&self, header: &BlockHeader) -> Result<(), String> {
        let open = self.height + 1;
        if header.height < open {
            return Err(format!(
                "block for epoch {} arrived after the epoch closed (the devnet is at epoch {open}; it keeps no forks)",
                header.height
            ));
        }
        if header.height > open {
            return Err(format!(
                "block was from the future (now={}, blk={}): temporal error",
                self.timestamp_of(open),
                header.timestamp
            ));
        }
        let head = self.head_tipset().key();
        if header.parents != head {
            return Err(format!(
                "block on a stale base: its parents {} are not the head {} (the devnet keeps no forks)",
                key_text(&header.parents),
                key_text(&head)
            ));
        }
        Ok(())
    }

    /// Lotus's `ValidateBlock` on a block whose parents are the head.
    fn validate_block(&self, header: &BlockHeader, messages: &[SignedMessageJson]) -> Result<(), String> {
        sanity_checks(header).map_err(|e| format!("incoming header failed basic sanity checks: {e}"))?;
        let base_height = self.height_of(&header.parents)?;
        let base = self.tipset_at(base_height).expect("the head exists");
        if header.height <= base_height {
            return Err(format!("block height not greater than parent height: {} != {base_height}", header.height));
        }
        let nulls = header.height - (base_height + 1);
        let expected = base.blocks[0].header.timestamp + self.block_delay_secs * (nulls as u64 + 1);
        if header.timestamp != expected {
            return Err(format!("block has wrong timestamp: {} != {expected}", header.timestamp));
        }
        if header.parent_weight != base.weight {
            return Err(format!(
                "parent weight different: {} (header) != {} (computed)",
                header.parent_weight, base.weight
            ));
        }
        let Some(miner) = self.actors.miner(&header.miner) else {
            return Err(multierror(&["minerIsValid failed: miner isn't valid".into()]));
        };
        let worker = self
            .actors
            .account_key(&Address::new_id(miner.worker))
            .ok_or("GetMinerWorkerRaw failed: the worker has no key")?;
        let mut errors = Vec::new();
        errors.extend(self.winner_check(header, miner, &worker, base_height).err());
        errors.extend(
            header
                .signing_bytes()
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    let sig = header.block_sig.as_ref().expect("sanity checked");
                    verify_bls(&worker, &bytes, &sig.data).map_err(|e| format!("check block signature failed: {e}"))
                })
                .err(),
        );
        let expected_beacons = self.beacon_entries_after(base_height, header.height);
        if header.beacon_entries != expected_beacons {
            errors.push(format!(
                "failed to validate blocks random beacon values: expected the entries of rounds {}..={}",
                base_height + 1,
                header.height
            ));
        }
        errors.extend(self.ticket_check(header, &worker, base).err());
        errors.extend(self.winning_post_check(header, miner).err());
        errors.extend(self.common_checks(header, messages, base_height).err());
        if errors.is_empty() { Ok(()) } else { Err(multierror(&errors)) }
    }

    /// The round's beacon entry: the block's last one (or the base's latest).
    fn round_beacon(header: &BlockHeader, base: &StoredTipSet) -> Vec<u8> {
        header.beacon_entries.last().or_else(|| base.latest_beacon()).map(|b| b.data.0.clone()).unwrap_or_default()
    }

    fn winner_check(
        &self,
        header: &BlockHeader,
        miner: &MinerActor,
        worker: &Address,
        base_height: i64,
    ) -> Result<(), String> {
        let proof = header.election_proof.as_ref().expect("sanity checked");
        if proof.win_count < 1 {
            return Err("block is not claiming to be a winner".into());
        }
        if !self.eligible_to_mine(&header.miner, base_height) {
            return Err("block's miner is ineligible to mine".into());
        }
        let base = self.tipset_at(base_height).expect("the head exists");
        let input = election_vrf_input(&Self::round_beacon(header, base), header.height, &header.miner);
        verify_bls(worker, &input, &proof.vrf_proof)
            .map_err(|e| format!("validating block election proof failed: vrf was invalid: {e}"))?;
        let computed = compute_win_count(&proof.vrf_proof, &miner.power().into(), &self.network_power());
        if proof.win_count != computed {
            return Err(format!("miner claims wrong number of wins: miner: {}, computed: {computed}", proof.win_count));
        }
        Ok(())
    }

    fn ticket_check(&self, header: &BlockHeader, worker: &Address, base: &StoredTipSet) -> Result<(), String> {
        let input =
            ticket_vrf_input(&Self::round_beacon(header, base), header.height, &header.miner, base.min_ticket());
        verify_bls(worker, &input, header.ticket_bytes())
            .map_err(|e| format!("validating block tickets failed: vrf was invalid: {e}"))
    }

    /// Lotus's `VerifyWinningPoStProof`: the proof verified for real over the sectors challenged this round.
    fn winning_post_check(&self, header: &BlockHeader, miner: &MinerActor) -> Result<(), String> {
        let fail = |e: String| format!("invalid election post: {e}");
        let base = self.head_tipset();
        let randomness = winning_post_randomness(&Self::round_beacon(header, base), header.height, &header.miner);
        let sectors = self
            .winning_post_sectors(miner, randomness)
            .map_err(|e| fail(format!("getting winning post sector set: {e}")))?;
        let window = RegisteredPoStProof::from(miner.window_post_proof);
        let (proof_type, on_chain) = crate::proofs::winning_post_proof_of(window).map_err(fail)?;
        let [proof] = header.win_post_proof.as_slice() else {
            return Err(fail(format!(
                "failed to verify election post: expected 1 winning PoSt proof, got {}",
                header.win_post_proof.len()
            )));
        };
        if proof.post_proof != on_chain {
            return Err(fail(format!(
                "failed to verify election post: proof type {} is not {on_chain}",
                proof.post_proof
            )));
        }
        let replicas = sectors
            .iter()
            .map(|(number, info)| commitment(&info.sealed_cid, crate::model::SEALED_CODEC).map(|c| (*number, c)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        match crate::proofs::verify_winning_post(
            proof_type,
            randomness,
            prover_id(miner.id),
            &proof.proof_bytes,
            &replicas,
        ) {
            Ok(true) => Ok(()),
            Ok(false) => Err(fail("winning post was invalid".into())),
            Err(e) => Err(fail(format!("failed to verify election post: {e}"))),
        }
    }

    /// Lotus's `CommonBlkChecks`: base fee, parent state root, messages (BLS aggregate, nonces).
    fn common_checks(
        &self,
        header: &BlockHeader,
        messages: &[SignedMessageJson],
        base_height: i64,
    ) -> Result<(), String> {
        let base_fee = self.base_fee_at(header.height);
        if header.parent_base_fee.0 != base_fee {
            return Err(format!(
                "base fee doesn't match: {} (header) != {} (computed)",
                header.parent_base_fee.atto(),
                base_fee.atto()
            ));
        }
        let root = self.state_root(base_height);
        if header.parent_state_root.0 != root {
            return Err(format!(
                "parent state root did not match computed state ({} != {root})",
                header.parent_state_root.0
            ));
        }
        self.check_block_messages(header, messages).map_err(|e| format!("block had invalid messages: {e}"))
    }

    fn check_block_messages(&self, header: &BlockHeader, messages: &[SignedMessageJson]) -> Result<(), String> {
        let bls: Vec<&SignedMessageJson> = messages.iter().filter(|m| m.signature.sig_type == 2).collect();
        let aggregate = header.bls_aggregate.as_ref().expect("sanity checked");
        if !bls.is_empty() {
            let cids: Vec<Vec<u8>> = bls.iter().map(|m| message_cid(&m.message.to_message()).to_bytes()).collect();
            let keys = bls
                .iter()
                .map(|m| {
                    let key = self.signer_of(&m.message.from.0).ok_or("failed to load bls public to validate block")?;
                    bls_signatures::PublicKey::from_bytes(&key.payload_bytes())
                        .map_err(|e| format!("failed to load bls public to validate block: {e}"))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let signature = bls_signatures::Signature::from_bytes(&aggregate.data)
                .map_err(|e| format!("bls aggregate signature was invalid: {e}"))?;
            let data: Vec<&[u8]> = cids.iter().map(Vec::as_slice).collect();
            if !bls_signatures::verify_messages(&signature, &data, &keys) {
                return Err("bls aggregate signature was invalid: bls aggregate signature failed to verify".into());
            }
        }
        let mut next: BTreeMap<Address, u64> = BTreeMap::new();
        for m in messages {
            let key = self.signer_of(&m.message.from.0).ok_or("failed to resolve the sender")?;
            let expected = next.entry(key).or_insert_with(|| self.state_nonce(&key));
            if m.message.nonce != *expected {
                return Err(format!("wrong nonce (exp: {expected}, got: {})", m.message.nonce));
            }
            *expected += 1;
        }
        Ok(())
    }
}

/// lotus filcns `blockSanityChecks`.
fn sanity_checks(header: &BlockHeader) -> Result<(), String> {
    if header.election_proof.is_none() {
        return Err("block cannot have nil election proof".into());
    }
    if header.ticket.is_none() {
        return Err("block cannot have nil ticket".into());
    }
    if header.block_sig.is_none() {
        return Err("block had nil signature".into());
    }
    if header.bls_aggregate.is_none() {
        return Err("block had nil bls aggregate signature".into());
    }
    if header.miner.id().is_err() {
        return Err("block had non-ID miner address".into());
    }
    Ok(())
}
