//! The SealingWorker's child, built from the spec and what it references: a StatefulSet of worker pods.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, ResourceRequirements, SecretKeySelector, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::ResourceExt;
use sealstack_crds::SealingWorker;
use sealstack_crds::sealing_worker::TaskType;

use crate::labels::{MINER_LABEL, SEALING_WORKER_LABEL, child_labels, owner_reference};
use crate::param_cache::build::PARAMS_MOUNT;
use crate::placement::placed_pod_spec;
use crate::security::{container_security_context, pod_security_context};

/// Where workers keep sector data while sealing.
pub const SCRATCH_MOUNT: &str = "/var/lib/sealstack/scratch";
/// Key of the miner's API Secret holding `MINER_API_INFO` (`<token>:<multiaddr>`).
pub const MINER_API_INFO_KEY: &str = "MINER_API_INFO";

/// What the StatefulSet needs besides the spec, found by the controller's dereference step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerInputs {
    /// Image of `sealstack-miner` when the spec names none.
    pub default_image: String,
    /// The claim of the Miner's ParamCache, mounted read-only.
    pub params_claim: String,
    /// The Secret with the miner's API info.
    pub miner_api_secret: String,
    /// Whether the ParamCache is Ready; until then the pool has no pods.
    pub params_ready: bool,
}

/// Name of the StatefulSet: `<name>-worker`.
pub fn stateful_set_name(worker: &SealingWorker) -> String {
    format!("{}-worker", worker.name_any())
}

/// Labels selecting this pool's pods.
pub fn selector_labels(worker: &SealingWorker) -> BTreeMap<String, String> {
    BTreeMap::from([(SEALING_WORKER_LABEL.to_owned(), worker.name_any())])
}

/// The label selector of the pods, as the scale subresource wants it (`key=value,...`).
pub fn selector_string(worker: &SealingWorker) -> String {
    selector_labels(worker).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Container resources: the spec's, with the GPUs as limits (extended resources are set as limits).
fn resources(worker: &SealingWorker) -> Option<ResourceRequirements> {
    let mut resources = worker.spec.container.resources.clone();
    if let Some(gpu) = worker.spec.gpu.as_ref().filter(|g| g.count > 0) {
        let resources = resources.get_or_insert_with(ResourceRequirements::default);
        resources
            .limits
            .get_or_insert_with(BTreeMap::new)
            .insert(gpu.resource_name.clone(), Quantity(gpu.count.to_string()));
    }
    resources
}

/// The `--tasks` of `sealstack-miner worker`: the spec's tasks, and `Finalize` with sealing stages (the worker
/// holding a sealed sector's files hands them to the runtime).
pub fn worker_tasks(tasks: &[TaskType]) -> Vec<&'static str> {
    let mut kinds: Vec<&str> = tasks.iter().map(|t| t.as_str()).collect();
    if tasks.iter().any(|t| t.seals()) {
        kinds.push("Finalize");
    }
    kinds
}

