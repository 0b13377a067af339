//! The Miner's long-term stores (`spec.longTermStores`): the claims the operator makes for them (never deleted
//! by it, and without an owner reference, so deleting the Miner keeps the sectors), their volumes and mounts in
//! the runtime pod with the runtime's `--store` flags, and `status.storage` (the claims and the total capacity).
//! [`build_store_claim`], [`runtime_parts`] and [`storage_status`] are pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Api, ResourceExt};
use sealstack_crds::Miner;
use sealstack_crds::long_term_store::{LongTermStore, StorageStatus, StoreClaimStatus};

use crate::apply::apply;
use crate::context::Context;
use crate::error::Result;
use crate::labels::{MINER_LABEL, child_labels};
use crate::stores::lookup;

/// Where the long-term stores are mounted in the runtime pod, each in a directory of its name.
pub const STORES_MOUNT: &str = "/var/lib/sealstack/stores";
/// `app.kubernetes.io/component` of the claims the operator makes for long-term stores.
pub const STORE_COMPONENT: &str = "long-term-store";

/// The claim of a store: its existing claim, or `store-<miner>-<name>` made by the operator.
pub fn claim_name(miner: &Miner, store: &LongTermStore) -> String {
    match &store.volume.existing_claim {
        Some(existing) => existing.clone(),
        None => format!("store-{}-{}", miner.name_any(), store.name),
    }
}

/// The claim the operator makes for a store with a size (`None` for an existing claim): labelled with its Miner,
/// with no owner reference (it outlives the Miner).
pub fn build_store_claim(miner: &Miner, store: &LongTermStore) -> Option<PersistentVolumeClaim> {
    store.volume.size.as_ref()?;
    Some(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim_name(miner, store)),
            namespace: miner.namespace(),
            labels: Some(child_labels(STORE_COMPONENT, MINER_LABEL, &miner.name_any())),
            ..ObjectMeta::default()
        },
        spec: Some(crate::volumes::claim_spec(&store.volume)),
        status: None,
    })
}

/// The runtime pod's volumes, mounts and `run` arguments for the Miner's long-term stores.
pub fn runtime_parts(miner: &Miner) -> (Vec<Volume>, Vec<VolumeMount>, Vec<String>) {
    let (mut volumes, mut mounts, mut args) = (Vec::new(), Vec::new(), Vec::new());
    for store in &miner.spec.long_term_stores {
        let volume = format!("store-{}", store.name);
        let path = format!("{STORES_MOUNT}/{}", store.name);
        volumes.push(Volume {
            name: volume.clone(),
            // Writable is the default; the API server drops `readOnly: false`, so it is not set.
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(miner, store),
                read_only: None,
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount { name: volume, mount_path: path.clone(), ..VolumeMount::default() });
        let mut flag = format!("{path},weight={}", store.weight);
        if let Some(max) = store.max_size.as_ref().and_then(quantity_bytes) {
            flag.push_str(&format!(",max-bytes={max}"));
        }
        args.extend(["--store".to_owned(), flag]);
    }
    (volumes, mounts, args)
}

/// Applies the claims of the Miner's stores that have a size (from the watch of claims: no request when settled).
pub async fn apply_store_claims(ctx: &Context, miner: &Miner, namespace: &str) -> Result<()> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), namespace);
    for claim in miner.spec.long_term_stores.iter().filter_map(|store| build_store_claim(miner, store)) {
        let existing = lookup(&ctx.stores.claims, namespace, &claim.name_any()).await?;
        apply(&api, &claim, existing.as_deref()).await?;
    }
    Ok(())
}

/// The claim of the runtime's own storage: its existing claim, or the one its StatefulSet makes.
pub fn runtime_claim_name(miner: &Miner) -> String {
    match &miner.spec.storage.existing_claim {
        Some(existing) => existing.clone(),
        None => format!("storage-{}-0", super::runtime::runtime_name(miner)),
    }
}

/// `status.storage` from the watched claims: each store's claim, and the total capacity with the runtime's own
/// storage.
pub async fn observed(ctx: &Context, miner: &Miner, namespace: &str) -> Result<StorageStatus> {
    let mut claims = BTreeMap::new();
    let names = miner.spec.long_term_stores.iter().map(|store| claim_name(miner, store));
    for name in names.chain([runtime_claim_name(miner)]) {
        if let Some(claim) = lookup(&ctx.stores.claims, namespace, &name).await? {
            claims.insert(name, (*claim).clone());
        }
    }
    Ok(storage_status(miner, &claims))
}

