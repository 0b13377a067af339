//! Reconciling one Miner: dereference (ParamCache, full node) -> identity -> Services -> actor on chain ->
//! announce addresses on chain -> status with a condition per step.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node as KubeNode, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::core::object::HasStatus;
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use sealstack_chain::{FullNodeClient, LotusJson, TipSetKey};
use sealstack_crds::Miner;
use sealstack_crds::conditions::set_condition;
use sealstack_crds::miner::MinerStatus;
use tracing::{info, instrument};

use super::announce::{Announce, announce};
use super::build::{
    build_api_service, build_identity_secret, build_p2p_service, identity_secret_name, peer_id_of, selector_labels,
};
use super::chain::{connect, ensure_created, publish};
use super::runtime::{RuntimeInputs, build_runtime_stateful_set};
use crate::FIELD_MANAGER;
use crate::apply::apply;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::stores::lookup;

/// How often a settled Miner is compared with the chain again.
const WHEN_SETTLED: Duration = Duration::from_secs(60);
/// How often a Miner waiting for its ParamCache or announce address is looked at.
const WHILE_WAITING: Duration = Duration::from_secs(10);

/// Brings one Miner's actor, children, on-chain addresses and status in line with its spec.
#[instrument(skip_all, fields(miner = %miner.name_any(), namespace = miner.namespace().unwrap_or_default()))]
pub async fn reconcile(miner: Arc<Miner>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = miner.namespace().ok_or_else(|| Error::InvalidObject("Miner without namespace".into()))?;
    let client = ctx.client.clone();
    let previous = miner.status().cloned().unwrap_or_default();
    let mut status = previous.clone();
    let generation = miner.meta().generation;
    status.observed_generation = generation;
    let now = || Time(Timestamp::now());

    // The ParamCache: the runtime proves with its parameters.
    let (cache, params_ready) = crate::param_cache::of_miner(&ctx, &namespace, &miner).await?;
    let cache_name = &miner.spec.param_cache_ref.name;
    let (s, reason, message) = if params_ready {
        ("True", "ParamCacheReady", format!("ParamCache {cache_name} is Ready"))
    } else {
        ("False", "WaitingForParamCache", format!("waiting for ParamCache {cache_name} to be Ready"))
    };
    set_condition(&mut status.conditions, "ParamsReady", s, reason, message, generation, now());

    // The libp2p identity, made once.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let identity = match secrets.get_opt(&identity_secret_name(&miner)).await? {
        Some(secret) => secret,
        None => secrets.create(&PostParams::default(), &build_identity_secret(&miner).0).await?,
    };
    let peer_text = peer_id_of(&identity)
        .ok_or_else(|| Error::InvalidSpec(format!("Secret {} holds no valid libp2p key", identity.name_any())))?;
    let peer = libp2p_identity::PeerId::from_str(&peer_text).expect("made from a key");
    status.peer_id = Some(peer_text.clone());
    // The daemon's API secret and its workers' token, made once.
    let api_secret = crate::names::miner_api_secret(&miner.name_any());
    if secrets.get_opt(&api_secret).await?.is_none() {
        secrets.create(&PostParams::default(), &super::build::build_api_secret(&miner, &namespace)).await?;
    }

    // Services.
    let services: Api<Service> = Api::namespaced(client.clone(), &namespace);
    let p2p = build_p2p_service(&miner);
    let existing = lookup(&ctx.stores.services, &namespace, &p2p.name_any()).await?;
    let (p2p, _) = apply(&services, &p2p, existing.as_deref()).await?;
    let api_service = build_api_service(&miner);
    let existing = lookup(&ctx.stores.services, &namespace, &api_service.name_any()).await?;
    apply(&services, &api_service, existing.as_deref()).await?;

    if !params_ready {
        write_status(&ctx, &miner, &previous, status).await?;
        return Ok(Action::requeue(WHILE_WAITING));
    }

    // The actor on chain.
    let node = match connect(&miner, &secrets).await {
        Ok(node) => node,
        Err(error) => {
            let message = error.to_string();
            set_condition(
                &mut status.conditions,
                "ActorCreated",
                "False",
                "FullNodeError",
                &message,
                generation,
                now(),
            );
            set_condition(&mut status.conditions, "Ready", "False", "FullNodeError", message, generation, now());
            write_status(&ctx, &miner, &previous, status).await?;
            return Err(error);
        }
    };
    let actor = match &miner.spec.actor {
        Some(actor) => sealstack_chain::json::parse_address(&actor.0)
            .map_err(|e| Error::InvalidSpec(format!("spec.actor: {e}")))?,
        None => {
            let result = ensure_created(&node, &miner, &ctx, peer.to_bytes()).await;
            let (created, record) = match result {
                Ok(done) => done,
                Err(error) => {
                    let message = error.to_string();
                    set_condition(
                        &mut status.conditions,
                        "ActorCreated",
                        "False",
                        "CreationFailed",
                        &message,
                        generation,
                        now(),
                    );
                    // The journal wrote the progress; keep it in the status written now.
                    status.creation = miner_creation(&ctx, &miner).await.or(status.creation);
                    write_status(&ctx, &miner, &previous, status).await?;
                    return Err(error);
                }
            };
            if previous.actor_address.is_none() {
                info!(actor = %created.id_address, "miner actor created");
            }
            status.creation = Some(record);
            status.robust_address = Some(created.robust_address.to_string());
            created.id_address
        }
    };
    let info = node.api().state_miner_info(LotusJson(actor), TipSetKey::head()).await.map_err(node.err())?;
    status.actor_address = Some(actor.to_string());
    status.owner_address = Some(info.owner.to_string());
    status.worker_address = Some(info.worker.to_string());
    set_condition(
        &mut status.conditions,
        "ActorCreated",
        "True",
        "ActorOnChain",
        format!("miner actor {actor}"),
        generation,
        now(),
    );

    // The runtime, for this actor.
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let runtime = build_runtime_stateful_set(
        &miner,
        &RuntimeInputs {
            default_image: ctx.settings.runtime_image.clone(),
            params_claim: crate::param_cache::build::claim_name(&cache),
            actor: Some(actor.to_string()),
        },
    );
    let existing = lookup(&ctx.stores.runtime_sets, &namespace, &runtime.name_any()).await?;
    let (runtime, _) = apply(&sets, &runtime, existing.as_deref()).await?;
    let ready_replicas = runtime.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    let (s, reason, message) = if ready_replicas > 0 {
        ("True", "RuntimeRunning", format!("{} is ready", runtime.name_any()))
    } else {
        ("False", "RuntimeStarting", format!("waiting for {} to be ready", runtime.name_any()))
    };
    set_condition(&mut status.conditions, "RuntimeReady", s, reason, message, generation, now());

    // The addresses announced on chain.
    let kube_node = runtime_node(&ctx, &miner, &namespace).await?;
    let published = match announce(&miner.spec.p2p, Some(&p2p), kube_node.as_ref()) {
        Announce::Waiting(reason) => {
            set_condition(
                &mut status.conditions,
                "AddressesPublished",
                "False",
                "WaitingForAddress",
                reason,
                generation,
                now(),
            );
            false
        }
        Announce::Addresses(wanted) => {
            let desired: Vec<multiaddr::Multiaddr> = wanted
                .iter()
                .map(|a| a.parse().map_err(|e| Error::InvalidSpec(format!("announce address {a:?}: {e}"))))
                .collect::<Result<_>>()?;
            let mut on_chain: Vec<String> = info.multiaddrs().iter().map(|m| m.to_string()).collect();
            let addrs_differ = on_chain != wanted;
            let peer_differs = info.peer_id.as_deref() != Some(peer_text.as_str());
            if addrs_differ || peer_differs {
                let addrs = addrs_differ.then_some(desired.as_slice());
                let peer_bytes = peer.to_bytes();
                let peer_id = peer_differs.then_some(peer_bytes.as_slice());
                status.address_messages = publish(&node, &miner, &ctx, actor, addrs, peer_id).await?;
                // Read back what the chain holds now (only after sending something).
                let info =
                    node.api().state_miner_info(LotusJson(actor), TipSetKey::head()).await.map_err(node.err())?;
                on_chain = info.multiaddrs().iter().map(|m| m.to_string()).collect();
            }
            status.on_chain_multiaddrs = on_chain;
            let done = status.on_chain_multiaddrs == wanted;
            let (s, reason) = if done { ("True", "OnChain") } else { ("False", "Publishing") };
            let message = format!("on chain: [{}]", status.on_chain_multiaddrs.join(", "));
            set_condition(&mut status.conditions, "AddressesPublished", s, reason, message, generation, now());
            done
        }
    };
    let (s, reason, message) = if published {
        // The daemon's readiness joins this once `sealstack-miner run` exists; RuntimeReady reports it now.
        ("True", "ActorReady", format!("miner actor {actor} is on chain with its addresses"))
    } else {
        ("False", "AddressesPending", "the announce addresses are not on chain yet".to_string())
    };
    set_condition(&mut status.conditions, "Ready", s, reason, message, generation, now());
    write_status(&ctx, &miner, &previous, status).await?;
    Ok(Action::requeue(if published { WHEN_SETTLED } else { WHILE_WAITING }))
}

