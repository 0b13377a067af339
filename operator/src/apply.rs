//! Server-side apply with one field manager, skipped when the object already holds what would be applied,
//! so that a resync of an unchanged world makes no write call.

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::FIELD_MANAGER;

/// Whether every field set in `desired` has the same value in `existing` (fields `existing` has beyond
/// them, such as defaults and status, do not matter). Lists must match item by item. A `false` in
/// `desired` matches an absent field: the API server drops `false` from its many `omitempty` booleans
/// (`readOnly`, ...), so it is never stored.
pub fn is_subset(desired: &Value, existing: &Value) -> bool {
    match (desired, existing) {
        (Value::Object(want), Value::Object(have)) => want.iter().all(|(key, value)| match have.get(key) {
            Some(h) => is_subset(value, h),
            None => value.is_null() || *value == Value::Bool(false),
        }),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| is_subset(w, h))
        }
        (Value::Number(want), Value::Number(have)) => want.as_f64() == have.as_f64(),
        _ => desired == existing,
    }
}

/// Whether applying `desired` over `existing` would change anything we manage.
pub fn needs_apply<K: Serialize>(desired: &K, existing: Option<&K>) -> bool {
    let Some(existing) = existing else { return true };
    let desired = serde_json::to_value(desired).expect("Kubernetes objects serialise");
    let existing = serde_json::to_value(existing).expect("Kubernetes objects serialise");
    // Server-populated metadata (uid, resourceVersion, managedFields) is never in `desired`.
    !is_subset(&desired, &existing)
}

/// Applies `desired` (server-side, forced, field manager `sealstack-operator`) unless `existing` already
/// matches it. Returns the object as stored, and whether a write was made.
pub async fn apply<K>(api: &Api<K>, desired: &K, existing: Option<&K>) -> Result<(K, bool), kube::Error>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
    K::DynamicType: Default,
{
    if let Some(existing) = existing.filter(|e| !needs_apply(desired, Some(*e))) {
        return Ok((existing.clone(), false));
    }
    tracing::debug!(kind = %K::kind(&Default::default()), name = %desired.name_any(), "applying: differs from the cluster");
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let stored = api.patch(&desired.name_any(), &params, &Patch::Apply(desired)).await?;
    Ok((stored, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extra_fields_in_the_cluster_do_not_count() {
        let desired =
            json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"replicas": 2, "list": [{"n": 1}]}});
        let existing = json!({
            "metadata": {"name": "a", "uid": "u", "labels": {"x": "1", "y": "2"}},
            "spec": {"replicas": 2.0, "list": [{"n": 1, "default": true}], "defaulted": "yes"},
            "status": {"ready": 1},
        });
        assert!(is_subset(&desired, &existing));
    }

    #[test]
    fn a_changed_missing_or_reordered_field_counts() {
        let existing = json!({"spec": {"replicas": 2, "list": [1, 2], "image": "a"}});
        assert!(!is_subset(&json!({"spec": {"replicas": 3}}), &existing));
        assert!(!is_subset(&json!({"spec": {"list": [2, 1]}}), &existing));
        assert!(!is_subset(&json!({"spec": {"list": [1]}}), &existing));
        assert!(!is_subset(&json!({"spec": {"other": "x"}}), &existing));
        assert!(!is_subset(&json!({"spec": {"image": "b"}}), &existing));
        assert!(is_subset(&json!({"spec": {"unset": null}}), &existing), "an unset optional field is absent");
        assert!(is_subset(&json!({"spec": {"readOnly": false}}), &existing), "the server drops omitempty false");
        assert!(!is_subset(&json!({"spec": {"readOnly": true}}), &existing));
    }

    #[test]
    fn needs_apply_compares_typed_objects() {
        use k8s_openapi::api::core::v1::ConfigMap;
        use std::collections::BTreeMap;
        let mut desired = ConfigMap::default();
        desired.metadata.name = Some("c".into());
        desired.data = Some(BTreeMap::from([("k".into(), "v".into())]));
        assert!(needs_apply(&desired, None));
        let mut stored = desired.clone();
        stored.metadata.uid = Some("uid".into());
        stored.metadata.resource_version = Some("7".into());
        assert!(!needs_apply(&desired, Some(&stored)));
        stored.data.as_mut().unwrap().insert("k".into(), "changed".into());
        assert!(needs_apply(&desired, Some(&stored)));
    }
}
