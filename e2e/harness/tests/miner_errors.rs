//! Errors a user sees on the Miner itself (`kubectl describe miner`), with one devnet and one Miner controller for
//! all of them: an owner with no account on chain, a full node API Secret that does not exist, and a Miner the
//! operator cannot decode. Each gets a Warning Event and a condition naming the problem, and a good Miner beside
//! them goes on being reconciled, by the same operator and by a new one that lists them all anew.

use std::sync::Arc;
use std::time::Duration;

use fvm_shared::address::Address;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::events::v1::Event;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use sealstack_crds::Miner;
use sealstack_crds::conditions::{find_condition, is_true};
use sealstack_devnet::{DevnetConfig, RunningDevnet};
use sealstack_e2e::{Cluster, install_crds, ready_param_cache, wait_for};
use sealstack_operator::context::{Context, Settings};
use sealstack_operator::metrics::Metrics;
use serde_json::{Value, json};

async fn devnet(dir: &std::path::Path) -> RunningDevnet {
    let mut config = DevnetConfig::new(dir.to_path_buf(), "127.0.0.1:0".parse().unwrap());
    config.block_time = Duration::from_millis(100);
    sealstack_devnet::start(config).await.unwrap()
}

/// The Miner controller alone, counting its reconciles and their errors in `metrics`.
fn start_miner_controller(client: Client, namespace: &str, metrics: Arc<Metrics>) -> tokio::task::JoinHandle<()> {
    let settings = Settings { runtime_image: "sealstack/miner:e2e".into(), ..Default::default() };
    let (ctx, feeds) = Context::new(client.clone(), metrics, settings);
    tokio::spawn(sealstack_operator::controllers::run_miner(client, Some(namespace.to_owned()), ctx, feeds))
}

/// Miner `name` on the devnet (`lotus`), announcing `announce`, with `extra` merged into its spec.
fn miner(name: &str, announce: &str, extra: Value) -> Miner {
    let mut spec = json!({
        "fullNode": {"apiInfoSecretRef": {"name": "lotus"}},
        "worker": {"create": "bls"}, "workerFunding": "10000000000000000000",
        "sectorSize": "2KiB", "confidence": 1,
        "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"},
        "p2p": {"announceAddresses": [announce]},
    });
    spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    serde_json::from_value(json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
        "metadata": {"name": name}, "spec": spec}))
    .unwrap()
}

/// Waits for the good Miner's actor to announce `address` on chain.
async fn announced(miners: &Api<Miner>, address: &str, what: &str) {
    wait_for(what, Duration::from_secs(60), || async {
        let status = miners.get_status("good").await?.status;
        Ok(status.filter(|s| is_true(&s.conditions, "AddressesPublished") && s.on_chain_multiaddrs == [address]))
    })
    .await
    .unwrap();
}

/// The Warning Event on Miner `name` with `reason`, once there.
async fn warning(events: &Api<Event>, name: &str, reason: &str) -> Event {
    wait_for(&format!("the Warning Event {reason} on {name}"), Duration::from_secs(30), || async {
        let list = events.list(&Default::default()).await?;
        Ok(list.items.into_iter().find(|e| {
            e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
        }))
    })
    .await
    .unwrap()
}

