//! Sending a chain message at most once, across crashes.
//!
//! Before a message is pushed, a fresh UUID is recorded durably; the push carries it as `MsgUuid`, and a
//! Lotus node that already signed a message with that UUID returns the same signed message instead of a new
//! one (lotus node/impl/full/mpool.go). After the push, the message CID is recorded too. A process that
//! crashes at any point and runs again therefore either finds the CID and only waits, or pushes again with
//! the same UUID and gets the same message back: the message reaches the chain once.
//!
//! Two calls make a step: [`push_journaled`] (the push, journaled) and [`check_landed`] (one look, no wait).
//! [`push_step`] makes both for a caller that comes back later (the operator's reconcile); [`push_once`] then
//! waits with StateWaitMsg (the CLI and the runtime).

use std::collections::BTreeMap;
use std::future::Future;

use cid::Cid;
use fvm_shared::message::Message;
use serde::{Deserialize, Serialize};

use crate::api::{FullNodeClient, LOOKBACK_NO_LIMIT};
use crate::client::Node;
use crate::error::ChainError;
use crate::json::LotusJson;
use crate::message::{MessageJson, MessageSendSpec};
use crate::node::MsgLookup;

/// One message's idempotency key and, once pushed, its CID.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PushRecord {
    /// The `MsgUuid` the message is pushed with.
    pub uuid: String,
    /// The signed message's CID, once the node accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
}

/// The messages of a multi-step operation, by step name.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct MessageLog(pub BTreeMap<String, PushRecord>);

impl MessageLog {
    /// Whether no message is logged.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl AsMut<MessageLog> for MessageLog {
    fn as_mut(&mut self) -> &mut MessageLog {
        self
    }
}

/// Durable storage for an operation's record: a file in the miner repo, or a custom resource's status.
/// `save` must not return before the record would survive a crash.
pub trait Journal<T> {
    /// Persists `record`.
    fn save(&mut self, record: &T) -> impl Future<Output = Result<(), ChainError>> + Send;
}

/// A journal that keeps nothing, for callers that need no crash safety.
pub struct NoJournal;

impl<T: Sync> Journal<T> for NoJournal {
    async fn save(&mut self, _record: &T) -> Result<(), ChainError> {
        Ok(())
    }
}

/// Gives each of `steps` that has no record yet a fresh UUID, so that one journal save covers the UUIDs of
/// several messages pushed one after another (each must be durable before its push). Returns whether any
/// record was added, that is whether a save is due. A step reserved and never pushed is pushed by
/// [`push_once`] as one that may have been.
pub fn reserve<'a>(log: &mut MessageLog, steps: impl IntoIterator<Item = &'a str>) -> bool {
    let mut added = false;
    for step in steps {
        log.0.entry(step.to_string()).or_insert_with(|| {
            added = true;
            PushRecord { uuid: uuid::Uuid::new_v4().to_string(), cid: None }
        });
    }
    added
}

/// Where a step's message stands after one look at the chain.
#[derive(Clone, Debug)]
pub enum Landing {
    /// Pushed (the CID), and not yet executed with the confidence epochs on top.
    Pending(Cid),
    /// Executed successfully with the confidence epochs on top: its lookup, with the receipt.
    Landed(MsgLookup),
}

/// Pushes `message` for `step` unless the log shows it was pushed, then looks once whether it executed with
/// `confidence` epochs on top ([`check_landed`]); fails on a non-zero exit code. Never waits for the chain:
/// a controller calls it again later, and [`push_once`] waits between calls.
pub async fn push_step<T, J>(
    node: &Node,
    record: &mut T,
    journal: &mut J,
    step: &str,
    message: &Message,
    confidence: u64,
) -> Result<Landing, ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    let cid = push_journaled(node, record, journal, step, message, &MessageSendSpec::default()).await?;
    check_landed(node, cid, step, confidence).await
}

/// One look at the message `cid`: [`Landing::Landed`] once it executed with `confidence` epochs on top of the
/// tipset that executed it (as StateWaitMsg counts them), [`ChainError::MessageFailed`] when it executed with
/// a non-zero exit code, [`Landing::Pending`] otherwise.
pub async fn check_landed(node: &Node, cid: Cid, what: &str, confidence: u64) -> Result<Landing, ChainError> {
    let Some(lookup) = search_landed(node, cid).await? else { return Ok(Landing::Pending(cid)) };
    let lookup = succeeded(lookup, cid, what)?;
    let head = node.api().chain_head().await.map_err(node.err())?;
    Ok(if head.height >= lookup.height.saturating_add(confidence as i64) {
        Landing::Landed(lookup)
    } else {
        Landing::Pending(cid)
    })
}

/// Pushes `message` for `step` unless the log shows it was pushed, then waits for it to execute with
/// `confidence` epochs on top and fails on a non-zero exit code. Returns the lookup with the receipt.
pub async fn push_once<T, J>(
    node: &Node,
    record: &mut T,
    journal: &mut J,
    step: &str,
    message: &Message,
    confidence: u64,
) -> Result<MsgLookup, ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    let landing = push_step(node, record, journal, step, message, confidence).await?;
    wait_landed(node, landing, step, confidence).await
}

/// The lookup of a [`Landing`], waiting (StateWaitMsg) for a pending message to land with `confidence`.
pub async fn wait_landed(node: &Node, landing: Landing, what: &str, confidence: u64) -> Result<MsgLookup, ChainError> {
    match landing {
        Landing::Landed(lookup) => Ok(lookup),
        Landing::Pending(cid) => wait_ok(node, cid, what, confidence).await,
    }
}

