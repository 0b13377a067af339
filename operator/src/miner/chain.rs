//! The Miner controller's chain side: the full node's API info named by the Miner, creating the actor
//! with its progress journaled in the Miner's status, and publishing the announce addresses. Neither waits for
//! the chain: each pushes what is due (once, journaled) and says what has not landed yet; the reconcile
//! shows it (`WaitingForMessage`) and comes back about one block time later.

use std::collections::BTreeMap;

use fvm_shared::address::Address;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource};
use sealstack_chain::miner_actor::{change_multiaddrs, change_peer_id};
use sealstack_chain::miner_creation::{CreateMinerRequest, CreationProgress, CreationRecord, advance_creation};
use sealstack_chain::push::{Journal, Landing, MessageLog};
use sealstack_chain::{ApiInfo, ChainError, Node};
use sealstack_crds::Miner;

use super::runtime::api_info_digest;
use crate::context::Context;
use crate::error::{Error, Result};

/// The full node's API info in the Secret the Miner names (`secret`: that Secret, when it exists), and the
/// [`api_info_digest`] of the Secret's value.
pub fn api_info(miner: &Miner, secret: Option<&Secret>) -> Result<(ApiInfo, String)> {
    let reference = &miner.spec.full_node.api_info_secret_ref;
    let secret = secret.ok_or_else(|| Error::MissingDependency { kind: "Secret", name: reference.name.clone() })?;
    let value = secret.data.as_ref().and_then(|d| d.get(&reference.key)).ok_or_else(|| {
        Error::InvalidSpec(format!(
            "spec.fullNode.apiInfoSecretRef: Secret {} has no key {}",
            reference.name, reference.key
        ))
    })?;
    let text = String::from_utf8_lossy(&value.0).trim().to_string();
    let info = ApiInfo::parse(&text).map_err(|e| Error::InvalidSpec(format!("spec.fullNode.apiInfoSecretRef: {e}")))?;
    Ok((info, api_info_digest(&value.0)))
}

/// The full node's API info the Miner names, read from its Secret through the operator's watches (a
/// dereference: no request at rest), and the [`api_info_digest`] of the Secret's value.
pub async fn full_node_api_info(ctx: &Context, miner: &Miner, namespace: &str) -> Result<(ApiInfo, String)> {
    let name = &miner.spec.full_node.api_info_secret_ref.name;
    let secret = crate::secrets::read(&ctx.stores, &ctx.client, namespace, name).await?;
    api_info(miner, secret.as_deref())
}

/// The chain journal's footing within one reconcile: each write is conditioned on the Miner's `resourceVersion`
/// as last read or written, so a write from a stale copy of the Miner gets a conflict instead of overwriting a
/// newer record (and the reconcile then writes no status either: the next one works from the newer Miner).
#[derive(Clone, Debug, Default)]
pub struct JournalGuard {
    /// The `resourceVersion` the next write is conditioned on.
    pub resource_version: Option<String>,
    /// A write met a newer Miner.
    pub conflicted: bool,
}

/// Saves chain progress into one field of the Miner's status with a merge patch conditioned on the guard's
/// `resourceVersion`: when `save` returns, the record is in etcd. Each newly pushed message gets an Event and a
/// metric.
struct StatusJournal<'a> {
    api: Api<Miner>,
    miner: &'a Miner,
    ctx: &'a Context,
    field: &'static str,
    guard: &'a mut JournalGuard,
    seen: BTreeMap<String, Option<String>>,
}

impl<'a> StatusJournal<'a> {
    fn new(
        ctx: &'a Context,
        miner: &'a Miner,
        field: &'static str,
        guard: &'a mut JournalGuard,
        log: &MessageLog,
    ) -> Self {
        let api = Api::namespaced(ctx.client.clone(), miner.meta().namespace.as_deref().unwrap_or_default());
        let seen = log.0.iter().map(|(step, record)| (step.clone(), record.cid.clone())).collect();
        StatusJournal { api, miner, ctx, field, guard, seen }
    }

