//! The Miner controller, in-process against the local cluster and an in-process devnet: the actor created on
//! chain once, the announce addresses published and kept equal to what the Service exposes (a NodePort on
//! the runtime node's address, following the pod to another node and the node's addresses), the full
//! node being down reported in a condition, then recovered from, a rotated API info rolling the runtime's
//! pod template, and `Ready` only once the runtime pod is.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    Namespace, Node as KubeNode, PersistentVolume, PersistentVolumeClaim, Secret, Service,
};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use sealstack_chain::{ConnectOptions, FullNodeClient, LotusJson, Node, TipSetKey};
use sealstack_crds::Miner;
use sealstack_crds::conditions::{find_condition, is_true};
use sealstack_crds::miner::MinerStatus;
use sealstack_devnet::{DevnetConfig, RunningDevnet};
use sealstack_e2e::{Cluster, install_crds, ready_param_cache, wait_for};
use sealstack_operator::context::{Context, Settings};
use sealstack_operator::metrics::Metrics;
use sealstack_operator::miner::runtime::{API_INFO_DIGEST_ANNOTATION, api_info_digest};
use serde_json::json;

async fn devnet(dir: &std::path::Path, port: u16) -> RunningDevnet {
    let mut config = DevnetConfig::new(dir.to_path_buf(), format!("127.0.0.1:{port}").parse().unwrap());
    config.block_time = Duration::from_millis(100);
    sealstack_devnet::start(config).await.unwrap()
}

fn start_miner_controller(client: Client, namespace: &str) -> tokio::task::JoinHandle<()> {
    start_counted_miner_controller(client, namespace, Arc::new(Metrics::default()))
}

/// The Miner controller with its own metrics (`client` should count its requests in them).
fn start_counted_miner_controller(
    client: Client,
    namespace: &str,
    metrics: Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    let settings = Settings { runtime_image: "sealstack/miner:e2e".into(), ..Default::default() };
    let (ctx, feeds) = Context::new(client.clone(), metrics, settings);
    tokio::spawn(sealstack_operator::controllers::run_miner(client, Some(namespace.to_owned()), ctx, feeds))
}

/// The next nonce of each address: a message sent from any of them changes it.
async fn nonces(node: &Node, addresses: [fvm_shared::address::Address; 2]) -> Vec<u64> {
    let mut nonces = Vec::new();
    for address in addresses {
        nonces.push(node.api().mpool_get_nonce(LotusJson(address)).await.unwrap());
    }
    nonces
}

/// Reconciles of the Miner controller started so far, from its metrics.
fn miner_reconciles(metrics: &Metrics) -> u64 {
    metrics
        .encode()
        .lines()
        .find(|l| l.starts_with("sealstack_operator_reconciles_total{controller=\"miner\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Volumes for the runtime pod of Miner `miner`, so that kwok's fake nodes (e2e/cluster) schedule it and make it
/// Ready, as a running miner daemon would be: the ParamCache's claim `params-params` (the ParamCache controller,
/// which would make it, does not run here) and PersistentVolumes, deleted with the namespace, bound ahead to it
/// and to the StatefulSet's claim `storage-<miner>-runtime-0`. Returns whether the cluster fakes its pods that
/// way (it has kwok nodes); on another cluster (kind) the runtime image would have to run for real, and nothing
/// is made.
async fn runtime_volumes(client: &Client, ns: &str, miner: &str) -> bool {
    let kwok = Api::<KubeNode>::all(client.clone()).list(&ListParams::default().labels("type=kwok")).await.unwrap();
    if kwok.items.is_empty() {
        return false;
    }
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    // Owned by the test's namespace: the garbage collector deletes them with it.
    let namespace = Api::<Namespace>::all(client.clone()).get(ns).await.unwrap();
    let owner = json!({"apiVersion": "v1", "kind": "Namespace", "name": ns, "uid": namespace.metadata.uid});
    for claim in ["params-params".to_string(), format!("storage-{miner}-runtime-0")] {
        let volume: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": format!("{ns}-{claim}"), "ownerReferences": [owner]},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                     "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/tmp/sealstack-e2e"},
                     "claimRef": {"namespace": ns, "name": claim}},
        }))
        .unwrap();
        volumes.create(&PostParams::default(), &volume).await.unwrap();
    }
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "params-params"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeName": format!("{ns}-params-params"),
                 "resources": {"requests": {"storage": "1Gi"}}},
    }))
    .unwrap();
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns).create(&PostParams::default(), &claim).await.unwrap();
    true
}

