//! The ParamCache's children, built from the spec alone: its PersistentVolumeClaim and its fetch Job.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EnvVar, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, PodSpec,
    PodTemplateSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use sealstack_crds::ParamCache;
use sha2::{Digest, Sha256};

use crate::digest::hex;
use crate::labels::{PARAM_CACHE_LABEL, child_labels, owner_reference};
use crate::placement::placed_pod_spec;
use crate::security::{container_security_context, pod_security_context};

/// Where the fetch Job mounts the parameter volume (the proofs library's default cache directory).
pub const PARAMS_MOUNT: &str = "/var/tmp/filecoin-proof-parameters";
/// Where the fetch Job mounts a custom manifest ConfigMap.
pub const MANIFEST_MOUNT: &str = "/etc/sealstack/manifest";
/// Retries of a failed fetch pod before the Job fails (then the controller starts a new one with backoff).
pub const FETCH_BACKOFF_LIMIT: i32 = 4;

/// What the fetch Job needs besides the spec, found by the controller's dereference step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchInputs {
    /// Image of `sealstack-miner` when the spec names none.
    pub default_image: String,
    /// Whether the manifest ConfigMap holds the SRS key (otherwise the official SRS manifest is used).
    pub srs_key_present: bool,
    /// [`manifest_digest`] of the custom manifest the Job reads; `None` without a custom manifest.
    pub manifest_digest: Option<String>,
}

/// Digest of a custom manifest's content: the parameters key's value and, when the ConfigMap has it, the SRS
/// key's value. Part of the fetch Job's name, so that an edited manifest is fetched and verified anew.
pub fn manifest_digest(parameters: &str, srs: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    for part in [Some(parameters), srs] {
        // Length-prefixed, and an absent SRS value differs from an empty one.
        match part {
            Some(value) => {
                hasher.update([1]);
                hasher.update((value.len() as u64).to_le_bytes());
                hasher.update(value.as_bytes());
            }
            None => hasher.update([0]),
        }
    }
    hex(&hasher.finalize())
}

/// Name of the claim holding the parameters: the existing one, or `<name>-params`.
pub fn claim_name(cache: &ParamCache) -> String {
    cache.spec.storage.existing_claim.clone().unwrap_or_else(|| format!("{}-params", cache.name_any()))
}

/// The claim to create, or `None` when the spec names an existing claim.
///
/// The claim has no owner reference: the parameters outlive the ParamCache on purpose (they take long to
/// fetch), like every claim holding data. It carries the ParamCache's label for clean-up by hand.
pub fn build_claim(cache: &ParamCache) -> Option<PersistentVolumeClaim> {
    let storage = &cache.spec.storage;
    if storage.existing_claim.is_some() {
        return None;
    }
    Some(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim_name(cache)),
            namespace: cache.namespace(),
            labels: Some(child_labels("param-cache", PARAM_CACHE_LABEL, &cache.name_any())),
            ..ObjectMeta::default()
        },
        spec: Some(crate::volumes::claim_spec(storage)),
        ..PersistentVolumeClaim::default()
    })
}

/// The fetch Job's name: `<name>-fetch-<hash of what it fetches and how its pod runs>`, so that a spec change
/// (a new sector size, another gateway or manifest, another image, resources or placement: a Job's pod template
/// cannot be changed) or an edited custom manifest starts a new Job, which finds the files already there,
/// verifies them against the manifest, and fetches the rest.
pub fn fetch_job_name(cache: &ParamCache, inputs: &FetchInputs) -> String {
    let mut hasher = Sha256::new();
    for arg in fetch_args(cache, inputs) {
        hasher.update(arg.as_bytes());
        hasher.update([0]);
    }
    hasher.update(serde_json::to_vec(&cache.spec.fetch).unwrap_or_default());
    // Only with a custom manifest: the names of the Jobs of other ParamCaches stay as they were.
    if let Some(digest) = &inputs.manifest_digest {
        hasher.update(digest.as_bytes());
    }
    let hash = hex(&hasher.finalize()[..4]);
    // Job names become pod name prefixes and label values: keep them within 63 characters.
    let name = cache.name_any();
    let prefix = &name[..name.len().min(63 - "-fetch-".len() - hash.len())];
    format!("{prefix}-fetch-{hash}")
}

