//! Server-side apply with one field manager, skipped when the object already holds what would be applied,
//! so that a resync of an unchanged world makes no write call.
//!
//! Every applied object carries the digest of what was applied ([`APPLIED_DIGEST`]). That lets a watch keep
//! a StatefulSet without its spec, the bulk of its memory ([`drop_spec_if_ours`]), and a Service with only
//! the part of its spec the announce addresses are made from ([`reduce_service_if_ours`]): while no other
//! field manager has touched the spec, the digest stands for it.

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::FIELD_MANAGER;

/// The annotation holding the digest of everything the operator applied to the object (itself excepted).
pub const APPLIED_DIGEST: &str = "sealstack.io/applied-digest";
/// Marks, in a watch's store only (it is never written), an object whose spec the store dropped.
pub const SPEC_DROPPED: &str = "sealstack.io/spec-dropped";

/// `desired`, annotated with the digest of its content ([`APPLIED_DIGEST`]).
pub fn stamped<K: Resource + Clone + Serialize>(desired: &K) -> K {
    let mut stamped = desired.clone();
    let annotations = stamped.meta_mut().annotations.get_or_insert_with(Default::default);
    annotations.remove(APPLIED_DIGEST);
    let content = serde_json::to_vec(&stamped).expect("Kubernetes objects serialise");
    let digest = crate::digest::hex(&Sha256::digest(content)[..8]);
    let annotations = stamped.meta_mut().annotations.get_or_insert_with(Default::default);
    annotations.insert(APPLIED_DIGEST.to_owned(), digest);
    stamped
}

/// A watch's reduction of a StatefulSet: without `managedFields`, and without its spec when that is only
/// this operator's (no other field manager set anything in it, the status subresource aside) and its
/// [`APPLIED_DIGEST`] can stand for it. A spec someone else edited is kept whole, so that the comparison
/// sees the edit and the next apply undoes it.
pub fn drop_spec_if_ours(set: &mut StatefulSet) {
    if spec_is_ours(&mut set.metadata) {
        set.spec = None;
    }
}

/// [`drop_spec_if_ours`] for a Service, keeping of its spec what the announce addresses are made from:
/// the type and the ports (with the node ports the API server allocated).
pub fn reduce_service_if_ours(service: &mut Service) {
    if spec_is_ours(&mut service.metadata) {
        service.spec =
            service.spec.take().map(|spec| ServiceSpec { type_: spec.type_, ports: spec.ports, ..Default::default() });
    }
}

/// Drops `managedFields` from `meta`; returns whether the spec may be dropped (and marks it [`SPEC_DROPPED`]):
/// the object carries an [`APPLIED_DIGEST`] and no other field manager set anything in its spec (the status
/// subresource aside).
fn spec_is_ours(meta: &mut ObjectMeta) -> bool {
    let edited_by_others = meta.managed_fields.iter().flatten().any(|entry| {
        entry.manager.as_deref() != Some(FIELD_MANAGER)
            && entry.subresource.as_deref() != Some("status")
            && entry.fields_v1.as_ref().is_some_and(|fields| fields.0.get("f:spec").is_some())
    });
    meta.managed_fields = None;
    let annotations = meta.annotations.get_or_insert_with(Default::default);
    let ours = !edited_by_others && annotations.contains_key(APPLIED_DIGEST);
    if ours {
        annotations.insert(SPEC_DROPPED.to_owned(), "true".to_owned());
    }
    ours
}

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

/// Whether applying `desired` (as [`stamped`]) over `existing` would change anything we manage. An
/// `existing` whose spec a store dropped ([`drop_spec_if_ours`]) is compared by its metadata, the
/// [`APPLIED_DIGEST`] among it.
pub fn needs_apply<K: Resource + Serialize>(desired: &K, existing: Option<&K>) -> bool {
    let Some(existing) = existing else { return true };
    let spec_dropped = existing.meta().annotations.as_ref().is_some_and(|a| a.contains_key(SPEC_DROPPED));
    let desired = serde_json::to_value(desired).expect("Kubernetes objects serialise");
    let existing = serde_json::to_value(existing).expect("Kubernetes objects serialise");
    // Server-populated metadata (uid, resourceVersion, managedFields) is never in `desired`.
    match spec_dropped {
        true => !is_subset(&desired["metadata"], &existing["metadata"]),
        false => !is_subset(&desired, &existing),
    }
}

