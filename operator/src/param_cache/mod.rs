//! The ParamCache controller: a volume and a Job running `sealstack-miner fetch-params`.

pub mod build;
pub mod progress;
pub mod reconcile;
pub mod status;

use kube::core::object::HasStatus;
use kube::{Api, Client};
use sealstack_crds::{Miner, ParamCache};

use crate::error::{Error, Result};

/// The ParamCache a Miner names, and whether it is Ready: the Miner and its workers wait for it.
pub async fn of_miner(client: &Client, namespace: &str, miner: &Miner) -> Result<(ParamCache, bool)> {
    let caches: Api<ParamCache> = Api::namespaced(client.clone(), namespace);
    let name = &miner.spec.param_cache_ref.name;
    let cache = caches
        .get_opt(name)
        .await?
        .ok_or_else(|| Error::MissingDependency { kind: "ParamCache", name: name.clone() })?;
    let ready = cache.status().is_some_and(status::is_ready);
    Ok((cache, ready))
}