    async fn save_json(&mut self, value: serde_json::Value, messages: &MessageLog) -> Result<(), ChainError> {
        if let Some(step) = &self.ctx.settings.fail_before_saving
            && messages.0.get(step).is_some_and(|m| m.cid.is_some())
            && !self.ctx.fault_fired.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            // The operator "dies": this reconcile never finishes and records nothing more.
            tracing::warn!(step, "injected failure: the message was pushed, its CID is not recorded");
            std::future::pending::<()>().await;
        }
        let name = self.miner.meta().name.clone().unwrap_or_default();
        // A merge patch of this one field: the reconcile's server-side apply of the whole status comes later.
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": self.guard.resource_version },
            "status": { self.field: value },
        });
        let written = match self.api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(written) => written,
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.guard.conflicted = true;
                return Err(ChainError::Client(format!(
                    "the Miner changed since this reconcile read it ({}): its chain progress is taken up again from \
                     the newer Miner",
                    status.message
                )));
            }
            Err(e) => return Err(ChainError::Client(format!("cannot record chain progress in the Miner status: {e}"))),
        };
        self.guard.resource_version = written.meta().resource_version.clone();
        self.ctx.own_writes.miners.record(self.miner, written);
        for (step, record) in &messages.0 {
            if record.cid.is_some() && self.seen.get(step) != Some(&record.cid) {
                self.seen.insert(step.clone(), record.cid.clone());
                let cid = record.cid.clone().unwrap_or_default();
                self.ctx.metrics.chain_message(step_method(step), "pushed");
                let event = Event {
                    type_: EventType::Normal,
                    reason: "ChainMessagePushed".into(),
                    note: Some(format!("{step}: message {cid}")),
                    action: step.clone(),
                    secondary: None,
                };
                let _ = self.ctx.events.publish_once(&event, &self.miner.object_ref(&())).await;
            }
        }
        Ok(())
    }
}

/// The metric label of a step.
fn step_method(step: &str) -> &'static str {
    match step {
        s if s.starts_with("fund-") => "Send",
        "create-miner" => "CreateMiner",
        s if s.starts_with("change-multiaddrs") => "ChangeMultiaddrs",
        s if s.starts_with("change-peer-id") => "ChangePeerID",
        _ => "other",
    }
}

impl Journal<CreationRecord> for StatusJournal<'_> {
    async fn save(&mut self, record: &CreationRecord) -> Result<(), ChainError> {
        self.save_json(serde_json::to_value(record).expect("serialises"), &record.messages).await
    }
}

impl Journal<MessageLog> for StatusJournal<'_> {
    async fn save(&mut self, record: &MessageLog) -> Result<(), ChainError> {
        self.save_json(serde_json::to_value(record).expect("serialises"), record).await
    }
}

/// Takes the actor's creation as `request` asks (from the validated spec) one step further without waiting for
/// the chain ([`advance_creation`]), with `record` (the status's `creation`) journaled in place.
pub async fn advance(
    node: &Node,
    miner: &Miner,
    request: &CreateMinerRequest,
    record: &mut CreationRecord,
    guard: &mut JournalGuard,
    ctx: &Context,
) -> Result<CreationProgress> {
    let mut journal = StatusJournal::new(ctx, miner, "creation", guard, &record.messages);
    Ok(advance_creation(node, request, record, &mut journal).await?)
}

