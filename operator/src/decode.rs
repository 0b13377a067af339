//! The three kinds are watched through kube's [`DeserializeGuard`]: an object the operator cannot decode (one
//! written for an older version of the types, or edited by hand past what the schema checks) stays in its
//! watch's store as such instead of failing the watch's list, which would hold up every other object of its
//! kind. Its reconcile reports it on the object itself ([`undecodable`]): `Ready` False with reason
//! `InvalidObject` and a message naming the field, and the Warning Event every failed reconcile gets. Readers
//! of another object's store take its decoded form with [`decoded`] (or skip the undecodable ones with
//! [`decoded_objects`]).

use std::fmt::Debug;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::error_boundary::InvalidObject;
use kube::core::{DeserializeGuard, NamespaceResourceScope};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource};
use sealstack_crds::conditions::{status, types};
use serde::de::DeserializeOwned;
use tracing::warn;

use crate::context::Context;
use crate::error::{Error, Result};

/// The field manager of the `Ready` condition an undecodable object gets. Not the operator's own
/// ([`crate::FIELD_MANAGER`]), whose server-side apply of a whole status would drop every field it leaves out
/// (a Miner's chain journal among them): this one owns that condition alone, and the operator's next status
/// write of the object, once it decodes again, takes it back.
pub const DECODE_FIELD_MANAGER: &str = "sealstack-operator-decode";

/// The reason of the `Ready` condition (and of the Warning Event) of an object that cannot be decoded.
pub const INVALID_OBJECT: &str = "InvalidObject";

/// `guard`'s object, decoded; an object another one refers to (a SealingWorker's Miner) that cannot be decoded
/// is an error of the referring one's reconcile.
pub fn decoded<K: Resource<DynamicType = ()>>(guard: &DeserializeGuard<K>) -> Result<&K> {
    guard.0.as_ref().map_err(|invalid| Error::UndecodableDependency {
        kind: static_kind::<K>(),
        name: invalid.metadata.name.clone().unwrap_or_default(),
        reason: invalid.error.clone(),
    })
}

/// The kind of `K` as a static string (the three kinds' names are static already).
fn static_kind<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(kind) => kind,
        std::borrow::Cow::Owned(_) => "object",
    }
}

/// The objects of `guards` that decoded (what a mapper from a child to its owners looks through).
pub fn decoded_objects<K>(guards: &[Arc<DeserializeGuard<K>>]) -> impl Iterator<Item = &K> {
    guards.iter().filter_map(|guard| guard.0.as_ref().ok())
}

/// The reference of the guarded object named by `reference` (what a controller over guards is woken with).
pub fn guarded_ref<K: Resource<DynamicType = ()>>(reference: ObjectRef<K>) -> ObjectRef<DeserializeGuard<K>> {
    let guarded = ObjectRef::new(&reference.name);
    match reference.namespace {
        Some(namespace) => guarded.within(&namespace),
        None => guarded,
    }
}

/// Reports the object `invalid` (of kind `K`) on itself: `Ready` False, reason [`INVALID_OBJECT`], with what
/// cannot be decoded where; returns the error that fails its reconcile (which then publishes the Warning
/// Event and waits for the object to change).
///
/// The field is found by decoding the object as it is stored now, read once more (the watch keeps only the
/// error's text): an undecodable object costs a read and a status write each time it is reconciled, which is
/// only when it or its children change.
pub async fn undecodable<K>(ctx: &Context, invalid: &InvalidObject) -> Error
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
{
    let meta = &invalid.metadata;
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let name = meta.name.as_deref().unwrap_or_default();
    let resource = ApiResource::erase::<K>(&());
    let raw: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), namespace, &resource);
    let found = match raw.get_opt(name).await {
        Ok(object) => object.and_then(|object| serde_json::to_value(&object).ok()).and_then(describe::<K>),
        Err(error) => {
            warn!(%error, "cannot read an undecodable object again to find the field it fails at");
            None
        }
    };
    let why = found.unwrap_or_else(|| invalid.error.clone());
    let message = format!("{} {name} cannot be decoded by this operator: {why}", K::kind(&()));
    let guarded: Api<DeserializeGuard<K>> = Api::namespaced(ctx.client.clone(), namespace);
    let patch = ready_false::<K>(meta, &message, Timestamp::now());
    let params = PatchParams::apply(DECODE_FIELD_MANAGER).force();
    if let Err(error) = guarded.patch_status(name, &params, &Patch::Apply(&patch)).await {
        warn!(%error, "cannot write the Ready condition of an undecodable object");
    }
    Error::InvalidObject(message)
}

