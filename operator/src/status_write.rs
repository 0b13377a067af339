//! Writing the status of the operator's three kinds, one way: a server-side apply of the whole status by the
//! operator's field manager, only when it changed, recorded in [`OwnWrites`] so the next reconcile works from
//! it even before the watch shows it.

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::FIELD_MANAGER;
use crate::context::Context;
use crate::error::Result;
use crate::own_writes::OwnWrites;

/// Applies `next` as the status of `object` when it differs from `previous` (the status `object` has).
pub async fn write_status<K, S>(
    ctx: &Context,
    own_writes: &OwnWrites<K>,
    object: &K,
    previous: &S,
    next: &S,
) -> Result<()>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned,
    S: PartialEq + Serialize,
{
    if next == previous {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), object.meta().namespace.as_deref().unwrap_or_default());
    let patch = serde_json::json!({"apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": next});
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let written = api.patch_status(&object.name_any(), &params, &Patch::Apply(&patch)).await?;
    own_writes.record(object, written);
    Ok(())
}
