//! `ParamCache`: a volume of Filecoin proof parameters, fetched and verified by a Job.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ContainerSpec, PodPlacement, VolumeSpec};
use crate::conditions::conditions_schema;
use crate::sector_size::SectorSize;

/// The gateway Lotus fetches official parameters from (go-paramfetch's default `IPFS_GATEWAY`).
pub const DEFAULT_PARAMS_GATEWAY: &str = "https://proofs.filecoin.io/ipfs/";

/// Desired state of a ParamCache: which parameters live on which volume.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "sealstack.io",
    version = "v1alpha1",
    kind = "ParamCache",
    namespaced,
    status = "ParamCacheStatus",
    shortname = "pcache",
    category = "sealstack",
    doc = "Filecoin proof parameters (Groth16 params, verifying keys, SRS) fetched onto a volume and verified.",
    printcolumn(name = "Sizes", type_ = "string", json_path = ".spec.sectorSizes"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Bytes", type_ = "integer", json_path = ".status.bytesDone", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ParamCacheSpec {
    /// Sector sizes whose parameters are fetched (every verifying key and the SRS always are, as Lotus does).
    #[schemars(length(min = 1, max = 5))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub sector_sizes: Vec<SectorSize>,
    /// Which parameters.json lists the files (default: the official one built into sealstack-miner).
    #[serde(default)]
    pub manifest: ManifestSource,
    /// URL prefix the files' CIDs are appended to, as with `IPFS_GATEWAY`.
    #[serde(default = "default_gateway")]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("gateway must be an http:// or https:// URL"))]
    #[x_kube(validation = Rule::new("self.endsWith('/')").message("gateway must end with '/': file CIDs are appended to it"))]
    #[schemars(length(min = 8, max = 2048))]
    pub gateway: String,
    /// The volume holding the parameters; workers and miners mount it read-only.
    pub storage: VolumeSpec,
    /// The fetch Job's container and where its pod may run.
    #[serde(default)]
    pub fetch: FetchJobSpec,
}

fn default_gateway() -> String {
    DEFAULT_PARAMS_GATEWAY.into()
}

/// Where the list of parameter files comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestSource {
    /// A ConfigMap holding a custom parameters.json (and optionally srs-inner-product.json), e.g. the one
    /// `sealstack-miner params generate` writes for a devnet. Absent: the official manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ManifestConfigMap>,
}

/// A ConfigMap with parameter manifests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestConfigMap {
    /// Name of the ConfigMap in the ParamCache's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key holding parameters.json.
    #[serde(default = "default_parameters_key")]
    pub parameters_key: String,
    /// Key holding srs-inner-product.json; when the key is missing, the official SRS manifest is used.
    #[serde(default = "default_srs_key")]
    pub srs_key: String,
}

fn default_parameters_key() -> String {
    "parameters.json".into()
}

fn default_srs_key() -> String {
    "srs-inner-product.json".into()
}

/// Settings of the fetch Job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FetchJobSpec {
    /// Image and resources of the `sealstack-miner fetch-params` container.
    #[serde(default, flatten)]
    pub container: ContainerSpec,
    /// Nodes the fetch pod may land on: `nodeSelector`, `tolerations` and `affinity`.
    #[serde(default, flatten)]
    pub placement: PodPlacement,
    /// Most files downloaded at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 32))]
    pub parallel: Option<u32>,
}

/// Observed state of a ParamCache.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParamCacheStatus {
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Where the cache is in its life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ParamCachePhase>,
    /// Every file the spec needs, with its verification state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub files: Vec<ParamFileStatus>,
    /// Bytes present and verified or being fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_done: Option<u64>,
    /// Bytes of all needed files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_total: Option<u64>,
    /// The PersistentVolumeClaim holding the files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
    /// The current fetch Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Fetch Jobs that failed since the last success; sets the retry backoff.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_fetches: u32,
    /// `Ready` once every file's digest is verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Life cycle of a ParamCache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ParamCachePhase {
    /// Waiting for the volume or the Job to start.
    Pending,
    /// The Job is downloading and verifying.
    Fetching,
    /// Every file is present with the expected digest.
    Ready,
    /// The last Job failed; it is retried with backoff.
    Failed,
}

/// One parameter file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParamFileStatus {
    /// File name, e.g. `v28-stacked-proof-of-replication-...-8-0-0-....params`.
    pub name: String,
    /// Size in bytes, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Expected digest from the manifest (BLAKE2b-512, first 16 bytes, hex).
    pub expected_digest: String,
    /// Whether the file on the volume has that digest.
    pub verified: bool,
}

/// How a parameter file came to be on the volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FetchOutcome {
    /// Already present with the right digest.
    Present,
    /// Already present and not hashed, because `TRUST_PARAMS=1`.
    Trusted,
    /// Downloaded (or resumed) and verified.
    Downloaded,
}

/// The structured line `sealstack-miner fetch-params` writes on standard output for each finished file
/// when not on a terminal; the operator reads these from the fetch Job's log into the status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchProgressLine {
    /// The file's state, in the status's own shape.
    pub param_file: ParamFileStatus,
    /// How it got there.
    pub outcome: FetchOutcome,
}