/// Where and why `object` (as JSON) does not decode as a `K`: `None` when it does (it changed meanwhile).
pub fn describe<K: DeserializeOwned>(object: serde_json::Value) -> Option<String> {
    match serde_path_to_error::deserialize::<_, K>(object) {
        Ok(_) => None,
        Err(error) => Some(format!("{}: {}", error.path(), error.inner())),
    }
}

/// The status apply that sets `Ready` False, reason [`INVALID_OBJECT`], on the object of `meta`.
pub fn ready_false<K: Resource<DynamicType = ()>>(
    meta: &ObjectMeta,
    message: &str,
    now: Timestamp,
) -> serde_json::Value {
    // The schema's bound on a condition's message.
    let message: String = message.chars().take(32768).collect();
    serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": {"conditions": [{
            "type": types::READY,
            "status": status::FALSE,
            "reason": INVALID_OBJECT,
            "message": message,
            "observedGeneration": meta.generation,
            "lastTransitionTime": Time(now),
        }]},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealstack_crds::Miner;
    use serde_json::json;

    fn miner_json(runtime: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
            "metadata": {"name": "m1", "namespace": "sp", "generation": 3},
            "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                     "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}, "runtime": runtime}})
    }

    /// An affinity weight past `i32`: the schema's `format: int32` is not checked by the API server.
    fn too_heavy() -> serde_json::Value {
        json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 4_294_967_296_i64, "preference": {}}]}}})
    }

    #[test]
    fn an_undecodable_object_keeps_its_metadata_and_says_where_it_fails() {
        let guard: DeserializeGuard<Miner> = serde_json::from_value(miner_json(too_heavy())).unwrap();
        assert_eq!(guard.meta().name.as_deref(), Some("m1"), "its identity, for the store and the controller");
        let error = decoded(&guard).unwrap_err();
        assert!(
            error.to_string().starts_with("Miner m1 cannot be read: Invalid value integer `4294967296`"),
            "{error}"
        );
        assert!(!error.waits_for_change(), "the referring object looks again");
        let why = describe::<Miner>(miner_json(too_heavy())).unwrap();
        assert!(why.starts_with("spec.runtime: invalid value: integer `4294967296`, expected i32"), "{why}");
        assert_eq!(describe::<Miner>(miner_json(json!({}))), None, "a Miner that decodes");
    }

    #[test]
    fn only_the_decoded_objects_are_looked_through() {
        let good: DeserializeGuard<Miner> = serde_json::from_value(miner_json(json!({}))).unwrap();
        let bad: DeserializeGuard<Miner> = serde_json::from_value(miner_json(too_heavy())).unwrap();
        let guards = [Arc::new(bad), Arc::new(good)];
        assert_eq!(decoded_objects(&guards).count(), 1);
        let reference = guarded_ref(ObjectRef::<Miner>::new("m1").within("sp"));
        assert_eq!((reference.name.as_str(), reference.namespace.as_deref()), ("m1", Some("sp")));
    }

    #[test]
    fn the_report_is_one_ready_condition() {
        let guard: DeserializeGuard<Miner> = serde_json::from_value(miner_json(too_heavy())).unwrap();
        let patch =
            ready_false::<Miner>(guard.meta(), "Miner m1 cannot be decoded", Timestamp::from_second(0).unwrap());
        assert_eq!(
            patch,
            json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "status": {"conditions": [{
                "type": "Ready", "status": "False", "reason": "InvalidObject", "message": "Miner m1 cannot be decoded",
                "observedGeneration": 3, "lastTransitionTime": "1970-01-01T00:00:00Z"}]}})
        );
    }
}