/// The node of the runtime pod, for NodePort announcements.
async fn runtime_node(ctx: &Context, miner: &Miner, namespace: &str) -> Result<Option<KubeNode>> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let selector = selector_labels(miner).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let list = pods.list(&ListParams::default().labels(&selector)).await?;
    let Some(node_name) = list.items.iter().find_map(|p| p.spec.as_ref()?.node_name.clone()) else { return Ok(None) };
    let nodes: Api<KubeNode> = Api::all(ctx.client.clone());
    Ok(nodes.get_opt(&node_name).await?)
}

/// The creation record as stored now (after the journal's writes).
async fn miner_creation(ctx: &Context, miner: &Miner) -> Option<sealstack_crds::miner::MinerCreation> {
    let api: Api<Miner> = Api::namespaced(ctx.client.clone(), miner.meta().namespace.as_deref()?);
    api.get_status(&miner.name_any()).await.ok()?.status?.creation
}

/// Applies the status when it changed.
async fn write_status(ctx: &Context, miner: &Miner, previous: &MinerStatus, next: MinerStatus) -> Result<()> {
    if &next == previous {
        return Ok(());
    }
    let api: Api<Miner> = Api::namespaced(ctx.client.clone(), miner.meta().namespace.as_deref().unwrap_or_default());
    let patch = serde_json::json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "status": next});
    api.patch_status(&miner.name_any(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch)).await?;
    Ok(())
}
