//! Reconciling one Miner, as one pipeline: validate the spec ([`super::validate`]: a refused one is said in
//! `SpecValid` before anything is read or written) -> dereference (the ParamCache, the full node's API info) ->
//! build and apply the identity and API Secrets and the Services -> the actor on chain (connect, create or
//! adopt) -> the runtime -> the addresses announced on chain. Each step records its condition as it goes and
//! may stop the run early (a ParamCache not Ready) or fail; every exit then takes the same way out (`finish`):
//! `Ready` summed up from the step conditions ([`status::ready`]), and one status write when something changed.

use std::sync::Arc;
use std::time::Duration;

use fvm_shared::address::Address;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::core::object::HasStatus;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use libp2p_identity::PeerId;
use sealstack_chain::miner::MinerInfo;
use sealstack_chain::miner_creation::{CreateMinerRequest, CreationProgress, CreationRecord};
use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_crds::Miner;
use sealstack_crds::conditions::status::{FALSE, TRUE};
use sealstack_crds::conditions::types::{
    ACTOR_CREATED, ADDRESSES_PUBLISHED, DISRUPTION_ALLOWED, PARAMS_READY, PROVING, READY, ROLLOUT_PENDING,
    RUNTIME_READY, SPEC_VALID,
};
use sealstack_crds::conditions::{find_condition, set_condition};
use sealstack_crds::miner::MinerStatus;
use tracing::{info, instrument, warn};

use super::announce::{Announce, announce, needs_node};
use super::blocks;
use super::chain::{JournalGuard, advance, full_node_api_info, publish};
use super::children::{apply_services, ensure_api_secret, identity};
use super::disruption;
use super::long_term;
use super::proving;
use super::runtime::{RuntimeInputs, build_runtime_stateful_set};
use super::runtime_node::{runtime_node, runtime_trouble};
use super::status::{self, Observed};
use super::validate::{ActorSource, ValidSpec, validate};
use crate::apply::{apply, needs_apply, stamped};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::status_write::write_status;
use crate::stores::lookup;

/// How often a Miner is compared with the chain again when nothing it waits for is on chain: what it waits for
/// in Kubernetes (its runtime pod, the Service's address, the node's) comes with the watches.
const WHEN_SETTLED: Duration = Duration::from_secs(60);
/// How often a Miner waiting for its ParamCache, or with faulty sectors (a recovery should show as soon as it
/// lands), is looked at.
const WHILE_WAITING: Duration = Duration::from_secs(10);

/// Brings one Miner's actor, children, on-chain addresses and status in line with its spec.
#[instrument(skip_all, fields(miner = %miner.name_any(), namespace = miner.namespace().unwrap_or_default()))]
pub async fn reconcile(miner: Arc<Miner>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = miner.namespace().ok_or_else(|| Error::InvalidObject("Miner without namespace".into()))?;
    // The store may not show this operator's last status write (or the chain journal's) yet.
    let api: Api<Miner> = Api::namespaced(ctx.client.clone(), &namespace);
    let Some(miner) = ctx.own_writes.miners.current(&api, miner).await? else {
        return Ok(Action::await_change());
    };
    let previous = miner.status().cloned().unwrap_or_default();
    let mut progress = Progress::new(&previous, miner.meta().generation);
    progress.journal.resource_version = miner.meta().resource_version.clone();
    let outcome = steps(&ctx, &miner, &namespace, &mut progress).await;
    finish(&ctx, &miner, &previous, progress, outcome).await
}

/// The status a reconcile builds, step by step.
struct Progress {
    status: MinerStatus,
    generation: Option<i64>,
    /// The chain journal's writes (`creation`, `addressMessages` go straight to the stored status, and are
    /// kept in `status` as written): conditioned on the Miner's `resourceVersion`.
    journal: JournalGuard,
}

impl Progress {
    fn new(previous: &MinerStatus, generation: Option<i64>) -> Self {
        let status = MinerStatus { observed_generation: generation, ..previous.clone() };
        Self { status, generation, journal: JournalGuard::default() }
    }

    fn condition(&mut self, type_: &str, (s, reason, message): Observed) {
        let now = Time(Timestamp::now());
        set_condition(&mut self.status.conditions, type_, s, &reason, message, self.generation, now);
    }

    /// Records a failed step in its condition, and passes the error on.
    fn failed(&mut self, type_: &str, reason: &str, error: Error) -> Error {
        self.condition(type_, (FALSE, reason.to_owned(), error.to_string()));
        error
    }
}

