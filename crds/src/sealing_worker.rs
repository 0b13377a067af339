//! `SealingWorker`: a pool of worker pods sealing and proving for one Miner.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::autoscale::{AutoscaleSpec, AutoscaleStatus};
use crate::common::{ContainerSpec, LocalRef, PodPlacement};
use crate::conditions::conditions_schema;

/// Desired state of a pool of sealing workers.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "sealstack.io",
    version = "v1alpha1",
    kind = "SealingWorker",
    namespaced,
    status = "SealingWorkerStatus",
    shortname = "sw",
    category = "sealstack",
    doc = "A pool of sealstack-miner worker pods running sealing and proving tasks for one Miner.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Miner", type_ = "string", json_path = ".spec.minerRef.name"),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "GPUs", type_ = "integer", json_path = ".spec.gpu.count"),
    printcolumn(name = "Waiting", type_ = "integer", json_path = ".status.autoscale.waitingTasks", priority = 1),
    printcolumn(name = "Tasks", type_ = "string", json_path = ".spec.tasks", priority = 1),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.gpu) || self.gpu.count == 0 || self.tasks.exists(t, t in ['PreCommit2', 'Commit2', 'WindowPoSt', 'WinningPoSt'])").message("gpu.count > 0 needs a GPU task in tasks: PreCommit2, Commit2, WindowPoSt or WinningPoSt").field_path(".gpu.count"))]
pub struct SealingWorkerSpec {
    /// The Miner these workers serve (same namespace).
    pub miner_ref: LocalRef,
    /// Number of worker pods.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,
    /// Task types the workers accept: sealing stages (a worker that seals also finalizes its sectors, handing
    /// their files to the runtime, as Lotus's FIN task), WindowPoSt (the SNARK of the runtime's WindowPoSts: a
    /// PoSt-only GPU pool is what keeps a deadline proven when one pod is lost) and WinningPoSt (the SNARK of a
    /// won round's WinningPoSt; the runtime still signs and submits the block, and makes the SNARK itself when no
    /// worker answers in time).
    #[schemars(length(min = 1, max = 7))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub tasks: Vec<TaskType>,
    /// GPUs per pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuSpec>,
    /// Nodes the worker pods may land on: `nodeSelector`, `tolerations` (GPU nodes are often tainted) and
    /// `affinity`.
    #[serde(default, flatten)]
    pub placement: PodPlacement,
    /// Image and resources of the worker container.
    #[serde(default, flatten)]
    pub container: ContainerSpec,
    /// Scratch space for sector data during sealing.
    #[serde(default)]
    pub scratch: ScratchSpec,
    /// Size the pool from the runtime's waiting tasks, between `minReplicas` and `maxReplicas` (the operator then
    /// sets `replicas`); absent, `replicas` is the user's, or an HPA's or KEDA's through the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<AutoscaleSpec>,
}

fn default_replicas() -> i32 {
    1
}

/// Sealing and proving tasks, named as Lotus's task types (AP, PC1, PC2, C1, C2, WDP, WNP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum TaskType {
    /// Add a piece (or zeroes) to an unsealed sector.
    AddPiece,
    /// SDR labelling (CPU, memory heavy).
    PreCommit1,
    /// Column hashing and tree building (GPU).
    PreCommit2,
    /// Prepare the seal proof inputs.
    Commit1,
    /// Groth16 seal proof (GPU).
    Commit2,
    /// Window proof of spacetime (GPU): the SNARK of a WindowPoSt message from the vanilla proofs the runtime
    /// makes next to its storage.
    WindowPoSt,
    /// Winning proof of spacetime (GPU): the SNARK of a won round's WinningPoSt from the vanilla proofs the
    /// runtime makes next to its storage.
    WinningPoSt,
}

impl TaskType {
    /// Every task type, in pipeline order.
    pub const ALL: [TaskType; 7] = [
        Self::AddPiece,
        Self::PreCommit1,
        Self::PreCommit2,
        Self::Commit1,
        Self::Commit2,
        Self::WindowPoSt,
        Self::WinningPoSt,
    ];

    /// Whether it is a sealing stage (its worker finalizes the sectors it seals).
    pub const fn seals(self) -> bool {
        !matches!(self, Self::WindowPoSt | Self::WinningPoSt)
    }

    /// Whether the task can use a GPU.
    pub const fn uses_gpu(self) -> bool {
        matches!(self, Self::PreCommit2 | Self::Commit2 | Self::WindowPoSt | Self::WinningPoSt)
    }

    /// The name used in the spec and on the worker's command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AddPiece => "AddPiece",
            Self::PreCommit1 => "PreCommit1",
            Self::PreCommit2 => "PreCommit2",
            Self::Commit1 => "Commit1",
            Self::Commit2 => "Commit2",
            Self::WindowPoSt => "WindowPoSt",
            Self::WinningPoSt => "WinningPoSt",
        }
    }
}

/// GPUs requested by each worker pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GpuSpec {
    /// GPUs per pod (0: none).
    #[schemars(range(min = 0, max = 16))]
    pub count: u32,
    /// Extended resource name the device plugin advertises.
    #[serde(default = "default_gpu_resource")]
    #[schemars(length(min = 1, max = 253))]
    pub resource_name: String,
}

fn default_gpu_resource() -> String {
    "nvidia.com/gpu".into()
}

/// Scratch space: a per-pod claim of a storage class, or an `emptyDir` on the node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.storageClassName) || has(self.size)").message("a scratch storageClassName needs a size").field_path(".size"))]
pub struct ScratchSpec {
    /// Size of the scratch volume (for an `emptyDir`, its size limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
    /// Give each pod a claim of this class instead of an `emptyDir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// Observed state of a SealingWorker.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SealingWorkerStatus {
    /// Generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Worker pods created.
    #[serde(default)]
    pub replicas: i32,
    /// Worker pods ready.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Label selector of the pods, for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// What the autoscaler last saw and decided (with `spec.autoscale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<AutoscaleStatus>,
    /// `ParamsReady` and `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}
