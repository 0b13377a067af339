//! The ParamCache controller: a volume and a Job running `sealstack-miner fetch-params`.

pub mod build;
pub mod controller;
pub mod progress;
pub mod reconcile;
pub mod status;
pub mod validate;

use kube::core::object::HasStatus;
use sealstack_crds::Miner;

use crate::context::Context;
use crate::decode::decoded;
use crate::error::{Error, Result};
use crate::stores::dereference;

/// The ParamCache a Miner names (from the operator's watch), as its Miner and workers need it: the claim they
/// mount, and whether it is Ready (they wait for it).
pub async fn of_miner(ctx: &Context, namespace: &str, miner: &Miner) -> Result<(String, bool)> {
    let name = &miner.spec.param_cache_ref.name;
    let guarded = dereference(&ctx.stores.caches, &ctx.client, namespace, name)
        .await?
        .ok_or_else(|| Error::MissingDependency { kind: "ParamCache", name: name.clone() })?;
    let cache = decoded(&guarded)?;
    Ok((build::claim_name(cache), cache.status().is_some_and(status::is_ready)))
}
