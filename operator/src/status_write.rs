//! Writing the status of the operator's three kinds, one way: a server-side apply of the whole status by the
//! operator's field manager, only when it changed, recorded in [`OwnWrites`] so the next reconcile works from
//! it even before the watch shows it.

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use tracing::debug;

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
    if tracing::enabled!(tracing::Level::DEBUG) {
        debug!(object = %object.name_any(), changed = ?changed_fields(previous, next), "writing the status");
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), object.meta().namespace.as_deref().unwrap_or_default());
    let patch = serde_json::json!({"apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": next});
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let written = api.patch_status(&object.name_any(), &params, &Patch::Apply(&patch)).await?;
    own_writes.record(object, written);
    Ok(())
}

/// The fields of the status that differ between `previous` and `next` (top level; conditions by type): what a
/// write is made for, in the debug log.
fn changed_fields<S: Serialize>(previous: &S, next: &S) -> Vec<String> {
    let (Ok(serde_json::Value::Object(previous)), Ok(serde_json::Value::Object(next))) =
        (serde_json::to_value(previous), serde_json::to_value(next))
    else {
        return vec!["(not an object)".into()];
    };
    let keys: std::collections::BTreeSet<&String> = previous.keys().chain(next.keys()).collect();
    let mut changed = Vec::new();
    for key in keys {
        let (before, after) = (previous.get(key), next.get(key));
        if before == after {
            continue;
        }
        match (key.as_str(), before, after) {
            ("conditions", Some(serde_json::Value::Array(before)), Some(serde_json::Value::Array(after))) => {
                let type_of = |c: &serde_json::Value| c.get("type").cloned().unwrap_or_default();
                for condition in after.iter().filter(|c| !before.contains(c)) {
                    changed.push(format!("conditions[{}]", type_of(condition)));
                }
            }
            (_, Some(serde_json::Value::Object(before)), Some(serde_json::Value::Object(after))) => {
                let inner: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
                changed.extend(
                    inner.into_iter().filter(|k| before.get(*k) != after.get(*k)).map(|k| format!("{key}.{k}")),
                );
            }
            _ => changed.push(key.clone()),
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_changed_fields_name_nested_keys_and_condition_types() {
        let before = json!({"peerId": "p", "balances": {"owner": "1 FIL", "worker": "2 FIL"},
                            "conditions": [{"type": "Ready", "status": "False"}, {"type": "Proving", "status": "True"}]});
        let after = json!({"peerId": "p", "balances": {"owner": "3 FIL", "worker": "2 FIL"}, "actorAddress": "t01000",
                           "conditions": [{"type": "Ready", "status": "True"}, {"type": "Proving", "status": "True"}]});
        assert_eq!(changed_fields(&before, &after), ["actorAddress", "balances.owner", "conditions[\"Ready\"]"]);
    }
}
