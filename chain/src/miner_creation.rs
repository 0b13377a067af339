//! On-chain miner creation: what `lotus-miner init` does (lotus cli/miner/init.go createStorageMiner), as one
//! crash-safe function shared by `sealstack-miner init` and the operator's Miner controller.
//!
//! Steps: owner (given, or the wallet default) → worker (given, a new BLS key, or the owner) → the sender must
//! exist on chain → worker and owner get an account actor by a 0-value send when they have none → CreateMiner
//! to the power actor with the creation deposit (× margin) → the new actor's addresses from the return value.
//! The choices (owner, worker) and every message's UUID are saved through a [`Journal`] in one save before the
//! first push, and each message's CID right after its push, so a rerun after a crash continues where the last
//! run stopped and sends no message twice (see [`crate::push`]). The new actor's addresses are not saved: a
//! rerun reads them back from the recorded CreateMiner.

use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use fvm_shared::sector::SectorSize;
use serde::{Deserialize, Serialize};

use crate::actors::{self, methods};
use crate::api::FullNodeClient;
use crate::client::Node;
use crate::error::ChainError;
use crate::json::{LotusJson, TipSetKey, parse_address};
use crate::message::unsigned_message;
use crate::push::{Journal, Landing, MessageLog, push_step, reserve};

/// What to create.
#[derive(Clone, Debug)]
pub struct CreateMinerRequest {
    /// The owner; the wallet's default address when `None`.
    pub owner: Option<Address>,
    /// The worker; see `create_worker_key`. Must be (or become) a BLS account.
    pub worker: Option<Address>,
    /// Create a new BLS worker key in the node's wallet when no worker is given.
    pub create_worker_key: bool,
    /// Who pays for account creation and CreateMiner; the owner when `None`.
    pub sender: Option<Address>,
    /// The sector size, which fixes the WindowPoSt proof type.
    pub sector_size: SectorSize,
    /// The libp2p peer ID bytes.
    pub peer_id: Vec<u8>,
    /// Binary multiaddrs to announce from the start.
    pub multiaddrs: Vec<Vec<u8>>,
    /// Gas premium in attoFIL; 0 lets the node estimate.
    pub gas_premium: TokenAmount,
    /// FIL sent from the sender to the worker with the account-creating send, so the worker can pay for its
    /// own messages (set-addrs, PreCommit, PoSt). `lotus-miner init` sends 0 and leaves funding to the user;
    /// with a non-zero amount the send happens even when the worker already exists.
    pub worker_funding: TokenAmount,
    /// Multiplier on StateMinerCreationDeposit (lotus-miner's `--deposit-margin-factor`, default 1.01).
    pub deposit_margin_factor: f64,
    /// Epochs to wait on top of each message (Lotus's build.MessageConfidence is 5).
    pub confidence: u64,
}

impl CreateMinerRequest {
    /// A request with lotus-miner's defaults for the given sector size and peer ID.
    pub fn new(sector_size: SectorSize, peer_id: Vec<u8>) -> Self {
        CreateMinerRequest {
            owner: None,
            worker: None,
            create_worker_key: false,
            sender: None,
            sector_size,
            peer_id,
            multiaddrs: Vec::new(),
            gas_premium: TokenAmount::from_atto(0),
            worker_funding: TokenAmount::from_atto(0),
            deposit_margin_factor: 1.01,
            confidence: 5,
        }
    }
}

/// Progress of a creation, saved after every step.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreationRecord {
    /// The owner chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The worker chosen (or created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The messages pushed, by step (`fund-worker`, `fund-owner`, `create-miner`).
    #[serde(default, skip_serializing_if = "MessageLog::is_empty")]
    pub messages: MessageLog,
    /// The new miner's ID address, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_address: Option<String>,
    /// The new miner's robust (f2) address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub robust_address: Option<String>,
}

impl AsMut<MessageLog> for CreationRecord {
    fn as_mut(&mut self) -> &mut MessageLog {
        &mut self.messages
    }
}

/// The step names used in [`CreationRecord::messages`].
pub mod steps {
    /// The 0-value send that creates the worker's account actor.
    pub const FUND_WORKER: &str = "fund-worker";
    /// The 0-value send that creates the owner's account actor.
    pub const FUND_OWNER: &str = "fund-owner";
    /// power.CreateMiner.
    pub const CREATE_MINER: &str = "create-miner";
}