/// Sends ChangeMultiaddrs (when `multiaddrs` is given) and ChangePeerID (when `peer_id` is), each once, with
/// `log` (the status's `addressMessages`) journaled in place. Does not wait: returns a message that has not
/// landed yet (its step and CID), `None` when all did.
#[allow(clippy::too_many_arguments)]
pub async fn publish(
    node: &Node,
    miner: &Miner,
    log: &mut MessageLog,
    guard: &mut JournalGuard,
    ctx: &Context,
    actor: Address,
    multiaddrs: Option<&[multiaddr::Multiaddr]>,
    peer_id: Option<&[u8]>,
) -> Result<Option<(&'static str, String)>> {
    let mut journal = StatusJournal::new(ctx, miner, "addressMessages", guard, log);
    let confidence = u64::from(miner.spec.confidence);
    let mut pending = None;
    if let Some(addrs) = multiaddrs
        && let Landing::Pending(cid) = change_multiaddrs(node, actor, addrs, log, &mut journal, confidence).await?
    {
        pending = Some(("ChangeMultiaddrs", cid.to_string()));
    }
    if let Some(peer) = peer_id
        && let Landing::Pending(cid) = change_peer_id(node, actor, peer, log, &mut journal, confidence).await?
    {
        pending = pending.or(Some(("ChangePeerID", cid.to_string())));
    }
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::testing::miner_with as miner;

    #[test]
    fn the_api_info_comes_from_the_named_key_of_the_secret() {
        let secret = |key: &str, value: &str| Secret {
            data: Some([(key.to_string(), k8s_openapi::ByteString(value.as_bytes().to_vec()))].into()),
            ..Secret::default()
        };
        let m = miner(json!({}));
        let value = "tok:/ip4/10.0.0.5/tcp/1234/http\n";
        let (info, digest) = api_info(&m, Some(&secret("FULLNODE_API_INFO", value))).unwrap();
        assert_eq!((info.token.as_deref(), info.base_url.as_str()), (Some("tok"), "http://10.0.0.5:1234"));
        assert_eq!(digest, api_info_digest(value.as_bytes()), "of the value the runtime pod gets, as it is");
        let missing = api_info(&m, None).unwrap_err();
        assert!(matches!(&missing, Error::MissingDependency { kind: "Secret", name } if name == "lotus"), "{missing}");
        assert!(!missing.waits_for_change(), "a missing Secret is looked for again");
        let no_key = api_info(&m, Some(&secret("OTHER", "x"))).unwrap_err();
        assert!(no_key.to_string().contains("has no key FULLNODE_API_INFO"), "{no_key}");
        let other_key = miner(json!({"fullNode": {"apiInfoSecretRef": {"name": "lotus", "key": "OTHER"}}}));
        assert!(api_info(&other_key, Some(&secret("OTHER", "tok:/dns/lotus/tcp/1234/http"))).is_ok());
        assert!(matches!(api_info(&m, Some(&secret("FULLNODE_API_INFO", "nonsense"))), Err(Error::InvalidSpec(_))));
    }

    #[tokio::test]
    async fn the_journal_writes_on_the_version_it_read_and_stops_at_a_newer_one() {
        use crate::testing;
        let m = miner(json!({}));
        let (client, made) = testing::client(|request| {
            let mut reply = json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
                "metadata": {"name": "m1", "namespace": "sp", "resourceVersion": "8"},
                "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                         "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}}});
            reply["status"] = request.body["status"].clone();
            match request.body["metadata"]["resourceVersion"].as_str() {
                Some("7") => (200, reply),
                _ => (
                    409,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict",
                    "code": 409, "message": "the object has been modified"}),
                ),
            }
        });
        let (ctx, _) = Context::new(client, Default::default(), Default::default());
        let mut guard = JournalGuard { resource_version: Some("7".into()), conflicted: false };
        let mut log = MessageLog::default();
        log.0.insert("change-peer-id-1".into(), sealstack_chain::push::PushRecord { uuid: "u".into(), cid: None });
        let mut journal = StatusJournal::new(&ctx, &m, "addressMessages", &mut guard, &MessageLog::default());
        journal.save(&log).await.unwrap();
        let again = journal.save(&log).await.unwrap_err();
        assert!(again.to_string().contains("changed since this reconcile read it"), "{again}");
        assert_eq!((guard.resource_version.as_deref(), guard.conflicted), (Some("8"), true));
        let made = made.lock().unwrap().clone();
        assert_eq!(made[0].body["status"]["addressMessages"]["change-peer-id-1"]["uuid"], "u");
        assert_eq!(made[1].body["metadata"]["resourceVersion"], "8", "the version the first write made");
    }

    #[test]
    fn steps_have_their_metric_labels() {
        assert_eq!(step_method("change-multiaddrs-0123"), "ChangeMultiaddrs");
        assert_eq!(step_method("fund-worker"), "Send");
    }
}
