//! Claims from a `VolumeSpec`: the same shape for the parameter claim and the miner's storage.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, VolumeResourceRequirements};
use sealstack_crds::common::VolumeSpec;

/// The claim spec a `VolumeSpec` asks for (access modes default to `ReadWriteOnce`).
pub fn claim_spec(storage: &VolumeSpec) -> PersistentVolumeClaimSpec {
    let access_modes = if storage.access_modes.is_empty() {
        vec!["ReadWriteOnce".to_owned()]
    } else {
        storage.access_modes.iter().map(|m| m.as_str().to_owned()).collect()
    };
    PersistentVolumeClaimSpec {
        access_modes: Some(access_modes),
        storage_class_name: storage.storage_class_name.clone(),
        resources: Some(VolumeResourceRequirements {
            requests: storage.size.clone().map(|size| BTreeMap::from([("storage".to_owned(), size)])),
            ..VolumeResourceRequirements::default()
        }),
        ..PersistentVolumeClaimSpec::default()
    }
}