/// The StatefulSet of worker pods.
pub fn build_stateful_set(worker: &SealingWorker, inputs: &WorkerInputs) -> StatefulSet {
    let spec = &worker.spec;
    let mut labels = child_labels("sealing-worker", SEALING_WORKER_LABEL, &worker.name_any());
    labels.insert(MINER_LABEL.to_owned(), spec.miner_ref.name.clone());
    let tasks = worker_tasks(&spec.tasks);
    let mut env = vec![
        EnvVar {
            name: MINER_API_INFO_KEY.to_owned(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: inputs.miner_api_secret.clone(),
                    key: MINER_API_INFO_KEY.to_owned(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        },
        EnvVar {
            name: "FIL_PROOFS_PARAMETER_CACHE".to_owned(),
            value: Some(PARAMS_MOUNT.to_owned()),
            ..EnvVar::default()
        },
        EnvVar { name: "SEALSTACK_LOG_FORMAT".to_owned(), value: Some("json".to_owned()), ..EnvVar::default() },
    ];
    // The root filesystem is read-only: what the proofs libraries write beside the sector files goes to scratch
    // too (the SDR parent cache PreCommit1 makes, and under HOME the GPU kernels rust-gpu-tools compiles on
    // first use, minutes for an OpenCL build); both create their folders.
    for (name, dir) in [("FIL_PROOFS_PARENT_CACHE", "filecoin-parents"), ("HOME", "home")] {
        env.push(EnvVar { name: name.to_owned(), value: Some(format!("{SCRATCH_MOUNT}/{dir}")), ..EnvVar::default() });
    }
    let mut volumes = vec![Volume {
        name: "params".to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: inputs.params_claim.clone(),
            read_only: Some(true),
        }),
        ..Volume::default()
    }];
    let mut claim_templates = None;
    match &spec.scratch.storage_class_name {
        Some(class) => {
            claim_templates = Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta { name: Some("scratch".to_owned()), ..ObjectMeta::default() },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                    storage_class_name: Some(class.clone()),
                    resources: Some(VolumeResourceRequirements {
                        requests: spec.scratch.size.clone().map(|s| BTreeMap::from([("storage".to_owned(), s)])),
                        ..VolumeResourceRequirements::default()
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            }]);
        }
        None => volumes.push(Volume {
            name: "scratch".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource {
                size_limit: spec.scratch.size.clone(),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        }),
    }
    let container = Container {
        name: "worker".to_owned(),
        image: Some(spec.container.image.clone().unwrap_or_else(|| inputs.default_image.clone())),
        image_pull_policy: spec.container.image_pull_policy.map(|p| p.as_str().to_owned()),
        command: Some(vec!["sealstack-miner".to_owned()]),
        args: Some(vec![
            "worker".to_owned(),
            "--tasks".to_owned(),
            tasks.join(","),
            "--scratch".to_owned(),
            SCRATCH_MOUNT.to_owned(),
        ]),
        env: Some(env),
        resources: resources(worker),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "params".to_owned(),
                mount_path: PARAMS_MOUNT.to_owned(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount { name: "scratch".to_owned(), mount_path: SCRATCH_MOUNT.to_owned(), ..VolumeMount::default() },
        ]),
        security_context: Some(container_security_context()),
        ..Container::default()
    };
    let mut pod_labels = selector_labels(worker);
    pod_labels.extend(labels.clone());
    StatefulSet {
        metadata: ObjectMeta {
            name: Some(stateful_set_name(worker)),
            namespace: worker.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![owner_reference(worker)]),
            ..ObjectMeta::default()
        },
        spec: Some(StatefulSetSpec {
            // Held back until the parameters are there: a worker without them cannot prove anything.
            replicas: Some(if inputs.params_ready { spec.replicas } else { 0 }),
            // Workers are independent: start and replace them all at once.
            pod_management_policy: Some("Parallel".to_owned()),
            selector: LabelSelector { match_labels: Some(selector_labels(worker)), ..LabelSelector::default() },
            service_name: None,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(pod_labels), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    security_context: Some(pod_security_context()),
                    volumes: Some(volumes),
                    ..placed_pod_spec(&spec.placement)
                }),
            },
            volume_claim_templates: claim_templates,
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn worker(spec: serde_json::Value) -> SealingWorker {
        let mut worker: SealingWorker = serde_json::from_value(json!({
            "apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker",
            "metadata": {"name": "gpu-pool", "namespace": "miners"}, "spec": spec,
        }))
        .unwrap();
        worker.metadata.uid = Some("uid-1".into());
        worker
    }

    fn inputs(params_ready: bool) -> WorkerInputs {
        WorkerInputs {
            default_image: "sealstack/miner:test".into(),
            params_claim: "params-params".into(),
            miner_api_secret: "m1-api".into(),
            params_ready,
        }
    }

    fn pod(set: &StatefulSet) -> PodSpec {
        set.spec.as_ref().unwrap().template.spec.clone().unwrap()
    }

    #[test]
    fn gpu_workers_request_gpus_and_land_on_selected_tolerating_nodes() {
        let w = worker(json!({
            "minerRef": {"name": "m1"}, "replicas": 3, "tasks": ["PreCommit2", "Commit2"],
            "gpu": {"count": 2}, "nodeSelector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "resources": {"requests": {"cpu": "4", "memory": "16Gi"}},
        }));
        let set = build_stateful_set(&w, &inputs(true));
        assert_eq!(set.metadata.name.as_deref(), Some("gpu-pool-worker"));
        assert_eq!(set.spec.as_ref().unwrap().replicas, Some(3));
        let pod = pod(&set);
        let container = &pod.containers[0];
        let resources = container.resources.as_ref().unwrap();
        assert_eq!(resources.limits.as_ref().unwrap()["nvidia.com/gpu"].0, "2");
        assert_eq!(resources.requests.as_ref().unwrap()["memory"].0, "16Gi");
        assert_eq!(pod.node_selector.unwrap()["nvidia.com/gpu.present"], "true");
        assert_eq!(pod.tolerations.unwrap()[0].key.as_deref(), Some("nvidia.com/gpu"));
        assert_eq!(container.args.as_ref().unwrap()[..3], ["worker", "--tasks", "PreCommit2,Commit2,Finalize"]);
        let params = &pod.volumes.as_ref().unwrap()[0];
        assert_eq!(params.persistent_volume_claim.as_ref().unwrap().read_only, Some(true), "params are read-only");
        let api = &container.env.as_ref().unwrap()[0];
        assert_eq!(api.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap().name, "m1-api");
        assert_eq!(set.metadata.labels.as_ref().unwrap()[MINER_LABEL], "m1");
    }

    #[test]
    fn the_pool_is_held_at_zero_until_the_params_are_ready() {
        let w = worker(json!({"minerRef": {"name": "m1"}, "replicas": 4, "tasks": ["AddPiece"]}));
        assert_eq!(build_stateful_set(&w, &inputs(false)).spec.unwrap().replicas, Some(0));
        let set = build_stateful_set(&w, &inputs(true));
        assert_eq!(set.spec.as_ref().unwrap().replicas, Some(4));
        let limits = pod(&set).containers[0].resources.clone().and_then(|r| r.limits);
        assert!(limits.is_none(), "no GPU asked, none requested");
    }

    #[test]
    fn placement_is_set_only_when_the_spec_has_it() {
        let w =
            worker(json!({"minerRef": {"name": "m1"}, "tasks": ["AddPiece"], "nodeSelector": {}, "tolerations": []}));
        let unplaced = pod(&build_stateful_set(&w, &inputs(true)));
        assert_eq!(
            (unplaced.node_selector, unplaced.tolerations, unplaced.affinity),
            (None, None, None),
            "empty: unset"
        );

        let w = worker(json!({
            "minerRef": {"name": "m1"}, "tasks": ["PreCommit1"],
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10,
                "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                    "labelSelector": {"matchLabels": {"sealstack.io/sealing-worker": "gpu-pool"}}}}]}},
        }));
        let placed = pod(&build_stateful_set(&w, &inputs(true)));
        let spread =
            placed.affinity.unwrap().pod_anti_affinity.unwrap().preferred_during_scheduling_ignored_during_execution;
        assert_eq!(spread.unwrap()[0].pod_affinity_term.topology_key, "kubernetes.io/hostname");
        assert_eq!((placed.node_selector, placed.tolerations), (None, None));
    }

    #[test]
    fn scratch_is_an_empty_dir_or_a_claim_per_pod() {
        let w = worker(json!({"minerRef": {"name": "m1"}, "tasks": ["PreCommit1"], "scratch": {"size": "100Gi"}}));
        let set = build_stateful_set(&w, &inputs(true));
        let scratch = pod(&set).volumes.unwrap().into_iter().find(|v| v.name == "scratch").unwrap();
        assert_eq!(scratch.empty_dir.unwrap().size_limit.unwrap().0, "100Gi");
        let env = pod(&set).containers[0].env.clone().unwrap();
        let parents = env.iter().find(|e| e.name == "FIL_PROOFS_PARENT_CACHE").unwrap();
        assert_eq!(
            parents.value.as_deref(),
            Some("/var/lib/sealstack/scratch/filecoin-parents"),
            "not the read-only root"
        );
        assert!(set.spec.unwrap().volume_claim_templates.is_none());

        let w = worker(json!({"minerRef": {"name": "m1"}, "tasks": ["PreCommit1"],
                              "scratch": {"size": "1Ti", "storageClassName": "nvme"}}));
        let set = build_stateful_set(&w, &inputs(true));
        let template = &set.spec.as_ref().unwrap().volume_claim_templates.as_ref().unwrap()[0];
        assert_eq!(template.spec.as_ref().unwrap().storage_class_name.as_deref(), Some("nvme"));
        assert!(pod(&set).volumes.unwrap().iter().all(|v| v.name != "scratch"));
        assert_eq!(selector_string(&w), "sealstack.io/sealing-worker=gpu-pool");
    }

    #[test]
    fn workers_get_their_tasks_and_finalize_with_sealing_stages() {
        use TaskType::*;
        assert_eq!(
            worker_tasks(&[PreCommit2, Commit2, WindowPoSt]),
            ["PreCommit2", "Commit2", "WindowPoSt", "Finalize"]
        );
        assert_eq!(
            worker_tasks(&TaskType::ALL),
            ["AddPiece", "PreCommit1", "PreCommit2", "Commit1", "Commit2", "WindowPoSt", "WinningPoSt", "Finalize"]
        );
        assert_eq!(worker_tasks(&[WindowPoSt]), ["WindowPoSt"], "a PoSt-only pool finalizes nothing");
        assert_eq!(worker_tasks(&[WindowPoSt, WinningPoSt]), ["WindowPoSt", "WinningPoSt"]);
    }
}