/// The steps, in order; each records its condition in `progress`. `Ok` also when the run stops early to wait.
async fn steps(ctx: &Context, miner: &Miner, namespace: &str, progress: &mut Progress) -> Result<Action> {
    // Validate the spec alone: a refused one fails before anything is read or written.
    let valid = match validate(miner) {
        Ok(valid) => valid,
        Err(error) => return Err(progress.failed(SPEC_VALID, &error.reason(), error)),
    };
    progress.condition(SPEC_VALID, status::spec_valid());

    // Dereference, from the operator's watches: the ParamCache (the runtime proves with its parameters) and the
    // full node's API info. Neither there: nothing is written.
    let (params_claim, params_ready) = match crate::param_cache::of_miner(ctx, namespace, miner).await {
        Ok(found) => found,
        Err(error) => return Err(progress.failed(PARAMS_READY, &error.reason(), error)),
    };
    progress.condition(PARAMS_READY, status::params_ready(&miner.spec.param_cache_ref.name, params_ready));
    let (api_info, api_info_digest) = match full_node_api_info(ctx, miner, namespace).await {
        Ok(found) => found,
        Err(error) => return Err(full_node_failed(ctx, miner, namespace, &valid, error, progress).await),
    };

    // Build and apply what needs nothing from the chain: the libp2p identity and the daemon's API secret (both
    // made once), the Services.
    let peer = identity(ctx, miner, namespace).await?;
    progress.status.peer_id = Some(peer.to_base58());
    ensure_api_secret(ctx, miner, namespace).await?;
    let p2p = apply_services(ctx, miner, namespace).await?;
    long_term::apply_store_claims(ctx, miner, namespace).await?;
    progress.status.storage = Some(long_term::observed(ctx, miner, namespace).await?);
    if !params_ready {
        return Ok(Action::requeue(WHILE_WAITING));
    }

    // The actor on chain.
    let node = match ctx.full_nodes.connect(&api_info).await {
        Ok(node) => node,
        Err(error) => return Err(full_node_failed(ctx, miner, namespace, &valid, error.into(), progress).await),
    };
    let Some(actor) = actor(ctx, miner, &node, &valid.actor, &peer, progress).await? else {
        // A creation message pushed and not landed: looked at again about one block time later.
        return Ok(Action::requeue(block_time(&node)));
    };
    let info = node.api().state_miner_info(LotusJson(actor), TipSetKey::head()).await.map_err(node.err())?;
    progress.status.actor_address = Some(actor.to_string());
    progress.status.owner_address = Some(info.owner.to_string());
    progress.status.worker_address = Some(info.worker.to_string());
    progress.condition(ACTOR_CREATED, (TRUE, "ActorOnChain".into(), format!("miner actor {actor}")));

    // Power, faults, schedule and funds, as the chain shows them now. While sectors are faulty, they are looked
    // at as often as a step in progress: a recovery should show as soon as it lands.
    let proving = match proving::read(&node, actor, &info).await {
        Ok(view) => {
            let (power, sectors, schedule, balances) = proving::summarise(&view);
            progress.status.power = Some(power);
            progress.status.sectors = Some(sectors);
            progress.status.proving = schedule;
            progress.status.balances = Some(balances);
            proving::proving_condition(&view)
        }
        Err(error) => (FALSE, "ChainError".into(), format!("reading the proving state: {error}")),
    };
    let proven = proving.1 == "AllProven" || proving.1 == "NoSectors";
    progress.condition(PROVING, proving);

    // The deadline gate: the runtime's PodDisruptionBudget follows the proving schedule, and so do the
    // operator's own rollouts of the runtime.
    let has_sectors = progress.status.sectors.as_ref().is_none_or(|s| s.live > 0);
    let schedule = disruption::read_schedule(&node, actor, has_sectors).await.map_err(|e| e.to_string());
    let (gate, recheck) = deadline_gate(ctx, miner, namespace, schedule, &valid, progress).await?;

    // The runtime, for this actor and the API info just read (a change rolls its pod, unless the gate holds).
    let inputs = RuntimeInputs {
        default_image: ctx.settings.runtime_image.clone(),
        params_claim,
        actor: Some(actor.to_string()),
        api_info_digest: Some(api_info_digest),
    };
    let runtime = apply_runtime(ctx, miner, namespace, &inputs, &gate, progress).await?;
    let ready_replicas = runtime.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    let previous_ready = find_condition(&progress.status.conditions, RUNTIME_READY).cloned();
    let mut observed = status::runtime_ready_after(&runtime.name_any(), ready_replicas, previous_ready.as_ref());
    if observed.0 == FALSE {
        crate::pod_trouble::append(&mut observed.2, runtime_trouble(&ctx.stores, miner).await?);
    }
    if observed.1 == status::RUNTIME_LOST && previous_ready.is_some_and(|c| c.status == TRUE) {
        // Said at once: a lost runtime inside an open deadline is a proof at risk.
        let event = Event {
            type_: EventType::Warning,
            reason: status::RUNTIME_LOST.into(),
            note: Some(observed.2.clone()),
            action: "WatchRuntime".into(),
            secondary: None,
        };
        let _ = ctx.events.publish(&event, &miner.object_ref(&())).await;
    }
    progress.condition(RUNTIME_READY, observed);
    let next_deadline = if ready_replicas > 0 {
        None
    } else {
        // Down: how soon a deadline with sectors needs it (the chart's alert fires within an hour of one).
        proving::next_deadline_with_sectors(&node, actor).await.unwrap_or_else(|error| {
            warn!(%error, "cannot read the proving schedule");
            None
        })
    };
    ctx.metrics.miner_runtime(namespace, &miner.name_any(), ready_replicas > 0, next_deadline);

    // The addresses announced on chain.
    let published = announce_addresses(ctx, miner, &valid, &node, actor, &info, &peer, &p2p, progress).await?;

    // The blocks it mined, once it has power to win with.
    let has_power = progress.status.power.as_ref().is_some_and(|p| p.quality_adjusted != "0");
    if has_power {
        blocks::record_mined(ctx, miner, &node, actor, &mut progress.status.mining).await;
    }

    let next = match (proven, published) {
        (_, Addresses::WaitingForChain) => block_time(&node),
        (false, _) => WHILE_WAITING,
        (true, Addresses::OnChain | Addresses::WaitingForKubernetes) => WHEN_SETTLED,
    };
    Ok(Action::requeue(next.min(recheck)))
}