/// Whether a Miner has settled: its actor and addresses on chain, and `Ready`. Where the runtime pod can be Ready
/// (`runtime_runs`, see [`runtime_volumes`]) that includes the runtime; elsewhere `Ready` is False for the
/// runtime alone.
fn settled(status: &MinerStatus, runtime_runs: bool) -> bool {
    let chain_done = is_true(&status.conditions, "ActorCreated") && is_true(&status.conditions, "AddressesPublished");
    let ready = if runtime_runs {
        is_true(&status.conditions, "RuntimeReady") && is_true(&status.conditions, "Ready")
    } else {
        waits_for_runtime(status)
    };
    chain_done && ready
}

/// Whether `Ready` is False for the runtime alone.
fn waits_for_runtime(status: &MinerStatus) -> bool {
    find_condition(&status.conditions, "Ready").is_some_and(|c| {
        c.status == "False" && c.reason == "RuntimeStarting" && c.message.starts_with("not ready: RuntimeReady (")
    }) && !is_true(&status.conditions, "RuntimeReady")
}

/// The digest of the full node's API info on the runtime's pod template.
fn runtime_api_info_digest(runtime: &StatefulSet) -> Option<String> {
    let template = runtime.spec.as_ref()?.template.metadata.as_ref()?;
    template.annotations.as_ref()?.get(API_INFO_DIGEST_ANNOTATION).cloned()
}

