//! The miner runtime: a StatefulSet of one `sealstack-miner run` pod with the Miner's storage, its libp2p
//! identity, the ParamCache (read-only) and the full node's API info. Held at zero replicas until the actor
//! exists on chain: the daemon proves for that actor.

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction, PersistentVolumeClaim,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, Probe, SecretKeySelector, SecretVolumeSource, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use sealstack_crds::Miner;
use sealstack_crds::batching::BatchingSpec;
use sealstack_crds::miner::parse_duration;
use sha2::{Digest, Sha256};

use super::build::{API_PORT, JWT_SECRET_KEY, P2P_KEY, identity_secret_name, metadata, selector_labels};
use crate::digest::hex;
use crate::param_cache::build::PARAMS_MOUNT;
use crate::placement::placed_pod_spec;
use crate::security::{container_security_context, pod_security_context};

/// Where the miner repo (sector storage included) lives in the pod.
pub const REPO_MOUNT: &str = "/var/lib/sealstack/miner";
/// Where the identity Secret is mounted.
pub const IDENTITY_MOUNT: &str = "/var/run/sealstack/identity";
/// Where the API Secret (the JWT secret) is mounted.
pub const API_SECRET_MOUNT: &str = "/var/run/sealstack/api";
/// The runtime's `/metrics`, `/healthz` and `/readyz` port.
pub const METRICS_PORT: u16 = 9100;
/// Pod-template annotation holding [`api_info_digest`] of the full node's API info: the pod reads it from an
/// environment variable, at start only, so a rotated token or a moved node rolls the pod.
pub const API_INFO_DIGEST_ANNOTATION: &str = "sealstack.io/full-node-api-info-digest";

/// What the StatefulSet needs besides the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeInputs {
    /// Image of `sealstack-miner` when the spec names none.
    pub default_image: String,
    /// The ParamCache's claim.
    pub params_claim: String,
    /// The actor's ID address, once it exists.
    pub actor: Option<String>,
    /// [`api_info_digest`] of the full node's API info the pod gets; `None` sets no annotation.
    pub api_info_digest: Option<String>,
}

/// A digest of the full node's API info (the Secret's value, token included): the first 8 bytes of its
/// SHA-256, in hex. It tells versions apart without revealing the token.
pub fn api_info_digest(value: &[u8]) -> String {
    hex(&Sha256::digest(value)[..8])
}

/// Name of the StatefulSet: `<name>-runtime`.
pub fn runtime_name(miner: &Miner) -> String {
    format!("{}-runtime", miner.name_any())
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.to_owned(), value: Some(value.to_owned()), ..EnvVar::default() }
}

fn probe(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::Int(i32::from(METRICS_PORT)),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(10),
        ..Probe::default()
    }
}

fn port(name: &str, number: u16) -> ContainerPort {
    ContainerPort { name: Some(name.to_owned()), container_port: i32::from(number), ..ContainerPort::default() }
}

/// `run`'s batching flags for `spec.sealing.batching` (none when both kinds are off).
fn batching_args(batching: &BatchingSpec) -> Vec<String> {
    // The waits were checked by `validate`; the default stands in for one that could not be (never reached).
    let secs = |wait: &str| parse_duration(wait).map_or(86_400, |d| d.as_secs()).to_string();
    let mut args = Vec::new();
    let pre_commit = &batching.pre_commit;
    if pre_commit.enabled {
        args.extend(["--batch-pre-commits".to_owned(), "--max-pre-commit-batch".to_owned()]);
        args.push(pre_commit.max_batch.to_string());
        args.extend(["--pre-commit-batch-wait-secs".to_owned(), secs(&pre_commit.wait)]);
    }
    let commit = &batching.commit;
    if commit.enabled {
        args.extend([
            "--batch-commits".to_owned(),
            "--min-commit-batch".to_owned(),
            commit.min_aggregate.to_string(),
            "--max-commit-batch".to_owned(),
            commit.max_batch.to_string(),
            "--commit-batch-wait-secs".to_owned(),
            secs(&commit.wait),
            "--aggregate-above-base-fee".to_owned(),
            commit.aggregate_above_base_fee.clone(),
        ]);
    }
    args
}

