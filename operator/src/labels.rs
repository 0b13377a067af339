//! Labels and owner references the operator puts on every child object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

/// `app.kubernetes.io/name` of every child.
pub const APP_NAME: &str = "sealstack";
/// Label naming the ParamCache a child belongs to.
pub const PARAM_CACHE_LABEL: &str = "sealstack.io/param-cache";
/// Label naming the Miner a child belongs to.
pub const MINER_LABEL: &str = "sealstack.io/miner";
/// Label naming the SealingWorker a child belongs to.
pub const SEALING_WORKER_LABEL: &str = "sealstack.io/sealing-worker";

/// The standard labels of a child: application, component, manager, and the owner's own label.
pub fn child_labels(component: &str, owner_label: &str, owner_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), APP_NAME.to_owned()),
        ("app.kubernetes.io/component".to_owned(), component.to_owned()),
        ("app.kubernetes.io/managed-by".to_owned(), crate::FIELD_MANAGER.to_owned()),
        (owner_label.to_owned(), owner_name.to_owned()),
    ])
}

/// A controller owner reference to `owner`, so that deleting it deletes the child.
///
/// # Panics
/// When `owner` has no `uid` (it was not read from the API server).
pub fn owner_reference<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    owner.controller_owner_ref(&()).unwrap_or_else(|| panic!("{} was read from the API server", owner.name_any()))
}
