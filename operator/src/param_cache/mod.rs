//! The ParamCache controller: a volume and a Job running `sealstack-miner fetch-params`.

pub mod build;
pub mod controller;
pub mod progress;
pub mod reconcile;
pub mod status;

use std::sync::Arc;

use kube::core::object::HasStatus;
use sealstack_crds::{Miner, ParamCache};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::stores::dereference;

/// The ParamCache a Miner names (from the operator's watch), and whether it is Ready: the Miner and its
/// workers wait for it.
pub async fn of_miner(ctx: &Context, namespace: &str, miner: &Miner) -> Result<(Arc<ParamCache>, bool)> {
    let name = &miner.spec.param_cache_ref.name;
    let cache = dereference(&ctx.stores.caches, &ctx.client, namespace, name)
        .await?
        .ok_or_else(|| Error::MissingDependency { kind: "ParamCache", name: name.clone() })?;
    let ready = cache.status().is_some_and(status::is_ready);
    Ok((cache, ready))
}