/// Applies the deadline gate for `schedule` (`Err`: why it cannot be read) and records it in `DisruptionAllowed`;
/// returns when to look at it again.
async fn deadline_gate(
    ctx: &Context,
    miner: &Miner,
    namespace: &str,
    schedule: std::result::Result<disruption::Schedule, String>,
    valid: &ValidSpec,
    progress: &mut Progress,
) -> Result<(disruption::Gate, Duration)> {
    let status = &mut progress.status;
    let (gate, recheck) = disruption::apply_gate(ctx, miner, namespace, schedule, valid.max_blocked, status).await?;
    progress.condition(DISRUPTION_ALLOWED, gate.condition());
    Ok((gate, recheck))
}

/// The full node cannot be reached (or its API info read): `ActorCreated` says why, and a Miner with an actor
/// (a runtime to protect, and no schedule to go by) has its deadline gate held, within its bound. Returns
/// `error`, for the reconcile to fail with.
async fn full_node_failed(
    ctx: &Context,
    miner: &Miner,
    namespace: &str,
    valid: &ValidSpec,
    error: Error,
    progress: &mut Progress,
) -> Error {
    if progress.status.actor_address.is_some()
        && let Err(gate_error) = deadline_gate(ctx, miner, namespace, Err(error.to_string()), valid, progress).await
    {
        warn!(%gate_error, "cannot hold the deadline gate");
    }
    // Unreachable, a refused token: the node's error; no Secret, or no API info in it: the error's own reason.
    let reason = match error {
        Error::Chain(_) => "FullNodeError".to_owned(),
        _ => error.reason(),
    };
    progress.failed(ACTOR_CREATED, &reason, error)
}

