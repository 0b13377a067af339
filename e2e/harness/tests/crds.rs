//! The sealstack.io CRDs against a real API server: they install, become Established, and the
//! server enforces their OpenAPI schema and CEL rules.

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, ResourceExt};
use sealstack_e2e::{Cluster, install_crds};
use serde_json::{Value, json};

fn miner_api(client: Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("sealstack.io", "v1alpha1", "Miner");
    Api::namespaced_with(client, ns, &ApiResource::from_gvk(&gvk))
}

fn miner(name: &str, spec: Value) -> anyhow::Result<DynamicObject> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": name}, "spec": spec
    }))?)
}

fn valid_spec() -> Value {
    json!({
        "fullNode": {"apiInfoSecretRef": {"name": "lotus-api"}},
        "worker": {"create": "bls"},
        "sectorSize": "2KiB",
        "paramCacheRef": {"name": "params"},
        "storage": {"size": "10Gi"},
    })
}

/// The API server's 422 message for creating `spec`.
async fn rejection(api: &Api<DynamicObject>, name: &str, spec: Value) -> anyhow::Result<String> {
    match api.create(&PostParams::default(), &miner(name, spec)?).await {
        Ok(_) => anyhow::bail!("Miner {name} was accepted"),
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 422, "expected Invalid, got {e:?}");
            Ok(e.message)
        }
        Err(e) => Err(e.into()),
    }
}

#[tokio::test]
async fn crds_install_and_become_established() {
    let Some(cluster) = Cluster::connect().await else { return };
    let names = install_crds(&cluster.client()).await.unwrap();
    let expected: Vec<String> = sealstack_crds::generate::all_crds().iter().map(|c| c.name_any()).collect();
    assert!(!expected.is_empty());
    assert_eq!(names, expected);
    // Served: the new resource answers list requests.
    let ns = cluster.namespace("crds").await.unwrap();
    let listed = miner_api(cluster.client(), ns.name()).list(&Default::default()).await.unwrap();
    assert!(listed.items.is_empty());
}

#[tokio::test]
async fn the_api_server_enforces_the_miner_schema() {
    let Some(cluster) = Cluster::connect().await else { return };
    install_crds(&cluster.client()).await.unwrap();
    let ns = cluster.namespace("miner-schema").await.unwrap();
    let api = miner_api(cluster.client(), ns.name());

    // Control: the valid spec is accepted and defaulted by the server.
    let created = api.create(&PostParams::default(), &miner("good", valid_spec()).unwrap()).await.unwrap();
    assert_eq!(created.data["spec"]["confidence"], json!(5), "server-side defaulting");

    let mut spec = valid_spec();
    spec["sectorSize"] = json!("3GiB");
    let message = rejection(&api, "bad-size", spec).await.unwrap();
    assert!(message.contains("spec.sectorSize"), "{message}");
    assert!(message.contains("\"3GiB\"") && message.contains("\"32GiB\""), "{message}");

    // A CEL rule (x-kubernetes-validations) evaluated by the API server.
    let mut spec = valid_spec();
    spec["worker"] = json!({"create": "bls", "address": "t3aaaa"});
    let message = rejection(&api, "two-workers", spec).await.unwrap();
    assert!(message.contains("set exactly one of worker.address or worker.create"), "{message}");

    // The extension policy beyond builtin-actors' maximum extension, refused naming the field; the server defaults
    // the rest of the policy (a window of 30 days) before its rules see it.
    let mut spec = valid_spec();
    spec["sectorLifecycle"] = json!({"extension": {"enabled": true, "extendToDays": 1300}});
    let message = rejection(&api, "too-long", spec).await.unwrap();
    assert!(message.contains("spec.sectorLifecycle.extension.extendToDays"), "{message}");
    assert!(message.contains("MAX_SECTOR_EXPIRATION_EXTENSION"), "{message}");
    let mut spec = valid_spec();
    spec["sectorLifecycle"] = json!({"extension": {"enabled": true, "withinDays": 600}});
    let message = rejection(&api, "window-past-target", spec).await.unwrap();
    assert!(message.contains("withinDays must be less than extendToDays"), "{message}");
    assert_eq!(created.data["spec"]["sectorLifecycle"]["extension"]["enabled"], json!(false), "off by default");

    // A ProveCommit batch beyond builtin-actors' largest aggregate, refused naming the field.
    let mut spec = valid_spec();
    spec["sealing"] = json!({"batching": {"commit": {"enabled": true, "maxBatch": 1000}}});
    let message = rejection(&api, "huge-aggregate", spec).await.unwrap();
    assert!(message.contains("spec.sealing.batching.commit.maxBatch"), "{message}");
    assert!(message.contains("MAX_AGGREGATED_SECTORS"), "{message}");
    assert_eq!(created.data["spec"]["sealing"]["batching"]["commit"]["enabled"], json!(false), "off by default");

    // Transition rule: sectorSize is immutable.
    let patch = json!({"spec": {"sectorSize": "32GiB"}});
    let err = api.patch("good", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap_err();
    let kube::Error::Api(e) = err else { panic!("unexpected error {err:?}") };
    assert_eq!(e.code, 422);
    assert!(e.message.contains("sectorSize is immutable"), "{}", e.message);
}

#[tokio::test]
async fn the_api_server_enforces_a_sealing_worker_pools_autoscale_bounds() {
    let Some(cluster) = Cluster::connect().await else { return };
    install_crds(&cluster.client()).await.unwrap();
    let ns = cluster.namespace("worker-schema").await.unwrap();
    let gvk = GroupVersionKind::gvk("sealstack.io", "v1alpha1", "SealingWorker");
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns.name(), &ApiResource::from_gvk(&gvk));
    let pool = |name: &str, autoscale: Value| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker", "metadata": {"name": name},
            "spec": {"minerRef": {"name": "m1"}, "tasks": ["Commit2"], "autoscale": autoscale},
        }))
        .unwrap()
    };
    let refused = |result: kube::Result<DynamicObject>| match result {
        Err(kube::Error::Api(e)) if e.code == 422 => e.message,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let message = refused(
        api.create(&PostParams::default(), &pool("inverted", json!({"minReplicas": 3, "maxReplicas": 1}))).await,
    );
    assert!(message.contains("spec.autoscale.minReplicas"), "{message}");
    assert!(message.contains("minReplicas must not be more than maxReplicas"), "{message}");
    let message = refused(
        api.create(&PostParams::default(), &pool("instant", json!({"maxReplicas": 2, "scaleDownDelay": "0s"}))).await,
    );
    assert!(message.contains("spec.autoscale.scaleDownDelay"), "{message}");
    let created = api.create(&PostParams::default(), &pool("good", json!({"maxReplicas": 3}))).await.unwrap();
    assert_eq!(created.data["spec"]["autoscale"], json!({"minReplicas": 0, "maxReplicas": 3, "scaleDownDelay": "10m"}));
}