/// The runtime StatefulSet.
pub fn build_runtime_stateful_set(miner: &Miner, inputs: &RuntimeInputs) -> StatefulSet {
    let spec = &miner.spec;
    let api_info = &spec.full_node.api_info_secret_ref;
    let mut vars = vec![
        EnvVar {
            name: "FULLNODE_API_INFO".to_owned(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: api_info.name.clone(),
                    key: api_info.key.clone(),
                    optional: Some(false),
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        },
        env("SEALSTACK_MINER_PATH", REPO_MOUNT),
        env("FIL_PROOFS_PARAMETER_CACHE", PARAMS_MOUNT),
        env("SEALSTACK_LOG_FORMAT", "json"),
    ];
    if let Some(actor) = &inputs.actor {
        vars.push(env("SEALSTACK_MINER_ACTOR", actor));
    }
    let mut args = vec![
        "run".to_owned(),
        "--api-listen".to_owned(),
        format!("0.0.0.0:{API_PORT}"),
        "--p2p-listen".to_owned(),
        format!("/ip4/0.0.0.0/tcp/{}", spec.p2p.port),
        "--metrics-addr".to_owned(),
        format!("0.0.0.0:{METRICS_PORT}"),
        "--libp2p-key".to_owned(),
        format!("{IDENTITY_MOUNT}/{P2P_KEY}"),
        "--jwt-secret-file".to_owned(),
        format!("{API_SECRET_MOUNT}/{JWT_SECRET_KEY}"),
        "--message-confidence".to_owned(),
        spec.confidence.to_string(),
        "--pledge".to_owned(),
        spec.sealing.pledge_sectors.to_string(),
    ];
    if !spec.mining.enabled {
        args.push("--no-mining".to_owned());
    }
    let extension = &spec.sector_lifecycle.extension;
    if extension.enabled {
        args.extend([
            "--extend-within-days".to_owned(),
            extension.within_days.to_string(),
            "--extend-to-days".to_owned(),
            extension.extend_to_days.to_string(),
            "--extend-tolerance-days".to_owned(),
            extension.tolerance_days.to_string(),
        ]);
    }
    args.extend(batching_args(&spec.sealing.batching));
    let (store_volumes, store_mounts, store_args) = super::long_term::runtime_parts(miner);
    args.extend(store_args);
    let mut volumes = vec![
        Volume {
            name: "params".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: inputs.params_claim.clone(),
                read_only: Some(true),
            }),
            ..Volume::default()
        },
        Volume {
            name: "identity".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(identity_secret_name(miner)),
                default_mode: Some(0o400),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "api-secret".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(crate::names::miner_api_secret(&miner.name_any())),
                default_mode: Some(0o400),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
    ];
    volumes.extend(store_volumes);
    let mut claim_templates = None;
    match &spec.storage.existing_claim {
        Some(claim) => volumes.push(Volume {
            name: "storage".to_owned(),
            // Writable is the default; the API server drops `readOnly: false`, so it is not set.
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: None,
            }),
            ..Volume::default()
        }),
        None => {
            claim_templates = Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta { name: Some("storage".to_owned()), ..ObjectMeta::default() },
                spec: Some(crate::volumes::claim_spec(&spec.storage)),
                ..PersistentVolumeClaim::default()
            }])
        }
    }
    // `readOnly: false` is the default, and the API server drops it: set only `true`, or the object would
    // never match what is stored and every reconcile would apply it again.
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    };
    let container = Container {
        name: "miner".to_owned(),
        image: Some(spec.runtime.container.image.clone().unwrap_or_else(|| inputs.default_image.clone())),
        image_pull_policy: spec.runtime.container.image_pull_policy.map(|p| p.as_str().to_owned()),
        command: Some(vec!["sealstack-miner".to_owned()]),
        args: Some(args),
        env: Some(vars),
        ports: Some(vec![port("p2p", spec.p2p.port), port("api", API_PORT), port("metrics", METRICS_PORT)]),
        resources: spec.runtime.container.resources.clone(),
        readiness_probe: Some(probe("/readyz")),
        liveness_probe: Some(probe("/healthz")),
        volume_mounts: Some(
            [
                mount("params", PARAMS_MOUNT, true),
                mount("identity", IDENTITY_MOUNT, true),
                mount("api-secret", API_SECRET_MOUNT, true),
                mount("storage", REPO_MOUNT, false),
            ]
            .into_iter()
            .chain(store_mounts)
            .collect(),
        ),
        security_context: Some(container_security_context()),
        ..Container::default()
    };
    let mut metadata = metadata(miner, runtime_name(miner), "miner-runtime", None);
    let mut pod_labels = selector_labels(miner);
    pod_labels.extend(metadata.labels.clone().unwrap_or_default());
    metadata.labels.get_or_insert_default().extend(selector_labels(miner));
    StatefulSet {
        metadata,
        spec: Some(StatefulSetSpec {
            // One daemon per actor, and none before the actor exists.
            replicas: Some(if inputs.actor.is_some() { 1 } else { 0 }),
            selector: LabelSelector { match_labels: Some(selector_labels(miner)), ..LabelSelector::default() },
            service_name: Some(format!("{}-api", miner.name_any())),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: inputs
                        .api_info_digest
                        .as_ref()
                        .map(|digest| [(API_INFO_DIGEST_ANNOTATION.to_owned(), digest.clone())].into()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    security_context: Some(pod_security_context()),
                    volumes: Some(volumes),
                    ..placed_pod_spec(&spec.runtime.placement)
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

    fn miner(storage: serde_json::Value) -> Miner {
        let mut miner: Miner = serde_json::from_value(json!({
            "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m1", "namespace": "sp"},
            "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                     "paramCacheRef": {"name": "params"}, "storage": storage},
        }))
        .unwrap();
        miner.metadata.uid = Some("uid-m1".into());
        miner
    }

    fn inputs(actor: Option<&str>) -> RuntimeInputs {
        RuntimeInputs {
            default_image: "sealstack/miner:test".into(),
            params_claim: "params-params".into(),
            actor: actor.map(str::to_owned),
            api_info_digest: None,
        }
    }

    #[test]
    fn held_at_zero_until_the_actor_exists() {
        let m = miner(json!({"size": "1Gi"}));
        assert_eq!(build_runtime_stateful_set(&m, &inputs(None)).spec.unwrap().replicas, Some(0));
        let set = build_runtime_stateful_set(&m, &inputs(Some("t01000")));
        let spec = set.spec.unwrap();
        assert_eq!(spec.replicas, Some(1));
        let container = &spec.template.spec.as_ref().unwrap().containers[0];
        let env = container.env.as_ref().unwrap();
        assert!(env.iter().any(|e| e.name == "SEALSTACK_MINER_ACTOR" && e.value.as_deref() == Some("t01000")));
        let api = env.iter().find(|e| e.name == "FULLNODE_API_INFO").unwrap();
        let key = api.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
        assert_eq!((key.name.as_str(), key.key.as_str()), ("lotus", "FULLNODE_API_INFO"));
        let args = container.args.as_ref().unwrap();
        assert_eq!(args[..3], ["run", "--api-listen", "0.0.0.0:2345"]);
        let flag = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].as_str());
        assert_eq!(flag("--jwt-secret-file"), Some("/var/run/sealstack/api/jwt-secret"));
        assert_eq!(flag("--pledge"), Some("0"), "no sealing unless the spec asks");
        assert!(!args.contains(&"--no-mining".to_owned()), "mining by default");
        assert_eq!(container.image.as_deref(), Some("sealstack/miner:test"));
    }

    #[test]
    fn mining_turned_off_in_the_spec_reaches_the_runtime() {
        let mut m = miner(json!({"size": "1Gi"}));
        m.spec.mining.enabled = false;
        let set = build_runtime_stateful_set(&m, &inputs(Some("t01000")));
        let args = set.spec.unwrap().template.spec.unwrap().containers[0].args.clone().unwrap();
        assert!(args.contains(&"--no-mining".to_owned()), "{args:?}");
    }

    #[test]
    fn the_extension_policy_reaches_the_runtime_only_when_enabled() {
        let args_of = |m: &Miner| {
            let set = build_runtime_stateful_set(m, &inputs(Some("t01000")));
            set.spec.unwrap().template.spec.unwrap().containers[0].args.clone().unwrap()
        };
        let mut m = miner(json!({"size": "1Gi"}));
        assert!(!args_of(&m).iter().any(|a| a.starts_with("--extend")), "sectors expire by default");
        m.spec.sector_lifecycle.extension.enabled = true;
        m.spec.sector_lifecycle.extension.within_days = 10;
        let args = args_of(&m);
        let flag = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].as_str());
        assert_eq!(
            [flag("--extend-within-days"), flag("--extend-to-days"), flag("--extend-tolerance-days")],
            [Some("10"), Some("540"), Some("7")]
        );
    }

    #[test]
    fn batching_reaches_the_runtime_as_lotus_knobs_only_when_enabled() {
        let args_of = |m: &Miner| {
            let set = build_runtime_stateful_set(m, &inputs(Some("t01000")));
            set.spec.unwrap().template.spec.unwrap().containers[0].args.clone().unwrap()
        };
        let mut m = miner(json!({"size": "1Gi"}));
        assert!(!args_of(&m).iter().any(|a| a.starts_with("--batch")), "one message per sector by default");
        m.spec.sealing.batching.pre_commit.enabled = true;
        m.spec.sealing.batching.pre_commit.wait = "1h30m".into();
        m.spec.sealing.batching.commit.enabled = true;
        m.spec.sealing.batching.commit.aggregate_above_base_fee = "0".into();
        let args = args_of(&m);
        let flag = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].as_str());
        assert!(args.contains(&"--batch-pre-commits".to_owned()) && args.contains(&"--batch-commits".to_owned()));
        assert_eq!([flag("--max-pre-commit-batch"), flag("--pre-commit-batch-wait-secs")], [Some("256"), Some("5400")]);
        assert_eq!(
            [
                flag("--min-commit-batch"),
                flag("--max-commit-batch"),
                flag("--commit-batch-wait-secs"),
                flag("--aggregate-above-base-fee")
            ],
            [Some("4"), Some("819"), Some("86400"), Some("0")]
        );
    }

    #[test]
    fn storage_is_a_claim_template_or_the_given_claim() {
        let set =
            build_runtime_stateful_set(&miner(json!({"size": "10Gi", "storageClassName": "fast"})), &inputs(None));
        let templates = set.spec.unwrap().volume_claim_templates.unwrap();
        assert_eq!(templates[0].spec.as_ref().unwrap().storage_class_name.as_deref(), Some("fast"));

        let set = build_runtime_stateful_set(&miner(json!({"existingClaim": "sectors"})), &inputs(None));
        let spec = set.spec.unwrap();
        assert!(spec.volume_claim_templates.is_none());
        let volumes = spec.template.spec.unwrap().volumes.unwrap();
        let storage = volumes.iter().find(|v| v.name == "storage").unwrap();
        assert_eq!(storage.persistent_volume_claim.as_ref().unwrap().claim_name, "sectors");
        let params = volumes.iter().find(|v| v.name == "params").unwrap();
        assert_eq!(params.persistent_volume_claim.as_ref().unwrap().read_only, Some(true));
    }

    #[test]
    fn pods_match_the_services_selector_and_run_hardened() {
        let m = miner(json!({"size": "1Gi"}));
        let spec = build_runtime_stateful_set(&m, &inputs(None)).spec.unwrap();
        let pod_labels = spec.template.metadata.unwrap().labels.unwrap();
        for (k, v) in selector_labels(&m) {
            assert_eq!(pod_labels.get(&k), Some(&v));
        }
        let pod = spec.template.spec.unwrap();
        assert!(pod.security_context.is_some() && pod.containers[0].security_context.is_some());
        assert!(pod.containers[0].readiness_probe.is_some());
    }

    #[test]
    fn the_runtime_pod_is_placed_as_spec_runtime_says() {
        let mut m = miner(json!({"size": "1Gi"}));
        let pod = build_runtime_stateful_set(&m, &inputs(None)).spec.unwrap().template.spec.unwrap();
        assert_eq!(
            (pod.node_selector, pod.tolerations, pod.affinity),
            (None, None, None),
            "unset: left to the scheduler"
        );

        m.spec.runtime = serde_json::from_value(json!({
            "image": "sealstack/miner:v2",
            "nodeSelector": {"sealstack.io/real-node": "true"},
            "tolerations": [{"key": "sealstack.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "x"}}}]}},
        }))
        .unwrap();
        let pod = build_runtime_stateful_set(&m, &inputs(None)).spec.unwrap().template.spec.unwrap();
        assert_eq!(pod.node_selector.unwrap()["sealstack.io/real-node"], "true");
        let toleration = &pod.tolerations.unwrap()[0];
        assert_eq!(
            (toleration.key.as_deref(), toleration.effect.as_deref()),
            (Some("sealstack.io/real-node"), Some("NoSchedule"))
        );
        assert!(pod.affinity.unwrap().pod_anti_affinity.is_some());
        assert_eq!(pod.containers[0].image.as_deref(), Some("sealstack/miner:v2"), "the container settings beside it");
        assert!(pod.security_context.is_some() && pod.volumes.is_some(), "the rest of the pod spec stays");
    }

    #[test]
    fn a_changed_api_info_changes_the_pod_template() {
        let m = miner(json!({"size": "1Gi"}));
        let annotation = |api_info: &str| {
            let inputs = RuntimeInputs { api_info_digest: Some(api_info_digest(api_info.as_bytes())), ..inputs(None) };
            let template = build_runtime_stateful_set(&m, &inputs).spec.unwrap().template;
            template.metadata.unwrap().annotations.unwrap()[API_INFO_DIGEST_ANNOTATION].clone()
        };
        let token = "eyJhbGciOiJIUzI1NiJ9.secret-token";
        let before = annotation(&format!("{token}:/ip4/10.0.0.5/tcp/1234/http"));
        assert_eq!(annotation(&format!("{token}:/ip4/10.0.0.5/tcp/1234/http")), before, "unchanged: no roll");
        assert_ne!(annotation(&format!("{token}x:/ip4/10.0.0.5/tcp/1234/http")), before, "a rotated token");
        assert_ne!(annotation(&format!("{token}:/ip4/10.0.0.6/tcp/1234/http")), before, "a moved node");
        assert!(before.len() == 16 && before.chars().all(|c| c.is_ascii_hexdigit()), "a digest, not the token");

        let template = build_runtime_stateful_set(&m, &inputs(None)).spec.unwrap().template;
        assert!(template.metadata.unwrap().annotations.is_none(), "no digest, no annotation");
    }
}