/// The one way out of every reconcile: `Ready` from the step conditions, then the status, written when it
/// changed. The outcome of the steps is returned; a failed status write fails a reconcile that did not.
async fn finish(
    ctx: &Context,
    miner: &Miner,
    previous: &MinerStatus,
    mut progress: Progress,
    outcome: Result<Action>,
) -> Result<Action> {
    let ready = status::ready(&progress.status.conditions, progress.status.actor_address.as_deref());
    progress.condition(READY, ready);
    if progress.journal.conflicted {
        // This reconcile worked from an older Miner than etcd holds: its status could undo the newer chain
        // records. The newer Miner's watch event brings the next reconcile.
        warn!("the Miner changed during the reconcile: its status is written by the next one");
        return outcome;
    }
    let key = format!("{}/{}", miner.namespace().unwrap_or_default(), miner.name_any());
    ctx.balance_writes.hold_or_record(&key, previous, &mut progress.status, std::time::Instant::now());
    match (write_status(ctx, &ctx.own_writes.miners, miner, previous, &progress.status).await, outcome) {
        (Ok(()), outcome) => outcome,
        (Err(error), Ok(_)) => Err(error),
        (Err(error), Err(first)) => {
            warn!(%error, "cannot write the status of a failed reconcile");
            Err(first)
        }
    }
}

/// The actor: the one the spec adopts, or the one created on chain (resuming a creation the status shows
/// was started); `None` while a creation message waits to land (`ActorCreated` says which).
async fn actor(
    ctx: &Context,
    miner: &Miner,
    node: &Node,
    source: &ActorSource,
    peer: &PeerId,
    progress: &mut Progress,
) -> Result<Option<Address>> {
    let request = match source {
        ActorSource::Adopt(actor) => return Ok(Some(*actor)),
        ActorSource::Create(request) => CreateMinerRequest { peer_id: peer.to_bytes(), ..(**request).clone() },
    };
    // The record is taken up from the Miner this reconcile works from and journaled in place: a stale copy
    // (behind a write the watch has not shown) gets a conflict at its first write (`JournalGuard`).
    let mut record = progress.status.creation.clone().unwrap_or_default();
    forget_unsent_choices(&mut record, &request);
    let advanced = advance(node, miner, &request, &mut record, &mut progress.journal, ctx).await;
    if record != CreationRecord::default() {
        progress.status.creation = Some(record);
    }
    match advanced {
        Ok(CreationProgress::Created(created)) => {
            if progress.status.actor_address.is_none() {
                info!(actor = %created.id_address, "miner actor created");
            }
            progress.status.robust_address = Some(created.robust_address.to_string());
            Ok(Some(created.id_address))
        }
        Ok(CreationProgress::Waiting { step, cid }) => {
            let confidence = miner.spec.confidence;
            let message =
                format!("{step}: message {cid} pushed, waiting for it to land with {confidence} epochs on top");
            progress.condition(ACTOR_CREATED, (FALSE, WAITING_FOR_MESSAGE.into(), message));
            Ok(None)
        }
        Err(error) => Err(progress.failed(ACTOR_CREATED, "CreationFailed", error)),
    }
}

/// Forgets the owner and worker a creation chose when no message of it was journaled yet and the spec now names
/// others: a spec corrected after a failed first try (an owner without an account on chain, say) is taken up,
/// not the choice of the spec as it was. A worker the node made (`worker.create`) is kept: it is in the node's
/// wallet, and another try would make another.
fn forget_unsent_choices(record: &mut CreationRecord, request: &CreateMinerRequest) {
    if !record.messages.0.is_empty() {
        return;
    }
    let differs = |chosen: &Option<String>, wanted: Option<Address>| {
        wanted.is_some_and(|wanted| {
            chosen.as_deref().and_then(|c| sealstack_chain::json::parse_address(c).ok()) != Some(wanted)
        })
    };
    if differs(&record.owner, request.owner) {
        record.owner = None;
    }
    if differs(&record.worker, request.worker) {
        record.worker = None;
    }
}

/// The reason of a condition whose step waits for a pushed message to land.
const WAITING_FOR_MESSAGE: &str = "WaitingForMessage";

/// About one block time of the node's network (its `Version`'s block delay, read when it was connected), within
/// 1 to 30 s.
fn block_time(node: &Node) -> Duration {
    Duration::from_secs(node.version().block_delay.clamp(1, 30))
}

/// The runtime StatefulSet for `inputs`, applied; returns it as stored. A change of a ready runtime is held while
/// `gate` holds disruptions (`RolloutPending` says so): a restart would cost the deadline being proven.
async fn apply_runtime(
    ctx: &Context,
    miner: &Miner,
    namespace: &str,
    inputs: &RuntimeInputs,
    gate: &disruption::Gate,
    progress: &mut Progress,
) -> Result<StatefulSet> {
    let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), namespace);
    let runtime = build_runtime_stateful_set(miner, inputs);
    let existing = lookup(&ctx.stores.runtime_sets, namespace, &runtime.name_any()).await?;
    if let Some(existing) = existing.as_deref()
        && gate.max_unavailable == 0
        && existing.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0) > 0
        && needs_apply(&stamped(&runtime), Some(existing))
    {
        progress.condition(ROLLOUT_PENDING, disruption::rollout_pending(gate));
        return Ok(existing.clone());
    }
    progress.condition(ROLLOUT_PENDING, (FALSE, "UpToDate".into(), "the runtime runs its spec".into()));
    Ok(apply(&sets, &runtime, existing.as_deref()).await?.0)
}