/// A claim's capacity once bound, else its request (`size`, from the spec, when the claim is not seen).
fn capacity_of(claim: Option<&PersistentVolumeClaim>, size: Option<&Quantity>) -> Option<Quantity> {
    let bound = claim.and_then(|c| c.status.as_ref()?.capacity.as_ref()?.get("storage").cloned());
    let requested = claim.and_then(|c| c.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage").cloned());
    bound.or(requested).or_else(|| size.cloned())
}

/// [`observed`] from `claims` (by name).
pub fn storage_status(miner: &Miner, claims: &BTreeMap<String, PersistentVolumeClaim>) -> StorageStatus {
    let runtime = capacity_of(claims.get(&runtime_claim_name(miner)), miner.spec.storage.size.as_ref());
    let mut total = runtime.as_ref().and_then(quantity_bytes).unwrap_or(0);
    let stores = miner
        .spec
        .long_term_stores
        .iter()
        .map(|store| {
            let claim = claim_name(miner, store);
            let found = claims.get(&claim);
            let status = found.and_then(|c| c.status.as_ref());
            let capacity = capacity_of(found, store.volume.size.as_ref());
            total += capacity.as_ref().and_then(quantity_bytes).unwrap_or(0);
            let phase = match found {
                None => "Missing".to_owned(),
                Some(_) => status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".to_owned()),
            };
            StoreClaimStatus { name: store.name.clone(), claim, phase, capacity: capacity.map(|q| q.0) }
        })
        .collect();
    StorageStatus { capacity: binary_size(total), stores }
}

/// A claim as the Miner's store keeps it: whole (less managed fields) when it is a store claim the operator made
/// (its spec is compared before an apply), else its identity, labels and status (it may be a store's existing
/// claim).
pub fn reduce_claim(claim: &mut PersistentVolumeClaim) {
    claim.metadata.managed_fields = None;
    let ours = claim.labels().get("app.kubernetes.io/component").is_some_and(|c| c == STORE_COMPONENT);
    if !ours {
        claim.metadata.annotations = None;
        claim.spec = None;
    }
}

/// Predicate of a claim's triggers: its identity, phase and capacity (what `status.storage` shows).
pub fn claim_changes(claim: &PersistentVolumeClaim) -> Option<u64> {
    let capacity = |s: &k8s_openapi::api::core::v1::PersistentVolumeClaimStatus| {
        s.capacity.as_ref().and_then(|c| c.get("storage")).map(|q| q.0.clone())
    };
    let status = claim.status.as_ref().map(|s| (&s.phase, capacity(s)));
    Some(crate::digest::hash(&(&claim.metadata.uid, status, claim.metadata.deletion_timestamp.is_some())))
}

/// The Miners in `namespace` whose long-term stores use the claim `name`.
pub fn miners_using_claim<'a>(
    miners: impl Iterator<Item = &'a Miner>,
    namespace: &str,
    name: &str,
) -> Vec<kube::runtime::reflector::ObjectRef<Miner>> {
    miners
        .filter(|m| m.metadata.namespace.as_deref() == Some(namespace))
        .filter(|m| m.spec.long_term_stores.iter().any(|s| claim_name(m, s) == name))
        .map(kube::runtime::reflector::ObjectRef::from_obj)
        .collect()
}

/// The bytes of a quantity (`10Gi`, `500M`, `1e9`); `None` when it is not one.
pub fn quantity_bytes(value: &Quantity) -> Option<u64> {
    let text = value.0.trim();
    let end = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, suffix) = text.split_at(end);
    let number: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        exponent => 10f64.powi(exponent.strip_prefix(['e', 'E'])?.parse().ok()?),
    };
    Some((number * scale) as u64)
}