fn miner(p2p: serde_json::Value) -> Miner {
    serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m1"},
        "spec": {
            "fullNode": {"apiInfoSecretRef": {"name": "lotus"}},
            "worker": {"create": "bls"},
            "workerFunding": "10000000000000000000",
            "sectorSize": "2KiB", "confidence": 1,
            "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"},
            "p2p": p2p,
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn a_miner_gets_its_actor_once_and_its_addresses_follow_the_service() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("op-miner").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet(dir.path(), 0).await;
    ready_param_cache(&client, ns.name()).await.unwrap();
    sealstack_e2e::api_info_secret(&client, ns.name(), &devnet.api_info.to_env_value()).await.unwrap();
    let controller = start_miner_controller(client.clone(), ns.name());

    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    let p2p = json!({"service": {"type": "LoadBalancer"}, "announceAddresses": ["/ip4/198.51.100.7/tcp/24001"]});
    miners.create(&PostParams::default(), &miner(p2p)).await.unwrap();
    // The actor and its addresses on chain, but the runtime pod cannot start yet (no volumes): not Ready, and
    // Ready says why.
    let status =
        wait_for("the actor and addresses on chain, Ready False for the runtime", Duration::from_secs(60), || async {
            Ok(miners.get_status("m1").await?.status.filter(|s| settled(s, false)))
        })
        .await
        .unwrap();
    let runtime_ready = find_condition(&status.conditions, "RuntimeReady").unwrap();
    assert_eq!((runtime_ready.status.as_str(), runtime_ready.reason.as_str()), ("False", "RuntimeStarting"));
    // Its volumes bound, the runtime pod runs (on a kwok node, faked Ready): the Miner is Ready.
    let runtime_runs = runtime_volumes(&client, ns.name(), "m1").await;
    let status = wait_for("the Miner Ready with its actor, addresses and runtime", Duration::from_secs(90), || async {
        Ok(miners.get_status("m1").await?.status.filter(|s| settled(s, runtime_runs)))
    })
    .await
    .unwrap();
    let actor = status.actor_address.clone().unwrap();
    assert_eq!(status.on_chain_multiaddrs, ["/ip4/198.51.100.7/tcp/24001"]);
    let creation = status.creation.clone().unwrap();
    assert!(creation.messages.0["create-miner"].cid.is_some(), "{creation:?}");
    // An Event for every chain message, naming its step and CID, on the Miner.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), ns.name());
    for (step, message) in &creation.messages.0 {
        let note = format!("{step}: message {}", message.cid.as_deref().unwrap_or_default());
        wait_for(&format!("the Event of {step}"), Duration::from_secs(30), || async {
            let list = events.list(&Default::default()).await?;
            Ok(list.items.into_iter().find(|e| {
                e.reason.as_deref() == Some("ChainMessagePushed")
                    && e.note.as_deref() == Some(note.as_str())
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("m1")
            }))
        })
        .await
        .unwrap();
    }

    // On chain, as the status says, with the identity Secret's peer ID.
    let node = Node::connect(&devnet.api_info, &ConnectOptions::default()).await.unwrap();
    let address = sealstack_chain::json::parse_address(&actor).unwrap();
    let info = node.api().state_miner_info(LotusJson(address), TipSetKey::head()).await.unwrap();
    assert_eq!(info.multiaddrs().iter().map(|m| m.to_string()).collect::<Vec<_>>(), status.on_chain_multiaddrs);
    assert_eq!(info.peer_id, status.peer_id);

    // The runtime StatefulSet runs one daemon for that actor.
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns.name());
    let runtime = sets.get("m1-runtime").await.unwrap();
    assert_eq!(runtime.spec.as_ref().unwrap().replicas, Some(1));
    let first_digest = api_info_digest(devnet.api_info.to_env_value().as_bytes());
    assert_eq!(runtime_api_info_digest(&runtime).as_deref(), Some(first_digest.as_str()));
    let container = &runtime.spec.unwrap().template.spec.unwrap().containers[0];
    let actor_env = container.env.as_ref().unwrap().iter().find(|e| e.name == "SEALSTACK_MINER_ACTOR").unwrap();
    assert_eq!(actor_env.value.as_deref(), Some(actor.as_str()));

    // Without the override, the LoadBalancer's ingress is announced once it has one.
    let patch = json!({"spec": {"p2p": {"announceAddresses": null}}});
    miners.patch("m1", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), ns.name());
    let ingress = json!({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}}});
    wait_for("the p2p Service", Duration::from_secs(30), || async { Ok(services.get_opt("m1-p2p").await?) })
        .await
        .unwrap();
    services.patch_status("m1-p2p", &PatchParams::default(), &Patch::Merge(&ingress)).await.unwrap();
    let status = wait_for("the LoadBalancer address on chain", Duration::from_secs(60), || async {
        let status = miners.get_status("m1").await?.status;
        Ok(status.filter(|s| s.on_chain_multiaddrs == ["/ip4/203.0.113.5/tcp/24001"] && settled(s, runtime_runs)))
    })
    .await
    .unwrap();
    assert_eq!(status.actor_address.as_deref(), Some(actor.as_str()), "the same actor");
    let info = node.api().state_miner_info(LotusJson(address), TipSetKey::head()).await.unwrap();
    assert_eq!(info.multiaddrs().iter().map(|m| m.to_string()).collect::<Vec<_>>(), ["/ip4/203.0.113.5/tcp/24001"]);

    // The API info Secret rotated: its watch has the Miner reconciled at once (settled, it would otherwise be
    // looked at again only after a minute), and the new content is read. A node moved away is reported ...
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns.name());
    let rotate = |info: String| {
        let secrets = secrets.clone();
        async move {
            let patch = json!({"stringData": {"FULLNODE_API_INFO": info}});
            secrets.patch("lotus", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        }
    };
    let free_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut moved = devnet.api_info.clone();
    moved.base_url = format!("http://127.0.0.1:{free_port}");
    rotate(moved.to_env_value()).await;
    wait_for("the rotated Secret read at once", Duration::from_secs(20), || async {
        let status = miners.get_status("m1").await?.status;
        Ok(status
            .filter(|s| find_condition(&s.conditions, "ActorCreated").is_some_and(|c| c.reason == "FullNodeError")))
    })
    .await
    .unwrap();
    // ... and one moved back, recovered from.
    rotate(devnet.api_info.to_env_value()).await;
    wait_for("the Miner Ready again", Duration::from_secs(20), || async {
        Ok(miners.get_status("m1").await?.status.filter(|s| settled(s, runtime_runs)))
    })
    .await
    .unwrap();

    // The same node's API info spelled anew (a new token would do the same) rolls the runtime pod: the pod
    // reads it from an environment variable, at start only.
    assert_eq!(runtime_api_info_digest(&sets.get("m1-runtime").await.unwrap()), Some(first_digest));
    let respelled = format!("{}\n", devnet.api_info.to_env_value());
    rotate(respelled.clone()).await;
    let respelled_digest = api_info_digest(respelled.as_bytes());
    wait_for("the runtime's pod template with the new API info's digest", Duration::from_secs(20), || async {
        let runtime = sets.get("m1-runtime").await?;
        Ok((runtime_api_info_digest(&runtime).as_deref() == Some(respelled_digest.as_str())).then_some(()))
    })
    .await
    .unwrap();

    // The runtime StatefulSet deleted by hand is made again from the deletion's watch event, well before
    // the settled Miner's next requeue (60 s).
    let deleted_uid = sets.get("m1-runtime").await.unwrap().metadata.uid;
    sets.delete("m1-runtime", &DeleteParams::background()).await.unwrap();
    wait_for("the deleted runtime StatefulSet made again", Duration::from_secs(20), || async {
        Ok(sets.get_opt("m1-runtime").await?.filter(|set| set.metadata.uid != deleted_uid))
    })
    .await
    .unwrap();

    // Exactly one miner actor exists on the devnet, however many reconciles ran.
    assert_eq!(devnet.node.state().actors.miner_ids().len(), 1);
    controller.abort();
    devnet.stop().await;
}