/// Where the actor's announced addresses stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Addresses {
    /// On chain as Kubernetes exposes them.
    OnChain,
    /// Not known yet: the Service, pod or node they come from will change (the watches bring the next reconcile).
    WaitingForKubernetes,
    /// A message changing them is pushed and not landed, or the chain does not show them yet.
    WaitingForChain,
}

/// Brings the actor's on-chain multiaddrs and peer ID in line with what the p2p Service exposes; returns
/// where they stand.
#[allow(clippy::too_many_arguments)]
async fn announce_addresses(
    ctx: &Context,
    miner: &Miner,
    valid: &ValidSpec,
    node: &Node,
    actor: Address,
    info: &MinerInfo,
    peer: &PeerId,
    p2p: &Service,
    progress: &mut Progress,
) -> Result<Addresses> {
    let desired = if valid.announce_addresses.is_empty() {
        let kube_node = if needs_node(&miner.spec.p2p) { runtime_node(&ctx.stores, miner).await? } else { None };
        match announce(&miner.spec.p2p, Some(p2p), kube_node.as_deref()) {
            Announce::Waiting(reason) => {
                progress.condition(ADDRESSES_PUBLISHED, (FALSE, "WaitingForAddress".into(), reason));
                return Ok(Addresses::WaitingForKubernetes);
            }
            Announce::Addresses(computed) => computed
                .iter()
                .map(|a| {
                    let why = |e| {
                        format!(
                            "the p2p Service's address {a:?} is not a multiaddr ({e}): set spec.p2p.announceAddresses"
                        )
                    };
                    a.parse().map_err(|e| Error::InvalidSpec(why(e)))
                })
                .collect::<Result<Vec<multiaddr::Multiaddr>>>()?,
        }
    } else {
        valid.announce_addresses.clone()
    };
    let wanted: Vec<String> = desired.iter().map(|a| a.to_string()).collect();
    let peer_text = peer.to_base58();
    let mut on_chain: Vec<String> = info.multiaddrs().iter().map(|m| m.to_string()).collect();
    let addrs_differ = on_chain != wanted;
    let peer_differs = info.peer_id.as_deref() != Some(peer_text.as_str());
    if addrs_differ || peer_differs {
        let addrs = addrs_differ.then_some(desired.as_slice());
        let peer_bytes = peer.to_bytes();
        let peer_id = peer_differs.then_some(peer_bytes.as_slice());
        // The log is journaled in place, like the creation's record (see `actor`).
        let mut log = std::mem::take(&mut progress.status.address_messages);
        let published = publish(node, miner, &mut log, &mut progress.journal, ctx, actor, addrs, peer_id).await;
        progress.status.address_messages = log;
        let waiting = published?;
        // Read back what the chain holds now (only after sending something).
        let info = node.api().state_miner_info(LotusJson(actor), TipSetKey::head()).await.map_err(node.err())?;
        on_chain = info.multiaddrs().iter().map(|m| m.to_string()).collect();
        if let Some((method, cid)) = waiting {
            let message =
                format!("{method}: message {cid} pushed, waiting for it to land; on chain: [{}]", on_chain.join(", "));
            progress.status.on_chain_multiaddrs = on_chain;
            progress.condition(ADDRESSES_PUBLISHED, (FALSE, WAITING_FOR_MESSAGE.into(), message));
            return Ok(Addresses::WaitingForChain);
        }
    }
    let done = on_chain == wanted;
    let message = format!("on chain: [{}]", on_chain.join(", "));
    progress.status.on_chain_multiaddrs = on_chain;
    let (s, reason) = if done { (TRUE, "OnChain") } else { (FALSE, "Publishing") };
    progress.condition(ADDRESSES_PUBLISHED, (s, reason.into(), message));
    Ok(if done { Addresses::OnChain } else { Addresses::WaitingForChain })
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