/// The undecodable Miner is written as a hand edit would: a JSON merge patch through an untyped client (the
/// typed one could not read the answer back), of an affinity weight past `i32`. The CRD keeps the schema of
/// `NodeAffinity` as Kubernetes publishes it, `type: integer, format: int32`, and the API server does not check
/// integer formats of custom resources (it drops the formats it does not support, `int32` among them), so it
/// stores the object; the operator's types (k8s-openapi's `i32`) cannot decode it.
#[tokio::test]
async fn bad_miners_say_why_on_themselves_and_a_good_one_goes_on() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("op-miner-errors").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet(dir.path()).await;
    ready_param_cache(&client, ns.name()).await.unwrap();
    sealstack_e2e::api_info_secret(&client, ns.name(), &devnet.api_info.to_env_value()).await.unwrap();
    let metrics = Arc::new(Metrics::default());
    let first = start_miner_controller(client.clone(), ns.name(), metrics.clone());

    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    let create = |m: Miner| {
        let miners = miners.clone();
        async move { miners.create(&PostParams::default(), &m).await.unwrap() }
    };
    create(miner("good", "/ip4/198.51.100.21/tcp/24001", json!({}))).await;
    // A well-formed owner (a BLS address) that has no account on the devnet.
    let stranger = Address::new_bls(&[9; 48]).unwrap().to_string();
    create(miner("stranger", "/ip4/198.51.100.31/tcp/24001", json!({"owner": stranger}))).await;
    let missing = json!({"fullNode": {"apiInfoSecretRef": {"name": "missing-lotus"}}});
    create(miner("no-secret", "/ip4/198.51.100.32/tcp/24001", missing)).await;

    // The good Miner gets its actor and addresses.
    announced(&miners, "/ip4/198.51.100.21/tcp/24001", "the good Miner's addresses on chain").await;

    // The owner without an account: the node's answer, naming it, in ActorCreated and Ready, and an Event.
    let status = wait_for("the stranger's creation refused", Duration::from_secs(60), || async {
        let status = miners.get_status("stranger").await?.status;
        Ok(status.filter(|s| find_condition(&s.conditions, "ActorCreated").is_some_and(|c| c.status == "False")))
    })
    .await
    .unwrap();
    let created = find_condition(&status.conditions, "ActorCreated").unwrap();
    assert_eq!(created.reason, "CreationFailed", "{created:?}");
    assert!(created.message.contains(&stranger) && created.message.contains("has no actor on chain"), "{created:?}");
    let ready = find_condition(&status.conditions, "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "CreationFailed"), "{ready:?}");
    let events: Api<Event> = Api::namespaced(client.clone(), ns.name());
    let refused = warning(&events, "stranger", "Rpc").await;
    assert!(refused.note.as_deref().is_some_and(|n| n.contains(&stranger)), "{refused:?}");

    // The API Secret that does not exist: said in ActorCreated and Ready, and nothing was made for that Miner.
    let status = wait_for("the missing API Secret said", Duration::from_secs(30), || async {
        let status = miners.get_status("no-secret").await?.status;
        Ok(status.filter(|s| find_condition(&s.conditions, "ActorCreated").is_some()))
    })
    .await
    .unwrap();
    let created = find_condition(&status.conditions, "ActorCreated").unwrap();
    assert_eq!(
        (created.status.as_str(), created.reason.as_str(), created.message.as_str()),
        ("False", "MissingDependency", "Secret missing-lotus does not exist")
    );
    assert_eq!(find_condition(&status.conditions, "Ready").unwrap().reason, "MissingDependency");
    let missing = warning(&events, "no-secret", "MissingDependency").await;
    assert_eq!(missing.note.as_deref(), Some("Secret missing-lotus does not exist"));
    let services = Api::<Service>::namespaced(client.clone(), ns.name()).list(&Default::default()).await.unwrap();
    let secrets = Api::<Secret>::namespaced(client.clone(), ns.name()).list(&Default::default()).await.unwrap();
    let names = services.items.iter().map(|s| &s.metadata.name).chain(secrets.items.iter().map(|s| &s.metadata.name));
    let made: Vec<_> = names.flatten().filter(|n| n.starts_with("no-secret")).collect();
    assert!(made.is_empty(), "nothing made before the Secret is there: {made:?}");

    // The same Miner edited by hand into something the operator cannot decode (see the doc comment).
    let raw: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns.name(), &ApiResource::erase::<Miner>(&()));
    let heavy = json!({"spec": {"runtime": {"affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 4_294_967_296_i64, "preference": {}}]}}}}});
    raw.patch("no-secret", &PatchParams::default(), &Patch::Merge(&heavy)).await.unwrap();
    assert!(miners.get("no-secret").await.is_err(), "the typed client cannot read it either");
    let ready = wait_for("Ready False, InvalidObject, on the undecodable Miner", Duration::from_secs(30), || async {
        let object = raw.get("no-secret").await?;
        let conditions = object.data["status"]["conditions"].as_array().cloned().unwrap_or_default();
        Ok(conditions.into_iter().find(|c| c["type"] == "Ready" && c["reason"] == "InvalidObject"))
    })
    .await
    .unwrap();
    let message = ready["message"].as_str().unwrap();
    assert!(message.starts_with("Miner no-secret cannot be decoded by this operator: spec.runtime: "), "{message}");
    assert!(message.contains("4294967296"), "{message}");
    let undecodable = warning(&events, "no-secret", "InvalidObject").await;
    assert!(undecodable.note.as_deref().is_some_and(|n| n.contains("spec.runtime")), "{undecodable:?}");

    // The good Miner is still reconciled: a new address is announced ...
    let patch = |address: &'static str| {
        let miners = miners.clone();
        async move {
            let patch = json!({"spec": {"p2p": {"announceAddresses": [address]}}});
            miners.patch("good", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        }
    };
    patch("/ip4/198.51.100.22/tcp/24001").await;
    announced(&miners, "/ip4/198.51.100.22/tcp/24001", "the good Miner's new address beside the bad ones").await;
    // ... and by a new operator, whose first list holds the undecodable Miner (without the guard, that list
    // failed whole, and no Miner was reconciled at all).
    first.abort();
    let metrics = Arc::new(Metrics::default());
    let second = start_miner_controller(client.clone(), ns.name(), metrics.clone());
    patch("/ip4/198.51.100.23/tcp/24001").await;
    announced(&miners, "/ip4/198.51.100.23/tcp/24001", "the good Miner's address by a new operator").await;
    wait_for("the new operator's report of the undecodable Miner", Duration::from_secs(30), || async {
        Ok((sealstack_e2e::reconcile_errors(&metrics.encode(), "miner", "invalid_object") > 0).then_some(()))
    })
    .await
    .unwrap();

    assert_eq!(devnet.node.state().actors.miner_ids().len(), 1, "the good Miner's actor alone");
    second.abort();
    devnet.stop().await;
}