#[tokio::test]
async fn the_full_node_down_is_a_condition_and_the_miner_recovers() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("op-miner-down").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Reserve a port, then point the Miner at it before anything listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ready_param_cache(&client, ns.name()).await.unwrap();
    let runtime_runs = runtime_volumes(&client, ns.name(), "m1").await;
    // A token is needed in the Secret; the devnet writes its own on start, so start one briefly to get a
    // repo (and its secret), then stop it.
    let first = devnet(dir.path(), port).await;
    let info = first.api_info.to_env_value();
    first.stop().await;
    sealstack_e2e::api_info_secret(&client, ns.name(), &info).await.unwrap();
    let controller = start_miner_controller(client.clone(), ns.name());

    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    let p2p = json!({"announceAddresses": ["/ip4/198.51.100.8/tcp/24001"]});
    miners.create(&PostParams::default(), &miner(p2p)).await.unwrap();
    let status = wait_for("a FullNodeError condition", Duration::from_secs(60), || async {
        let status = miners.get_status("m1").await?.status;
        Ok(status
            .filter(|s| find_condition(&s.conditions, "ActorCreated").is_some_and(|c| c.reason == "FullNodeError")))
    })
    .await
    .unwrap();
    let condition = find_condition(&status.conditions, "ActorCreated").unwrap();
    assert!(condition.message.contains("unreachable"), "{condition:?}");
    let ready = find_condition(&status.conditions, "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "FullNodeError"), "{ready:?}");
    assert!(ready.message.contains("ActorCreated (") && ready.message.contains("unreachable"), "{ready:?}");
    // The failed reconcile, as `kubectl describe` shows it: a Warning Event on the Miner, reason from the error.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), ns.name());
    let warning = wait_for("the Warning Event of the failed reconcile", Duration::from_secs(30), || async {
        let list = events.list(&Default::default()).await?;
        Ok(list.items.into_iter().find(|e| {
            e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some("Unreachable")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("m1")
        }))
    })
    .await
    .unwrap();
    assert!(warning.note.as_deref().is_some_and(|n| n.contains("unreachable")), "{warning:?}");

    // The node comes back (same repo, same token, same port): the controller's backoff retries and succeeds.
    let devnet = devnet(dir.path(), port).await;
    wait_for("the Miner Ready after the node came back", Duration::from_secs(120), || async {
        Ok(miners.get_status("m1").await?.status.filter(|s| settled(s, runtime_runs)))
    })
    .await
    .unwrap();
    assert_eq!(devnet.node.state().actors.miner_ids().len(), 1);
    controller.abort();
    devnet.stop().await;
}