/// A miner created on chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedMiner {
    /// Its ID address (`t01000`).
    pub id_address: Address,
    /// Its robust address (`t2...`).
    pub robust_address: Address,
    /// The owner, as given or chosen.
    pub owner: Address,
    /// The worker, as given or created.
    pub worker: Address,
}

/// How far one call of [`advance_creation`] got.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant, reason = "a return value, moved once; never stored in bulk")]
pub enum CreationProgress {
    /// The actor exists.
    Created(CreatedMiner),
    /// `step`'s message (`cid`) is pushed and has not landed with the request's confidence yet.
    Waiting {
        /// The step waited for ([`steps`]).
        step: &'static str,
        /// Its message.
        cid: Cid,
    },
}

/// Creates a miner, or finishes a creation that `record` shows was started, waiting for each message (the
/// CLI's `init`). Returns at once when the record already holds the new actor.
pub async fn create_miner<J: Journal<CreationRecord>>(
    node: &Node,
    request: &CreateMinerRequest,
    record: &mut CreationRecord,
    journal: &mut J,
) -> Result<CreatedMiner, ChainError> {
    loop {
        match advance_creation(node, request, record, journal).await? {
            CreationProgress::Created(created) => return Ok(created),
            CreationProgress::Waiting { step, cid } => {
                crate::push::wait_ok(node, cid, step, request.confidence).await?;
            }
        }
    }
}

/// Takes a creation as far as it goes without waiting for the chain: each step's message is pushed once
/// (journaled), and the next step starts only when the last one landed. Called again, it picks up where
/// `record` stands (a controller's reconcile: it never holds a slot while a message waits for its block).
pub async fn advance_creation<J: Journal<CreationRecord>>(
    node: &Node,
    request: &CreateMinerRequest,
    record: &mut CreationRecord,
    journal: &mut J,
) -> Result<CreationProgress, ChainError> {
    let api = node.api();
    // The choices below are saved together with the first message's UUID (one journal write, see
    // `reserve`): the owner and sender lookups are reads, made again after a crash before that save.
    let mut chosen = false;
    let owner = match stored(&record.owner)? {
        Some(owner) => owner,
        None => {
            let owner = match request.owner {
                Some(owner) => owner,
                None => api.wallet_default_address().await.map_err(node.err())?.0,
            };
            record.owner = Some(owner.to_string());
            chosen = true;
            owner
        }
    };
    let worker = match stored(&record.worker)? {
        Some(worker) => worker,
        None => {
            // A crash after WalletNew and before the save leaves that key unused in the node's wallet (it holds
            // nothing and nothing was sent for it); the rerun makes another.
            let worker = match request.worker {
                Some(worker) => worker,
                None if request.create_worker_key => api.wallet_new("bls".to_string()).await.map_err(node.err())?.0,
                None => owner,
            };
            tracing::info!(%owner, %worker, "miner keys");
            record.worker = Some(worker.to_string());
            chosen = true;
            worker
        }
    };
    if let (Some(id), Some(robust)) = (stored(&record.id_address)?, stored(&record.robust_address)?) {
        return Ok(CreationProgress::Created(CreatedMiner { id_address: id, robust_address: robust, owner, worker }));
    }

    let sender = request.sender.unwrap_or(owner);
    if record.messages.0.is_empty() {
        api.state_lookup_id(LotusJson(sender), TipSetKey::head()).await.map_err(|e| match node.err()(e) {
            ChainError::Rpc { message, .. } => ChainError::Rpc {
                code: 1,
                message: format!("sender {sender} has no actor on chain (fund it first): {message}"),
            },
            other => other,
        })?;
    }

    // Account actors for worker and owner (CreateMiner needs the worker's BLS key on chain). A step already
    // in the record is pushed (again, with its UUID: the node returns the message it signed then).
    let mut accounts = vec![(steps::FUND_WORKER, worker, request.worker_funding.clone())];
    if owner != worker {
        accounts.push((steps::FUND_OWNER, owner, TokenAmount::from_atto(0)));
    }
    let mut sends = Vec::new();
    for (step, address, value) in accounts {
        let pushed = record.messages.0.contains_key(step);
        if pushed || !value.is_zero() || !has_actor(node, address).await? {
            sends.push((step, address, value));
        }
    }
    // Every message's UUID, with the choices above, in one save before the first push.
    let new_keys = reserve(&mut record.messages, sends.iter().map(|(step, ..)| *step).chain([steps::CREATE_MINER]));
    if chosen || new_keys {
        journal.save(record).await?;
    }
    for (step, address, value) in sends {
        tracing::info!(%address, value = %value.atto(), "sending to create the account actor (and fund it)");
        let send = message(sender, address, value, methods::SEND, Default::default(), request);
        if let Landing::Pending(cid) = push_step(node, record, journal, step, &send, request.confidence).await? {
            return Ok(CreationProgress::Waiting { step, cid });
        }
    }

    let params = actors::create_miner_params(
        owner,
        worker,
        actors::window_post_proof(request.sector_size),
        request.peer_id.clone(),
        request.multiaddrs.clone(),
    );
    // Computed again on a rerun: if the first push never reached the node, this one must carry the deposit;
    // if it did, the node returns the message it signed then (same UUID) and ignores this one.
    let deposit = api.state_miner_creation_deposit(TipSetKey::head()).await.map_err(node.err())?.0;
    let deposit = with_margin(&deposit, request.deposit_margin_factor);
    let create = message(sender, actors::STORAGE_POWER_ACTOR, deposit, methods::CREATE_MINER, params, request);
    let lookup = match push_step(node, record, journal, steps::CREATE_MINER, &create, request.confidence).await? {
        Landing::Landed(lookup) => lookup,
        Landing::Pending(cid) => return Ok(CreationProgress::Waiting { step: steps::CREATE_MINER, cid }),
    };
    let (id_address, robust_address) = actors::decode_create_miner_return(&lookup.receipt.return_data)
        .map_err(|e| ChainError::Decode { what: "CreateMinerReturn".into(), reason: e.to_string() })?;
    tracing::info!(%id_address, %robust_address, "miner created");
    // Not saved here: a rerun reads the same addresses back from the recorded CreateMiner message, so the
    // caller keeps the returned record with whatever it writes next.
    record.id_address = Some(id_address.to_string());
    record.robust_address = Some(robust_address.to_string());
    Ok(CreationProgress::Created(CreatedMiner { id_address, robust_address, owner, worker }))
}

