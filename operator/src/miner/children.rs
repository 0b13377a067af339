//! The Miner's own children besides the runtime: its libp2p identity and API Secrets (made once, their content
//! random, then kept) and its p2p and API Services (applied each reconcile).

use std::str::FromStr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use libp2p_identity::PeerId;
use sealstack_crds::Miner;

use super::build::{
    build_api_secret, build_api_service, build_identity_secret, build_p2p_service, identity_secret_name, peer_id_of,
};
use crate::apply::apply;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::secrets;
use crate::stores::lookup;

/// The peer ID of the Miner's libp2p identity, from its Secret (made here the first time).
pub async fn identity(ctx: &Context, miner: &Miner, namespace: &str) -> Result<PeerId> {
    let name = identity_secret_name(miner);
    let secret = made_once(ctx, namespace, &name, || build_identity_secret(miner).0).await?;
    let peer = peer_id_of(&secret)
        .ok_or_else(|| Error::InvalidSpec(format!("Secret {} holds no valid libp2p key", secret.name_any())))?;
    Ok(PeerId::from_str(&peer).expect("made from a key"))
}

/// The daemon's API secret and its workers' token, made the first time.
pub async fn ensure_api_secret(ctx: &Context, miner: &Miner, namespace: &str) -> Result<()> {
    let name = crate::names::miner_api_secret(&miner.name_any());
    made_once(ctx, namespace, &name, || build_api_secret(miner, namespace)).await.map(drop)
}

/// A Secret made once and then kept (its content is random): from the watch of the operator's Secrets, else
/// created from `build`. When the create finds it there (the watch has not shown it yet, or someone else
/// made it), it is read. A new Miner's Secrets thus cost one request each, not a read and then a create.
async fn made_once(ctx: &Context, namespace: &str, name: &str, build: impl FnOnce() -> Secret) -> Result<Arc<Secret>> {
    if let Some(secret) = lookup(&ctx.stores.owned_secrets, namespace, name).await? {
        return Ok(secret);
    }
    let read = || async {
        secrets::read(&ctx.stores, &ctx.client, namespace, name)
            .await?
            .ok_or_else(|| Error::MissingDependency { kind: "Secret", name: name.to_owned() })
    };
    if lookup(&ctx.stores.secret_versions, namespace, name).await?.is_some() {
        // Made by someone else (a key brought along): kept as it is.
        return read().await;
    }
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    match api.create(&PostParams::default(), &build()).await {
        Ok(created) => Ok(Arc::new(created)),
        Err(kube::Error::Api(status)) if status.code == 409 => read().await,
        Err(error) => Err(error.into()),
    }
}

/// The p2p and API Services, applied; returns the p2p Service as stored.
pub async fn apply_services(ctx: &Context, miner: &Miner, namespace: &str) -> Result<Service> {
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), namespace);
    let p2p = build_p2p_service(miner);
    let existing = lookup(&ctx.stores.services, namespace, &p2p.name_any()).await?;
    let (p2p, _) = apply(&services, &p2p, existing.as_deref()).await?;
    let api_service = build_api_service(miner);
    let existing = lookup(&ctx.stores.services, namespace, &api_service.name_any()).await?;
    apply(&services, &api_service, existing.as_deref()).await?;
    Ok(p2p)
}