/// The `sealstack-miner` arguments of the fetch.
fn fetch_args(cache: &ParamCache, inputs: &FetchInputs) -> Vec<String> {
    let spec = &cache.spec;
    let mut sizes: Vec<_> = spec.sector_sizes.iter().map(|s| s.bytes()).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut args = vec!["fetch-params".to_owned()];
    args.extend(sizes.into_iter().filter_map(sealstack_crds::SectorSize::from_bytes).map(|s| s.to_string()));
    args.extend(["--gateway".to_owned(), spec.gateway.clone()]);
    if let Some(config_map) = &spec.manifest.config_map {
        args.extend(["--manifest".to_owned(), format!("{MANIFEST_MOUNT}/{}", config_map.parameters_key)]);
        if inputs.srs_key_present {
            args.extend(["--srs-manifest".to_owned(), format!("{MANIFEST_MOUNT}/{}", config_map.srs_key)]);
        }
    }
    if let Some(parallel) = spec.fetch.parallel {
        args.extend(["--parallel".to_owned(), parallel.to_string()]);
    }
    args
}

/// The Job that fetches and verifies the parameters onto the claim.
pub fn build_fetch_job(cache: &ParamCache, inputs: &FetchInputs) -> Job {
    let name = cache.name_any();
    let labels = child_labels("param-fetch", PARAM_CACHE_LABEL, &name);
    let container = &cache.spec.fetch.container;
    let mut volumes = vec![Volume {
        name: "params".to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim_name(cache),
            read_only: Some(false),
        }),
        ..Volume::default()
    }];
    let mut mounts =
        vec![VolumeMount { name: "params".to_owned(), mount_path: PARAMS_MOUNT.to_owned(), ..VolumeMount::default() }];
    if let Some(config_map) = &cache.spec.manifest.config_map {
        volumes.push(Volume {
            name: "manifest".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map.name.clone(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "manifest".to_owned(),
            mount_path: MANIFEST_MOUNT.to_owned(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    let env = vec![
        EnvVar {
            name: "FIL_PROOFS_PARAMETER_CACHE".to_owned(),
            value: Some(PARAMS_MOUNT.to_owned()),
            ..EnvVar::default()
        },
        // Progress lines on stdout are JSON anyway (no terminal); logs on stderr become JSON too.
        EnvVar { name: "SEALSTACK_LOG_FORMAT".to_owned(), value: Some("json".to_owned()), ..EnvVar::default() },
    ];
    Job {
        metadata: ObjectMeta {
            name: Some(fetch_job_name(cache, inputs)),
            namespace: cache.namespace(),
            labels: Some(labels.clone()),
            owner_references: Some(vec![owner_reference(cache)]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(FETCH_BACKOFF_LIMIT),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    security_context: Some(pod_security_context()),
                    containers: vec![Container {
                        name: "fetch-params".to_owned(),
                        image: Some(container.image.clone().unwrap_or_else(|| inputs.default_image.clone())),
                        image_pull_policy: container.image_pull_policy.map(|p| p.as_str().to_owned()),
                        command: Some(vec!["sealstack-miner".to_owned()]),
                        args: Some(fetch_args(cache, inputs)),
                        env: Some(env),
                        resources: container.resources.clone(),
                        volume_mounts: Some(mounts),
                        security_context: Some(container_security_context()),
                        ..Container::default()
                    }],
                    volumes: Some(volumes),
                    ..placed_pod_spec(&cache.spec.fetch.placement)
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cache(spec: serde_json::Value) -> ParamCache {
        let mut cache: ParamCache = serde_json::from_value(json!({
            "apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache",
            "metadata": {"name": "params", "namespace": "miners", "uid": "1234"},
            "spec": spec,
        }))
        .unwrap();
        cache.metadata.uid = Some("1234".into());
        cache
    }

    fn inputs() -> FetchInputs {
        FetchInputs { default_image: "sealstack/miner:test".into(), srs_key_present: false, manifest_digest: None }
    }

    #[test]
    fn a_new_claim_with_the_spec_size_and_class() {
        let cache = cache(json!({"sectorSizes": ["2KiB"], "storage": {"size": "5Gi", "storageClassName": "fast"}}));
        let claim = build_claim(&cache).unwrap();
        assert_eq!(claim.metadata.name.as_deref(), Some("params-params"));
        assert_eq!(claim.metadata.namespace.as_deref(), Some("miners"));
        assert!(claim.metadata.owner_references.is_none(), "data claims outlive their ParamCache");
        let spec = claim.spec.unwrap();
        assert_eq!(spec.access_modes, Some(vec!["ReadWriteOnce".to_owned()]));
        assert_eq!(spec.storage_class_name.as_deref(), Some("fast"));
        assert_eq!(spec.resources.unwrap().requests.unwrap()["storage"].0, "5Gi");
    }

    #[test]
    fn an_existing_claim_is_used_as_it_is() {
        let cache = cache(json!({"sectorSizes": ["2KiB"], "storage": {"existingClaim": "shared-params"}}));
        assert!(build_claim(&cache).is_none());
        assert_eq!(claim_name(&cache), "shared-params");
        let job = build_fetch_job(&cache, &inputs());
        let volumes = job.spec.unwrap().template.spec.unwrap().volumes.unwrap();
        assert_eq!(volumes[0].persistent_volume_claim.as_ref().unwrap().claim_name, "shared-params");
    }

    #[test]
    fn the_job_runs_fetch_params_with_the_spec_sizes_gateway_and_manifest() {
        let cache = cache(json!({
            "sectorSizes": ["32GiB", "2KiB"], "gateway": "http://gw.local:8090/ipfs/",
            "manifest": {"configMap": {"name": "devnet-params"}}, "storage": {"size": "5Gi"},
            "fetch": {"parallel": 2},
        }));
        let with_srs = FetchInputs { srs_key_present: true, ..inputs() };
        let job = build_fetch_job(&cache, &with_srs);
        assert_eq!(job.metadata.owner_references.as_ref().unwrap()[0].kind, "ParamCache");
        let pod = job.spec.unwrap().template.spec.unwrap();
        let container = &pod.containers[0];
        assert_eq!(container.image.as_deref(), Some("sealstack/miner:test"));
        assert_eq!(
            container.args.as_ref().unwrap(),
            &[
                "fetch-params",
                "2KiB",
                "32GiB",
                "--gateway",
                "http://gw.local:8090/ipfs/",
                "--manifest",
                "/etc/sealstack/manifest/parameters.json",
                "--srs-manifest",
                "/etc/sealstack/manifest/srs-inner-product.json",
                "--parallel",
                "2",
            ]
        );
        let env = container.env.as_ref().unwrap();
        assert!(env.iter().any(|e| e.name == "FIL_PROOFS_PARAMETER_CACHE" && e.value.as_deref() == Some(PARAMS_MOUNT)));
        assert_eq!(pod.volumes.as_ref().unwrap()[1].config_map.as_ref().unwrap().name, "devnet-params");
        assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
        assert_eq!(container.security_context.as_ref().unwrap().read_only_root_filesystem, Some(true));

        let without_srs = build_fetch_job(&cache, &inputs());
        let args = without_srs.spec.unwrap().template.spec.unwrap().containers[0].args.clone().unwrap();
        assert!(!args.contains(&"--srs-manifest".to_owned()), "the official SRS manifest when the key is missing");
    }

    #[test]
    fn the_fetch_pod_is_placed_as_spec_fetch_says() {
        let unplaced = cache(json!({"sectorSizes": ["2KiB"], "storage": {"size": "5Gi"}}));
        let pod = build_fetch_job(&unplaced, &inputs()).spec.unwrap().template.spec.unwrap();
        assert_eq!(
            (pod.node_selector, pod.tolerations, pod.affinity),
            (None, None, None),
            "unset: left to the scheduler"
        );

        let placed = cache(json!({
            "sectorSizes": ["2KiB"], "storage": {"size": "5Gi"},
            "fetch": {"parallel": 2, "imagePullPolicy": "Never",
                      "nodeSelector": {"sealstack.io/real-node": "true"},
                      "tolerations": [{"key": "sealstack.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
                      "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                          {"weight": 1, "preference": {"matchExpressions": [{"key": "net", "operator": "In", "values": ["fast"]}]}}]}}},
        }));
        let pod = build_fetch_job(&placed, &inputs()).spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.node_selector.unwrap()["sealstack.io/real-node"], "true");
        assert_eq!(pod.tolerations.unwrap()[0].operator.as_deref(), Some("Exists"));
        assert!(pod.affinity.unwrap().node_affinity.is_some());
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"), "the rest of the pod spec stays");
        assert_eq!(pod.containers[0].image_pull_policy.as_deref(), Some("Never"));
    }

    #[test]
    fn the_job_name_changes_with_what_it_fetches_and_how_its_pod_runs() {
        let base = cache(json!({"sectorSizes": ["2KiB"], "storage": {"size": "5Gi"}}));
        let name = fetch_job_name(&base, &inputs());
        assert!(name.starts_with("params-fetch-") && name.len() == "params-fetch-".len() + 8, "{name}");
        let resized = cache(json!({"sectorSizes": ["2KiB", "8MiB"], "storage": {"size": "9Gi"}}));
        assert_ne!(fetch_job_name(&resized, &inputs()), name);
        let reordered = cache(json!({"sectorSizes": ["8MiB", "2KiB"], "storage": {"size": "1Gi"}}));
        assert_eq!(fetch_job_name(&reordered, &inputs()), fetch_job_name(&resized, &inputs()));
        let mut long = base.clone();
        long.metadata.name = Some("p".repeat(80));
        assert!(fetch_job_name(&long, &inputs()).len() <= 63);
        let mut placed = base.clone();
        placed.spec.fetch.placement.node_selector.insert("disk".into(), "nvme".into());
        assert_ne!(fetch_job_name(&placed, &inputs()), name, "a new pod template needs a new Job");
    }

    #[test]
    fn the_job_name_changes_with_the_custom_manifest_content() {
        let cache = cache(json!({
            "sectorSizes": ["2KiB"], "manifest": {"configMap": {"name": "devnet-params"}}, "storage": {"size": "5Gi"},
        }));
        let name = |parameters: &str, srs: Option<&str>| {
            let inputs = FetchInputs {
                srs_key_present: srs.is_some(),
                manifest_digest: Some(manifest_digest(parameters, srs)),
                ..inputs()
            };
            fetch_job_name(&cache, &inputs)
        };
        let original = name(r#"{"a.params": {"digest": "1"}}"#, None);
        assert_eq!(name(r#"{"a.params": {"digest": "1"}}"#, None), original, "the same content, the same Job");
        assert_ne!(name(r#"{"a.params": {"digest": "2"}}"#, None), original, "an edited manifest, a new Job");
        let with_srs = name(r#"{"a.params": {"digest": "1"}}"#, Some(r#"{"srs": "x"}"#));
        assert_ne!(with_srs, original);
        assert_ne!(
            name(r#"{"a.params": {"digest": "1"}}"#, Some(r#"{"srs": "y"}"#)),
            with_srs,
            "an edited SRS manifest"
        );
    }

    #[test]
    fn the_manifest_digest_tells_its_two_values_apart() {
        assert_eq!(manifest_digest("ab", Some("c")), manifest_digest("ab", Some("c")));
        assert_ne!(manifest_digest("ab", Some("c")), manifest_digest("a", Some("bc")));
        assert_ne!(manifest_digest("ab", None), manifest_digest("ab", Some("")));
        assert_eq!(manifest_digest("ab", None).len(), 64);
    }
}