#[tokio::test]
async fn an_operator_dying_right_after_the_create_miner_push_still_makes_one_actor() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("op-miner-crash").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet(dir.path(), 0).await;
    ready_param_cache(&client, ns.name()).await.unwrap();
    let runtime_runs = runtime_volumes(&client, ns.name(), "m1").await;
    sealstack_e2e::api_info_secret(&client, ns.name(), &devnet.api_info.to_env_value()).await.unwrap();

    // The first operator records the UUID, pushes CreateMiner, and "dies" before recording the CID.
    let settings =
        Settings { runtime_image: "sealstack/miner:e2e".into(), fail_before_saving: Some("create-miner".into()) };
    let (ctx, feeds) = Context::new(client.clone(), Arc::new(Metrics::default()), settings);
    let first = tokio::spawn(sealstack_operator::controllers::run_miner(
        client.clone(),
        Some(ns.name().to_owned()),
        ctx.clone(),
        feeds,
    ));
    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    miners
        .create(&PostParams::default(), &miner(json!({"announceAddresses": ["/ip4/198.51.100.9/tcp/24001"]})))
        .await
        .unwrap();
    wait_for("the injected failure", Duration::from_secs(60), || async {
        Ok(ctx.fault_fired.load(std::sync::atomic::Ordering::SeqCst).then_some(()))
    })
    .await
    .unwrap();
    first.abort();
    let status = miners.get_status("m1").await.unwrap().status.unwrap();
    let pushed = &status.creation.unwrap().messages.0["create-miner"];
    assert!(pushed.cid.is_none(), "the CID was not recorded: {pushed:?}");

    // A new operator resumes from the status: same UUID, so the node returns the same message.
    let second = start_miner_controller(client.clone(), ns.name());
    let status = wait_for("the Miner Ready", Duration::from_secs(90), || async {
        Ok(miners.get_status("m1").await?.status.filter(|s| settled(s, runtime_runs)))
    })
    .await
    .unwrap();
    assert!(status.actor_address.is_some());
    assert_eq!(devnet.node.state().actors.miner_ids().len(), 1, "exactly one miner actor");
    let owner = devnet.node.state().wallet.default_address().unwrap();
    // fund-worker, create-miner and one ChangeMultiaddrs would come from the worker; the owner sent two.
    let node = Node::connect(&devnet.api_info, &ConnectOptions::default()).await.unwrap();
    assert_eq!(node.api().mpool_get_nonce(LotusJson(owner)).await.unwrap(), 2);
    second.abort();
    devnet.stop().await;
}

#[tokio::test]
async fn a_creation_waiting_for_its_message_shows_the_cid_and_a_new_operator_sends_nothing_again() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("op-miner-wait").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Slow blocks and a confidence of 3: each message waits some seconds for its block and the epochs on top.
    let mut config = DevnetConfig::new(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap());
    config.block_time = Duration::from_secs(2);
    let devnet = sealstack_devnet::start(config).await.unwrap();
    ready_param_cache(&client, ns.name()).await.unwrap();
    let runtime_runs = runtime_volumes(&client, ns.name(), "m1").await;
    sealstack_e2e::api_info_secret(&client, ns.name(), &devnet.api_info.to_env_value()).await.unwrap();
    let first = start_miner_controller(client.clone(), ns.name());
    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    let mut m = miner(json!({"announceAddresses": ["/ip4/198.51.100.11/tcp/24001"]}));
    m.spec.confidence = 3;
    miners.create(&PostParams::default(), &m).await.unwrap();

    // While CreateMiner waits for its block, the Miner says so, naming the message the status journaled.
    let waiting =
        wait_for("ActorCreated False, WaitingForMessage on create-miner", Duration::from_secs(60), || async {
            let status = miners.get_status("m1").await?.status.unwrap_or_default();
            Ok(find_condition(&status.conditions, "ActorCreated")
                .filter(|c| c.status == "False" && c.reason == "WaitingForMessage")
                .filter(|c| c.message.starts_with("create-miner: message "))
                .map(|c| (c.message.clone(), status.clone())))
        })
        .await
        .unwrap();
    let (message, status) = waiting;
    let cid = status.creation.as_ref().and_then(|c| c.messages.0["create-miner"].cid.clone()).unwrap();
    assert!(message.contains(&cid), "the condition names the journaled CID {cid}: {message}");
    assert!(status.actor_address.is_none(), "no actor before the message lands");
    // (The condition is written at a reconcile's end: the reconcile did not wait for the chain.)

    // The operator goes away while the message waits; a new one takes the creation up from the status.
    first.abort();
    let second = start_miner_controller(client.clone(), ns.name());
    let status = wait_for("the Miner Ready", Duration::from_secs(120), || async {
        Ok(miners.get_status("m1").await?.status.filter(|s| settled(s, runtime_runs)))
    })
    .await
    .unwrap();
    assert_eq!(status.creation.unwrap().messages.0["create-miner"].cid.as_deref(), Some(cid.as_str()), "the same CID");
    assert_eq!(devnet.node.state().actors.miner_ids().len(), 1, "exactly one miner actor");
    let owner = devnet.node.state().wallet.default_address().unwrap();
    let node = Node::connect(&devnet.api_info, &ConnectOptions::default()).await.unwrap();
    assert_eq!(
        node.api().mpool_get_nonce(LotusJson(owner)).await.unwrap(),
        2,
        "fund-worker and CreateMiner, once each"
    );
    second.abort();
    devnet.stop().await;
}

