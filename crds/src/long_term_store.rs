//! A Miner's long-term stores (`spec.longTermStores`, lotus-miner's `storage attach --store`): volumes beside the
//! runtime's own claim that finalized sectors are placed on by weight; and what the operator observed of them
//! (`status.storage`).

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::common::VolumeSpec;

/// One long-term store: a new claim or an existing one, mounted into the runtime at
/// `/var/lib/sealstack/stores/<name>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LongTermStore {
    /// The store's name within the Miner: its mount directory, and its claim `store-<miner>-<name>` when the
    /// operator makes one.
    #[schemars(length(min = 1, max = 40), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// Its volume: a new claim (size, storage class, access modes) or an existing claim. A claim the operator made
    /// is never deleted by it (it holds sectors): removing the store from the list leaves the claim.
    pub volume: VolumeSpec,
    /// Its share of new sectors against the other stores' (the runtime's own storage weighs 10; default 10).
    #[serde(default = "default_weight")]
    #[schemars(range(min = 1, max = 1000))]
    pub weight: u32,
    /// The most its sectors may take (default: the volume's room).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Quantity>,
}

fn default_weight() -> u32 {
    10
}

/// The Miner's storage as the operator sees it: the claims and their capacity (what the runtime uses of them is
/// in its metrics and `sealstack-miner storage list`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageStatus {
    /// The capacity of the runtime's own storage and of the long-term stores' claims, summed (`"30Gi"`): bound
    /// claims count their capacity, pending ones their request.
    pub capacity: String,
    /// Each long-term store's claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<StoreClaimStatus>,
}

/// A long-term store's claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreClaimStatus {
    /// The store's name.
    pub name: String,
    /// Its claim.
    pub claim: String,
    /// The claim's phase (`Pending`, `Bound`, `Lost`), or `Missing` for an existing claim that is not there.
    pub phase: String,
    /// Its capacity once bound (its request before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<String>,
}