/// Whether an address has an actor (Lotus treats any StateLookupID error as "no").
async fn has_actor(node: &Node, address: Address) -> Result<bool, ChainError> {
    match node.api().state_lookup_id(LotusJson(address), TipSetKey::head()).await.map_err(node.err()) {
        Ok(_) => Ok(true),
        Err(ChainError::Rpc { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// A message from `from` with the request's gas premium.
fn message(
    from: Address,
    to: Address,
    value: TokenAmount,
    method_num: u64,
    params: fvm_ipld_encoding::RawBytes,
    request: &CreateMinerRequest,
) -> Message {
    Message { gas_premium: request.gas_premium.clone(), ..unsigned_message(from, to, value, method_num, params) }
}

/// `deposit × factor`, computed in parts per million to stay in integers.
fn with_margin(deposit: &TokenAmount, factor: f64) -> TokenAmount {
    let ppm = (factor.max(1.0) * 1_000_000.0).round() as u64;
    TokenAmount::from_atto(deposit.atto() * ppm / 1_000_000u64)
}

fn stored(text: &Option<String>) -> Result<Option<Address>, ChainError> {
    text.as_deref()
        .map(|t| {
            parse_address(t)
                .map_err(|e| ChainError::Decode { what: format!("recorded address {t:?}"), reason: e.to_string() })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_rounds_down_in_attofil() {
        let deposit = TokenAmount::from_atto(5_937_181_320u64);
        assert_eq!(with_margin(&deposit, 1.01).atto().to_string(), "5996553133");
        assert_eq!(with_margin(&deposit, 0.5), deposit, "a factor below 1 never lowers the deposit");
    }

    #[test]
    fn record_serialises_compactly() {
        let mut record = CreationRecord { owner: Some("t01000".into()), ..Default::default() };
        record.messages.0.insert(steps::CREATE_MINER.into(), crate::push::PushRecord { uuid: "u".into(), cid: None });
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            serde_json::json!({"owner": "t01000", "messages": {"create-miner": {"uuid": "u"}}})
        );
    }
}