/// The journaled half of [`push_once`]: returns the CID of `step`'s message, pushing it first (with a UUID saved
/// before and the CID saved after) unless the log shows it was pushed. `spec` gives the fee limits; its
/// `MsgUuid` is the step's. Does not wait: [`search_landed`] says whether it executed.
pub async fn push_journaled<T, J>(
    node: &Node,
    record: &mut T,
    journal: &mut J,
    step: &str,
    message: &Message,
    spec: &MessageSendSpec,
) -> Result<Cid, ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    let existing = record.as_mut().0.get(step).cloned();
    match existing {
        Some(PushRecord { cid: Some(cid), .. }) => parse_cid(&cid),
        existing => {
            let uuid = match existing {
                Some(entry) => entry.uuid,
                None => {
                    let uuid = uuid::Uuid::new_v4().to_string();
                    record.as_mut().0.insert(step.to_string(), PushRecord { uuid: uuid.clone(), cid: None });
                    journal.save(record).await?;
                    uuid
                }
            };
            let spec = MessageSendSpec { msg_uuid: uuid.clone(), ..spec.clone() };
            let signed = node
                .api()
                .mpool_push_message(MessageJson::from_message(message), Some(spec))
                .await
                .map_err(node.err())?;
            let cid = signed.cid.0;
            tracing::info!(step, %cid, nonce = signed.message.nonce, "pushed message");
            record.as_mut().0.insert(step.to_string(), PushRecord { uuid, cid: Some(cid.to_string()) });
            journal.save(record).await?;
            Ok(cid)
        }
    }
}

/// Whether the message `cid` (or one that replaced it: same sender and nonce) executed: its lookup, or `None`
/// while it has not. Does not wait.
pub async fn search_landed(node: &Node, cid: Cid) -> Result<Option<MsgLookup>, ChainError> {
    let search = node.api().state_search_msg(crate::json::TipSetKey::head(), LotusJson(cid), LOOKBACK_NO_LIMIT, true);
    search.await.map_err(node.err())
}

/// Forgets `step`'s record when its message executed successfully and yet the chain no longer shows what it
/// set (`shown` is false): something replaced that since (A, then B, then A again), so a new message is due
/// and [`push_once`] sends one. A message not executed yet keeps its record (pushing again could land
/// twice), and so does a failed one (its error stands until someone acts; a resend would fail again).
pub async fn forget_if_replaced<T, J>(
    node: &Node,
    record: &mut T,
    journal: &mut J,
    step: &str,
    shown: bool,
) -> Result<(), ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    if shown {
        return Ok(());
    }
    let executed = |lookup: &MsgLookup| lookup.receipt.exit_code == 0;
    if let Some(cid) = forget_if_landed(node, record, journal, step, executed).await? {
        tracing::info!(step, %cid, "the chain no longer shows what this message set: a new one is due");
    }
    Ok(())
}

/// Forgets `step`'s record when its message executed and `forget` holds for its lookup; returns the forgotten
/// message's CID. A message not executed yet (or not pushed) keeps its record.
pub async fn forget_if_landed<T, J>(
    node: &Node,
    record: &mut T,
    journal: &mut J,
    step: &str,
    forget: impl FnOnce(&MsgLookup) -> bool,
) -> Result<Option<Cid>, ChainError>
where
    T: AsMut<MessageLog> + Sync,
    J: Journal<T>,
{
    let Some(cid) = record.as_mut().0.get(step).and_then(|r| r.cid.clone()) else { return Ok(None) };
    let cid = parse_cid(&cid)?;
    if !search_landed(node, cid).await?.is_some_and(|lookup| forget(&lookup)) {
        return Ok(None);
    }
    record.as_mut().0.remove(step);
    journal.save(record).await?;
    Ok(Some(cid))
}

/// Waits for a message and fails with [`ChainError::MessageFailed`] on a non-zero exit code.
pub async fn wait_ok(node: &Node, cid: Cid, what: &str, confidence: u64) -> Result<MsgLookup, ChainError> {
    let lookup =
        node.api().state_wait_msg(LotusJson(cid), confidence, LOOKBACK_NO_LIMIT, true).await.map_err(node.err())?;
    succeeded(lookup, cid, what)
}

/// `lookup`, or [`ChainError::MessageFailed`] when its message (`cid`, for `what`) exited with a non-zero code.
fn succeeded(lookup: MsgLookup, cid: Cid, what: &str) -> Result<MsgLookup, ChainError> {
    match lookup.receipt.exit_code {
        0 => Ok(lookup),
        exit_code => Err(ChainError::MessageFailed { cid: cid.to_string(), what: what.to_string(), exit_code }),
    }
}

pub fn parse_cid(text: &str) -> Result<Cid, ChainError> {
    Cid::try_from(text)
        .map_err(|e| ChainError::Decode { what: format!("recorded message CID {text:?}"), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_adds_a_uuid_only_to_steps_without_a_record() {
        let mut log = MessageLog::default();
        log.0.insert("a".into(), PushRecord { uuid: "kept".into(), cid: Some("bafy".into()) });
        assert!(reserve(&mut log, ["a", "b", "c"]));
        assert_eq!(log.0["a"], PushRecord { uuid: "kept".into(), cid: Some("bafy".into()) });
        assert!(log.0["b"].cid.is_none() && log.0["c"].cid.is_none());
        assert_ne!(log.0["b"].uuid, log.0["c"].uuid, "a UUID per message");
        let before = log.clone();
        assert!(!reserve(&mut log, ["b", "c"]), "nothing new: no save due");
        assert_eq!(log, before);
    }
}