/// Bytes as a Kubernetes binary quantity, rounded to a tenth (`30Gi`, `1.5Ti`).
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["", "Ki", "Mi", "Gi", "Ti", "Pi"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let rounded = (value * 10.0).round() / 10.0;
    format!("{rounded}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::PersistentVolumeClaimStatus;
    use serde_json::json;

    use super::*;

    fn miner(stores: serde_json::Value) -> Miner {
        let mut miner: Miner = serde_json::from_value(json!({
            "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
            "metadata": {"name": "m", "namespace": "ns", "uid": "u1"},
            "spec": {"fullNode": {"apiInfoSecretRef": {"name": "api"}}, "sectorSize": "2KiB",
                     "worker": {"create": "bls"}, "paramCacheRef": {"name": "params"},
                     "storage": {"size": "10Gi"}, "longTermStores": stores}
        }))
        .unwrap();
        miner.metadata.uid = Some("u1".into());
        miner
    }

    #[test]
    fn a_store_with_a_size_gets_a_claim_that_outlives_the_miner() {
        let m = miner(json!([
            {"name": "fast", "volume": {"size": "20Gi", "storageClassName": "ssd"}, "weight": 20, "maxSize": "15Gi"},
            {"name": "old", "volume": {"existingClaim": "nfs-sectors"}}
        ]));
        let claim = build_store_claim(&m, &m.spec.long_term_stores[0]).unwrap();
        assert_eq!(claim.name_any(), "store-m-fast");
        assert!(claim.metadata.owner_references.is_none(), "deleting the Miner keeps the sectors");
        assert_eq!(claim.labels().get(MINER_LABEL).map(String::as_str), Some("m"));
        assert_eq!(claim.spec.unwrap().storage_class_name.as_deref(), Some("ssd"));
        assert!(build_store_claim(&m, &m.spec.long_term_stores[1]).is_none(), "an existing claim is not made");

        let (volumes, mounts, args) = runtime_parts(&m);
        let claims: Vec<&str> =
            volumes.iter().map(|v| v.persistent_volume_claim.as_ref().unwrap().claim_name.as_str()).collect();
        assert_eq!(claims, ["store-m-fast", "nfs-sectors"]);
        let paths: Vec<&str> = mounts.iter().map(|m| m.mount_path.as_str()).collect();
        assert_eq!(paths, ["/var/lib/sealstack/stores/fast", "/var/lib/sealstack/stores/old"]);
        assert_eq!(
            args,
            [
                "--store",
                "/var/lib/sealstack/stores/fast,weight=20,max-bytes=16106127360",
                "--store",
                "/var/lib/sealstack/stores/old,weight=10"
            ]
        );
    }

    #[test]
    fn the_status_sums_the_capacity_of_bound_claims_and_the_requests_of_the_others() {
        let m = miner(json!([
            {"name": "a", "volume": {"size": "20Gi"}},
            {"name": "b", "volume": {"size": "5Gi"}},
            {"name": "c", "volume": {"existingClaim": "gone"}}
        ]));
        let mut bound = build_store_claim(&m, &m.spec.long_term_stores[0]).unwrap();
        bound.status = Some(PersistentVolumeClaimStatus {
            phase: Some("Bound".into()),
            capacity: Some(BTreeMap::from([("storage".to_owned(), Quantity("21Gi".into()))])),
            ..PersistentVolumeClaimStatus::default()
        });
        let pending = build_store_claim(&m, &m.spec.long_term_stores[1]).unwrap();
        let claims = BTreeMap::from([(bound.name_any(), bound), (pending.name_any(), pending)]);
        let status = storage_status(&m, &claims);
        assert_eq!(status.capacity, "36Gi", "10Gi of the runtime, 21Gi bound, 5Gi requested");
        let phases: Vec<(&str, &str, Option<&str>)> =
            status.stores.iter().map(|s| (s.name.as_str(), s.phase.as_str(), s.capacity.as_deref())).collect();
        assert_eq!(phases, [("a", "Bound", Some("21Gi")), ("b", "Pending", Some("5Gi")), ("c", "Missing", None)]);
    }

    #[test]
    fn quantities_read_as_bytes_and_print_in_binary_units() {
        let bytes = |text: &str| quantity_bytes(&Quantity(text.into()));
        assert_eq!(bytes("10Gi"), Some(10 << 30));
        assert_eq!(bytes("1.5Ti"), Some(3 << 39));
        assert_eq!(bytes("500M"), Some(500_000_000));
        assert_eq!(bytes("1e3"), Some(1000));
        assert_eq!(bytes("12"), Some(12));
        assert_eq!(bytes("ten"), None);
        assert_eq!(binary_size(36 << 30), "36Gi");
        assert_eq!(binary_size(3 << 39), "1.5Ti");
        assert_eq!(binary_size(0), "0");
    }
}