/// Starts a fresh Miner controller over `namespace` (its requests counted), lets it list everything and reconcile
/// (the reconciles its children's initial lists trigger, and the first one, run to the end), and asserts it made
/// no write call to Kubernetes. Returns the running controller.
async fn fresh_operator_writes_nothing(cluster: &Cluster, namespace: &str) -> tokio::task::JoinHandle<()> {
    let metrics = Arc::new(Metrics::default());
    let counted = sealstack_operator::kube_client::instrumented_client(cluster.config(), metrics.clone()).unwrap();
    let fresh = start_counted_miner_controller(counted, namespace, metrics.clone());
    wait_for("the fresh operator's first reconcile", Duration::from_secs(30), || async {
        Ok((miner_reconciles(&metrics) > 0).then_some(()))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(metrics.kube_writes(), 0, "no write call at rest: {}", metrics.encode());
    fresh
}

#[tokio::test]
async fn a_ready_miner_makes_no_writes_when_a_fresh_operator_resyncs() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("op-miner-rest").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet(dir.path(), 0).await;
    ready_param_cache(&client, ns.name()).await.unwrap();
    let runtime_runs = runtime_volumes(&client, ns.name(), "m1").await;
    sealstack_e2e::api_info_secret(&client, ns.name(), &devnet.api_info.to_env_value()).await.unwrap();
    let first = start_miner_controller(client.clone(), ns.name());
    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    miners
        .create(&PostParams::default(), &miner(json!({"announceAddresses": ["/ip4/198.51.100.10/tcp/24001"]})))
        .await
        .unwrap();
    let ready = wait_for("the Miner Ready", Duration::from_secs(90), || async {
        Ok(miners.get_status("m1").await?.status.filter(|s| settled(s, runtime_runs)))
    })
    .await
    .unwrap();
    // Let the first operator finish what the Ready status started (its children's own updates).
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.abort();
    let node = Node::connect(&devnet.api_info, &ConnectOptions::default()).await.unwrap();
    let owner = devnet.node.state().wallet.default_address().unwrap();
    let worker = sealstack_chain::json::parse_address(ready.worker_address.as_deref().unwrap()).unwrap();
    let before = nonces(&node, [owner, worker]).await;
    let at_rest = miners.get_status("m1").await.unwrap().status.unwrap();

    // A fresh operator over the unchanged world: it lists everything, reconciles the Miner (reading its
    // stores and the chain), and makes no write call to Kubernetes and sends nothing on chain.
    let second = fresh_operator_writes_nothing(&cluster, ns.name()).await;
    assert_eq!(nonces(&node, [owner, worker]).await, before, "no chain message at rest");
    let status = miners.get_status("m1").await.unwrap().status.unwrap();
    assert_eq!(status, at_rest, "the status is as the first operator left it");
    second.abort();
    devnet.stop().await;
}

#[tokio::test]
async fn a_long_term_store_added_to_a_ready_miner_is_claimed_mounted_and_counted() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("op-miner-stores").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet(dir.path(), 0).await;
    ready_param_cache(&client, ns.name()).await.unwrap();
    if !runtime_volumes(&client, ns.name(), "m1").await {
        return devnet.stop().await;
    }
    // A volume for the store's claim, bound ahead as the others (deleted with the namespace).
    let namespace = Api::<Namespace>::all(client.clone()).get(ns.name()).await.unwrap();
    let owner = json!({"apiVersion": "v1", "kind": "Namespace", "name": ns.name(), "uid": namespace.metadata.uid});
    let volume: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": format!("{}-store-m1-archive", ns.name()), "ownerReferences": [owner]},
        "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
                 "persistentVolumeReclaimPolicy": "Retain", "hostPath": {"path": "/tmp/sealstack-e2e"},
                 "claimRef": {"namespace": ns.name(), "name": "store-m1-archive"}},
    }))
    .unwrap();
    Api::<PersistentVolume>::all(client.clone()).create(&PostParams::default(), &volume).await.unwrap();
    sealstack_e2e::api_info_secret(&client, ns.name(), &devnet.api_info.to_env_value()).await.unwrap();
    let first = start_miner_controller(client.clone(), ns.name());
    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    miners
        .create(&PostParams::default(), &miner(json!({"announceAddresses": ["/ip4/198.51.100.11/tcp/24001"]})))
        .await
        .unwrap();
    wait_for("the Miner Ready", Duration::from_secs(90), || async {
        Ok(miners.get_status("m1").await?.status.filter(|s| settled(s, true)))
    })
    .await
    .unwrap();

    // A store added to the running Miner: its claim made (kept when the Miner goes), bound, mounted into the
    // runtime with its --store flag, and counted in status.storage (the runtime's 1Gi and the store's 2Gi).
    let patch =
        json!({"spec": {"longTermStores": [{"name": "archive", "volume": {"size": "2Gi", "storageClassName": ""}}]}});
    miners.patch("m1", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let status = wait_for("the store counted", Duration::from_secs(60), || async {
        let status = miners.get_status("m1").await?.status;
        Ok(status.filter(|s| s.storage.as_ref().is_some_and(|st| st.capacity == "3Gi")))
    })
    .await
    .unwrap();
    let storage = status.storage.unwrap();
    assert_eq!((storage.stores[0].claim.as_str(), storage.stores[0].phase.as_str()), ("store-m1-archive", "Bound"));
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns.name());
    let claim = claims.get("store-m1-archive").await.unwrap();
    assert!(claim.metadata.owner_references.is_none(), "the store's claim outlives the Miner");
    let runtime = Api::<StatefulSet>::namespaced(client.clone(), ns.name()).get("m1-runtime").await.unwrap();
    let pod = runtime.spec.unwrap().template.spec.unwrap();
    let volume = pod.volumes.unwrap().into_iter().find(|v| v.name == "store-archive").expect("the store's volume");
    assert_eq!(volume.persistent_volume_claim.unwrap().claim_name, "store-m1-archive");
    let args = pod.containers[0].args.clone().unwrap();
    assert!(args.windows(2).any(|a| a == ["--store", "/var/lib/sealstack/stores/archive,weight=10"]), "{args:?}");
    let wide = sealstack_e2e::tools::kubectl(&["get", "miner", "m1", "-n", ns.name(), "-o", "wide"], None);
    let table = String::from_utf8_lossy(&wide.stdout);
    assert!(table.lines().next().unwrap_or_default().contains("STORAGE") && table.contains("3Gi"), "{table}");

    // A fresh operator over the settled world writes nothing: the store's claim is not applied again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.abort();
    fresh_operator_writes_nothing(&cluster, ns.name()).await.abort();
    devnet.stop().await;
}