/// Applies `desired` (server-side, forced, field manager `sealstack-operator`, [`stamped`]) unless `existing`
/// already matches it. Returns the object as stored (or as the store holds it), and whether a write was made.
pub async fn apply<K>(api: &Api<K>, desired: &K, existing: Option<&K>) -> Result<(K, bool), kube::Error>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
    K::DynamicType: Default,
{
    let desired = stamped(desired);
    if let Some(existing) = existing.filter(|e| !needs_apply(&desired, Some(*e))) {
        return Ok((existing.clone(), false));
    }
    tracing::debug!(kind = %K::kind(&Default::default()), name = %desired.name_any(), "applying: differs from the cluster");
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let stored = api.patch(&desired.name_any(), &params, &Patch::Apply(&desired)).await?;
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

    fn set_with(replicas: i32) -> StatefulSet {
        serde_json::from_value(json!({"metadata": {"name": "s", "labels": {"a": "1"}},
            "spec": {"replicas": replicas, "selector": {}, "template": {}}}))
        .unwrap()
    }

    fn managed(manager: &str, subresource: Option<&str>, fields: Value) -> Value {
        json!({"manager": manager, "operation": "Apply", "subresource": subresource, "fieldsV1": fields})
    }

    /// `desired` as a watch would hold it after the operator applied it, with `managed_fields`.
    fn in_store(desired: &StatefulSet, managed_fields: Vec<Value>) -> StatefulSet {
        let mut stored = serde_json::to_value(stamped(desired)).unwrap();
        stored["metadata"]["uid"] = json!("u");
        stored["metadata"]["managedFields"] = json!(managed_fields);
        stored["status"] = json!({"replicas": 1, "readyReplicas": 1});
        let mut stored: StatefulSet = serde_json::from_value(stored).unwrap();
        drop_spec_if_ours(&mut stored);
        stored
    }

    #[test]
    fn the_digest_follows_the_content_and_not_an_older_digest() {
        let one = stamped(&set_with(1));
        let digest = |s: &StatefulSet| s.metadata.annotations.as_ref().unwrap()[APPLIED_DIGEST].clone();
        assert_eq!(digest(&one), digest(&stamped(&one)), "stamping again changes nothing");
        assert_ne!(digest(&one), digest(&stamped(&set_with(2))));
        assert_eq!(digest(&one).len(), 16);
    }

    #[test]
    fn a_spec_only_this_operator_set_is_dropped_and_its_digest_compared() {
        let ours = vec![
            managed(FIELD_MANAGER, None, json!({"f:metadata": {}, "f:spec": {"f:replicas": {}}})),
            managed("kube-controller-manager", Some("status"), json!({"f:status": {}})),
        ];
        let stored = in_store(&set_with(1), ours.clone());
        assert!(stored.spec.is_none() && stored.metadata.managed_fields.is_none(), "{stored:?}");
        assert_eq!(stored.status.as_ref().and_then(|s| s.ready_replicas), Some(1), "the status stays");
        assert!(!needs_apply(&stamped(&set_with(1)), Some(&stored)), "the same content: no write");
        assert!(needs_apply(&stamped(&set_with(2)), Some(&stored)), "other content: a write");
        let mut relabelled = stored.clone();
        relabelled.metadata.labels.as_mut().unwrap().insert("a".into(), "changed".into());
        assert!(needs_apply(&stamped(&set_with(1)), Some(&relabelled)), "the metadata is compared as it is");
        let mut unstamped = serde_json::to_value(set_with(1)).unwrap();
        unstamped["metadata"]["managedFields"] = json!(ours);
        let mut unstamped: StatefulSet = serde_json::from_value(unstamped).unwrap();
        drop_spec_if_ours(&mut unstamped);
        assert!(unstamped.spec.is_some(), "without a digest to stand for it, the spec stays");
    }

    #[test]
    fn a_spec_someone_else_edited_is_kept_and_compared_in_full() {
        let edited = vec![
            managed(FIELD_MANAGER, None, json!({"f:spec": {"f:selector": {}}})),
            managed("kubectl-edit", None, json!({"f:spec": {"f:replicas": {}}})),
        ];
        let mut stored = in_store(&set_with(1), edited);
        assert!(stored.spec.is_some(), "kept whole");
        stored.spec.as_mut().unwrap().replicas = Some(3);
        assert!(needs_apply(&stamped(&set_with(1)), Some(&stored)), "the edit is seen and undone");
        let scaled = vec![
            managed(FIELD_MANAGER, None, json!({"f:spec": {}})),
            managed("kubectl", Some("scale"), json!({"f:spec": {"f:replicas": {}}})),
        ];
        assert!(in_store(&set_with(1), scaled).spec.is_some(), "the scale subresource sets the spec too");
    }

    #[test]
    fn a_service_keeps_its_type_and_ports() {
        let desired: Service = serde_json::from_value(json!({"metadata": {"name": "p2p"},
            "spec": {"type": "NodePort", "selector": {"a": "1"}, "ports": [{"name": "p2p", "port": 24001}]}}))
        .unwrap();
        let mut stored = serde_json::to_value(stamped(&desired)).unwrap();
        stored["spec"]["ports"][0]["nodePort"] = json!(30089);
        stored["spec"]["clusterIP"] = json!("10.0.0.7");
        stored["metadata"]["managedFields"] = json!([managed(FIELD_MANAGER, None, json!({"f:spec": {}}))]);
        let mut stored: Service = serde_json::from_value(stored).unwrap();
        reduce_service_if_ours(&mut stored);
        let spec = stored.spec.as_ref().unwrap();
        assert_eq!(
            (spec.type_.as_deref(), spec.cluster_ip.as_deref(), spec.selector.is_none()),
            (Some("NodePort"), None, true)
        );
        assert_eq!(spec.ports.as_ref().unwrap()[0].node_port, Some(30089), "the allocated node port stays");
        assert!(!needs_apply(&stamped(&desired), Some(&stored)), "compared by its digest");
    }
}