/// The status of Miner `m1` once it is settled with its runtime and `wanted` is its one on-chain multiaddr.
async fn settled_on(miners: &Api<Miner>, what: &str, wanted: &str, timeout: Duration) -> MinerStatus {
    wait_for(what, timeout, || async {
        let status = miners.get_status("m1").await?.status;
        Ok(status.filter(|s| s.on_chain_multiaddrs == [wanted] && settled(s, true)))
    })
    .await
    .unwrap()
}

/// The address of `type_` of the Node `name`.
async fn node_address(nodes: &Api<KubeNode>, name: &str, type_: &str) -> Option<String> {
    let node = nodes.get(name).await.unwrap();
    node.status?.addresses?.into_iter().find(|a| a.type_ == type_).map(|a| a.address)
}

#[tokio::test]
async fn a_node_port_miner_announces_its_runtime_nodes_address_and_follows_it() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("op-miner-nodeport").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let devnet = devnet(dir.path(), 0).await;
    ready_param_cache(&client, ns.name()).await.unwrap();
    // The runtime pod must be scheduled for its node to be announced: on a kwok node.
    if !runtime_volumes(&client, ns.name(), "m1").await {
        eprintln!("skipped: no kwok nodes to run the runtime pod on");
        return;
    }
    sealstack_e2e::api_info_secret(&client, ns.name(), &devnet.api_info.to_env_value()).await.unwrap();
    let controller = start_miner_controller(client.clone(), ns.name());

    // A NodePort Service (the default) without explicit addresses: the node port on the runtime's node.
    let miners: Api<Miner> = Api::namespaced(client.clone(), ns.name());
    miners.create(&PostParams::default(), &miner(json!({}))).await.unwrap();
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), ns.name());
    let scheduled = |pods: Api<k8s_openapi::api::core::v1::Pod>| async move {
        let pod = pods.get_opt("m1-runtime-0").await?;
        Ok(pod.filter(|p| p.metadata.deletion_timestamp.is_none()).and_then(|p| p.spec?.node_name))
    };
    let first =
        wait_for("the runtime pod scheduled", Duration::from_secs(90), || scheduled(pods.clone())).await.unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), ns.name());
    let node_port = services.get("m1-p2p").await.unwrap().spec.unwrap().ports.unwrap()[0].node_port.unwrap();
    let nodes: Api<KubeNode> = Api::all(client.clone());
    let internal = node_address(&nodes, &first, "InternalIP").await.unwrap();
    let status = settled_on(
        &miners,
        "the node port on chain",
        &format!("/ip4/{internal}/tcp/{node_port}"),
        Duration::from_secs(90),
    )
    .await;
    let node = Node::connect(&devnet.api_info, &ConnectOptions::default()).await.unwrap();
    let actor = sealstack_chain::json::parse_address(status.actor_address.as_deref().unwrap()).unwrap();
    let info = node.api().state_miner_info(LotusJson(actor), TipSetKey::head()).await.unwrap();
    assert_eq!(info.multiaddrs().iter().map(|m| m.to_string()).collect::<Vec<_>>(), status.on_chain_multiaddrs);

    // The node gains an ExternalIP: the Node watch has the settled Miner (otherwise looked at again only
    // after a minute) announce it at once.
    let external = json!({"status": {"addresses": [{"type": "ExternalIP", "address": "203.0.113.77"}]}});
    nodes.patch_status(&first, &PatchParams::default(), &Patch::Strategic(&external)).await.unwrap();
    settled_on(
        &miners,
        "the ExternalIP on chain",
        &format!("/ip4/203.0.113.77/tcp/{node_port}"),
        Duration::from_secs(30),
    )
    .await;

    // The runtime moved to another node (pinned there): the pod watch has the Miner announce that node's
    // address. (An ExternalIP of its own, so that the set differs from every one announced before: the address
    // journal, `status.addressMessages`, keeps a done record per set and would not send a set again.)
    let kwok = nodes.list(&ListParams::default().labels("type=kwok")).await.unwrap();
    let second = kwok.items.into_iter().filter_map(|n| n.metadata.name).find(|n| *n != first).unwrap();
    let external = json!({"status": {"addresses": [{"type": "ExternalIP", "address": "203.0.113.78"}]}});
    nodes.patch_status(&second, &PatchParams::default(), &Patch::Strategic(&external)).await.unwrap();
    let pin = json!({"spec": {"runtime": {"nodeSelector": {"kubernetes.io/hostname": second}}}});
    miners.patch("m1", &PatchParams::default(), &Patch::Merge(&pin)).await.unwrap();
    wait_for("the runtime pod on the other node", Duration::from_secs(90), || async {
        Ok(scheduled(pods.clone()).await?.filter(|n| *n == second))
    })
    .await
    .unwrap();
    let wanted = format!("/ip4/203.0.113.78/tcp/{node_port}");
    let status = settled_on(&miners, "the other node's address on chain", &wanted, Duration::from_secs(60)).await;
    let info = node.api().state_miner_info(LotusJson(actor), TipSetKey::head()).await.unwrap();
    assert_eq!(info.multiaddrs().iter().map(|m| m.to_string()).collect::<Vec<_>>(), status.on_chain_multiaddrs);

    // The nodes as they were (the kwok nodes are shared with the other tests).
    let restore = json!({"status": {"addresses": [{"type": "ExternalIP", "$patch": "delete"}]}});
    for name in [&first, &second] {
        nodes.patch_status(name, &PatchParams::default(), &Patch::Strategic(&restore)).await.unwrap();
        assert_eq!(node_address(&nodes, name, "ExternalIP").await, None);
    }
    assert_eq!(devnet.node.state().actors.miner_ids().len(), 1);
    controller.abort();
    devnet.stop().await;
}
