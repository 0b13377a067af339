//! The Miner reconcile against a mocked API server (tower-test): the requests each step makes.

use std::sync::Mutex;

use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMetaExt;
use sealstack_crds::conditions::find_condition;
use sealstack_crds::miner::{CreationRecord, MessageLog, PushRecord};
use serde_json::{Value, json};

use super::*;
use crate::context::Settings;
use crate::metrics::Metrics;
use crate::miner::build::{build_api_secret, build_api_service, build_identity_secret, build_p2p_service, peer_id_of};
use crate::stores::Feeds;
use crate::testing::{self, Recorded};

const STATUS_PATH: &str = "/apis/sealstack.io/v1alpha1/namespaces/sp/miners/m1/status";

fn miner(status: Option<MinerStatus>) -> Miner {
    let mut miner: Miner = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
        "metadata": {"name": "m1", "namespace": "sp", "uid": "uid-m1", "generation": 2},
        "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                 "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
    }))
    .unwrap();
    miner.status = status;
    miner
}

const API_INFO_PATH: &str = "/api/v1/namespaces/sp/secrets/lotus";

/// The full node's API info Secret the Miners name, at resource version 1.
fn api_info_secret() -> Secret {
    serde_json::from_value(json!({"metadata": {"name": "lotus", "namespace": "sp", "resourceVersion": "1"},
        "data": {"FULLNODE_API_INFO": "dG9rOi9pcDQvMTI3LjAuMC4xL3RjcC8xMjM0L2h0dHA="}}))
    .unwrap()
}

/// Answers a status patch with the Miner holding the patched status, a status GET with `stored`, and a GET of
/// the API info Secret with [`api_info_secret`].
fn api_server(miner: &Miner, stored: MinerStatus) -> impl Fn(&Recorded) -> (u16, Value) + Send + Sync + 'static {
    let object = serde_json::to_value(miner).unwrap();
    move |request| {
        if request.path == API_INFO_PATH {
            return (200, serde_json::to_value(api_info_secret()).unwrap());
        }
        assert_eq!(request.path, STATUS_PATH, "only the Miner's status: {request:?}");
        let mut reply = object.clone();
        reply["status"] = match request.method {
            http::Method::PATCH => request.body["status"].clone(),
            _ => serde_json::to_value(&stored).unwrap(),
        };
        (200, reply)
    }
}

fn context(client: kube::Client) -> (Arc<Context>, Feeds) {
    Context::new(client, Arc::new(Metrics::default()), Settings::default())
}

fn requests(requests: &testing::Requests) -> Vec<Recorded> {
    requests.lock().unwrap().clone()
}

#[tokio::test]
async fn a_miner_waiting_for_its_param_cache_writes_its_status_once_then_nothing() {
    let waiting = miner(None);
    let (client, log) = testing::client(api_server(&waiting, MinerStatus::default()));
    let (ctx, mut feeds) = context(client);
    // What the watches hold: the ParamCache (not Ready), and the Secrets and Services made before.
    feeds.caches.put_decoded(
        serde_json::from_value(json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache",
            "metadata": {"name": "params", "namespace": "sp"},
            "spec": {"sectorSizes": ["2KiB"], "storage": {"size": "1Gi"}}}))
        .unwrap(),
    );
    // The full node's API info Secret, known to the metadata watch (its data is read once).
    feeds.miner.secret_versions.put(api_info_secret().metadata.into_request_partial::<Secret>());
    let (identity, peer_id) = build_identity_secret(&waiting);
    feeds.miner.owned_secrets.put(identity);
    feeds.miner.owned_secrets.put(build_api_secret(&waiting, "sp"));
    // As the operator applied them: with the digest of what it applied.
    feeds.miner.services.put(crate::apply::stamped(&build_p2p_service(&waiting)));
    feeds.miner.services.put(crate::apply::stamped(&build_api_service(&waiting)));
    // No claim yet (the runtime's is made with its StatefulSet).
    feeds.miner.claims.listed();

    let action = reconcile(Arc::new(waiting.clone()), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(WHILE_WAITING));
    let made = std::mem::take(&mut *log.lock().unwrap());
    let calls: Vec<_> = made.iter().map(|r| (r.method.clone(), r.path.as_str())).collect();
    assert_eq!(
        calls,
        [(http::Method::GET, API_INFO_PATH), (http::Method::PATCH, STATUS_PATH)],
        "the API info's data read once, and one write, the status; everything else from the watches"
    );
    let status: MinerStatus = serde_json::from_value(made[1].body["status"].clone()).unwrap();
    assert_eq!((status.observed_generation, status.peer_id.as_deref()), (Some(2), Some(peer_id.as_str())));
    let params = find_condition(&status.conditions, PARAMS_READY).unwrap();
    assert_eq!((params.status.as_str(), params.reason.as_str()), (FALSE, "WaitingForParamCache"));
    let ready = find_condition(&status.conditions, READY).unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), (FALSE, "WaitingForParamCache"));
    assert!(ready.message.starts_with("not ready: ParamsReady (waiting for ParamCache params"), "{ready:?}");
    assert!(find_condition(&status.conditions, ACTOR_CREATED).is_none(), "the chain was not reached");

    // The next look at the unchanged world: no request at all.
    let again = reconcile(Arc::new(miner(Some(status))), ctx).await.unwrap();
    assert_eq!(again, Action::requeue(WHILE_WAITING));
    assert!(requests(&log).is_empty(), "no request at rest: {:?}", requests(&log));
}

#[tokio::test]
async fn a_new_miners_secrets_are_created_without_a_read_and_an_existing_one_is_read_after_a_conflict() {
    let fresh = miner(None);
    let (existing, _) = build_identity_secret(&fresh);
    let identity_json = serde_json::to_value(&existing).unwrap();
    let miner_json = serde_json::to_value(&fresh).unwrap();
    let (client, log) = testing::client(move |request| match (request.method.clone(), request.path.as_str()) {
        // The identity Secret is there already (the watch has not shown it): the create conflicts.
        (http::Method::POST, "/api/v1/namespaces/sp/secrets")
            if request.body["metadata"]["name"] == "m1-p2p-identity" =>
        {
            (
                409,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "AlreadyExists", "code": 409}),
            )
        }
        (http::Method::POST, "/api/v1/namespaces/sp/secrets") => (201, request.body.clone()),
        (http::Method::GET, "/api/v1/namespaces/sp/secrets/m1-p2p-identity") => (200, identity_json.clone()),
        _ => (200, miner_json.clone()),
    });
    let (ctx, mut feeds) = context(client);
    feeds.miner.owned_secrets.listed();
    feeds.miner.secret_versions.listed();
    let peer = identity(&ctx, &fresh, "sp").await.unwrap();
    assert_eq!(Some(peer.to_base58()), peer_id_of(&existing), "the key that is there, not a new one");
    ensure_api_secret(&ctx, &fresh, "sp").await.unwrap();
    let made: Vec<_> = requests(&log).iter().map(|r| (r.method.to_string(), r.path.clone())).collect();
    let secrets = "/api/v1/namespaces/sp/secrets";
    assert_eq!(
        made,
        [
            ("POST".into(), secrets.into()),
            ("GET".into(), format!("{secrets}/m1-p2p-identity")),
            ("POST".into(), secrets.into())
        ],
        "a create each; a read only after the conflict"
    );
}

#[tokio::test]
async fn a_change_of_a_ready_runtime_waits_while_the_gate_holds() {
    use k8s_openapi::api::apps::v1::StatefulSetStatus;
    let m = miner(None);
    let (client, log) = testing::client(|request| (200, request.body.clone()));
    let (ctx, mut feeds) = context(client);
    let inputs = |image: &str| RuntimeInputs {
        default_image: image.into(),
        params_claim: "params".into(),
        actor: Some("t01000".into()),
        api_info_digest: Some("d1".into()),
    };
    let mut running = crate::apply::stamped(&build_runtime_stateful_set(&m, &inputs("miner:1")));
    running.status = Some(StatefulSetStatus { replicas: 1, ready_replicas: Some(1), ..Default::default() });
    feeds.miner.runtime_sets.put(running);
    let hour = Duration::from_secs(3600);
    let (held, open) =
        (disruption::gate(Err("down"), false, None, hour), disruption::gate(Err("down"), true, None, hour));
    let mut progress = Progress::new(&MinerStatus::default(), Some(2));
    let pending = |progress: &Progress| {
        let c = find_condition(&progress.status.conditions, ROLLOUT_PENDING).unwrap();
        (c.status.clone(), c.reason.clone())
    };

    // A new image while the gate holds: nothing applied, the condition says why.
    apply_runtime(&ctx, &m, "sp", &inputs("miner:2"), &held, &mut progress).await.unwrap();
    assert!(requests(&log).is_empty(), "held: {:?}", requests(&log));
    assert_eq!(pending(&progress), (TRUE.into(), "DeadlineGate".into()));
    // The runtime as it is: nothing to hold.
    apply_runtime(&ctx, &m, "sp", &inputs("miner:1"), &held, &mut progress).await.unwrap();
    assert!(requests(&log).is_empty());
    assert_eq!(pending(&progress), (FALSE.into(), "UpToDate".into()));
    // The gate open (forced here): the change is applied.
    apply_runtime(&ctx, &m, "sp", &inputs("miner:2"), &open, &mut progress).await.unwrap();
    let made = requests(&log);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(
        (made[0].method.clone(), made[0].path.as_str()),
        (http::Method::PATCH, "/apis/apps/v1/namespaces/sp/statefulsets/m1-runtime")
    );
}

fn journaled() -> MinerStatus {
    let pushed = PushRecord { uuid: "u1".into(), cid: Some("bafy-create".into()) };
    let creation =
        CreationRecord { messages: MessageLog([("create-miner".to_string(), pushed)].into()), ..Default::default() };
    MinerStatus { creation: Some(creation), ..Default::default() }
}

/// A reconcile whose creation step failed after its journal wrote `journaled()` (kept in the status as written).
fn failed_creation(conflicted: bool) -> Progress {
    let mut progress = Progress::new(&journaled(), Some(2));
    progress.condition(SPEC_VALID, status::spec_valid());
    progress.condition(PARAMS_READY, status::params_ready("params", true));
    progress.journal.conflicted = conflicted;
    let error = Error::InvalidSpec("the node refused".into());
    let _ = progress.failed(ACTOR_CREATED, "CreationFailed", error);
    progress
}

#[tokio::test]
async fn a_failed_chain_step_writes_the_status_with_the_record_as_journaled() {
    let creating = miner(None);
    let (client, made) = testing::client(api_server(&creating, MinerStatus::default()));
    let outcome = Err(Error::InvalidSpec("the step's error".into()));
    let returned =
        finish(&context(client).0, &creating, &MinerStatus::default(), failed_creation(false), outcome).await;
    assert!(matches!(returned, Err(Error::InvalidSpec(m)) if m == "the step's error"), "the step's own error");
    let made = requests(&made);
    let methods: Vec<_> = made.iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, [http::Method::PATCH], "the status, nothing read back");
    let written: MinerStatus = serde_json::from_value(made[0].body["status"].clone()).unwrap();
    assert_eq!(written.creation, journaled().creation, "the journal's record");
    let ready = find_condition(&written.conditions, READY).unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), (FALSE, "CreationFailed"));
}

#[tokio::test]
async fn after_a_journal_conflict_the_status_is_not_written() {
    let creating = miner(None);
    let (client, made) = testing::client(|_| testing::failure());
    let outcome = Err(Error::InvalidSpec("the step's error".into()));
    let returned = finish(&context(client).0, &creating, &MinerStatus::default(), failed_creation(true), outcome).await;
    assert!(matches!(returned, Err(Error::InvalidSpec(_))));
    assert!(requests(&made).is_empty(), "no write that could undo the newer Miner's records");
}

#[tokio::test]
async fn a_failed_status_write_fails_a_good_reconcile_and_keeps_a_failed_ones_error() {
    let m = miner(None);
    let seen = Arc::new(Mutex::new(0));
    let counter = seen.clone();
    let (client, _) = testing::client(move |_| {
        *counter.lock().unwrap() += 1;
        testing::failure()
    });
    let (ctx, _) = context(client);
    let progress = Progress::new(&MinerStatus::default(), Some(2));
    let good = finish(&ctx, &m, &MinerStatus::default(), progress, Ok(Action::requeue(WHEN_SETTLED))).await;
    assert!(matches!(good, Err(Error::Kube(_))), "{good:?}");
    let progress = Progress::new(&MinerStatus::default(), Some(2));
    let outcome = Err(Error::MissingDependency { kind: "Secret", name: "lotus".into() });
    let failed = finish(&ctx, &m, &MinerStatus::default(), progress, outcome).await;
    assert!(matches!(failed, Err(Error::MissingDependency { .. })), "{failed:?}");
    assert_eq!(*seen.lock().unwrap(), 2, "both tried to write");
}

#[tokio::test]
async fn a_refused_spec_writes_its_status_and_nothing_else() {
    let mut refused = miner(None);
    refused.spec.owner = Some(Address::new_secp256k1(&[4; 65]).unwrap().to_string().as_str().into());
    refused.spec.p2p.announce_addresses = vec!["/ip4/999.1.1.1/tcp/24001".into()];
    // Only the Miner's status may be written: a Secret, Service or StatefulSet would hit `api_server`'s assert.
    let (client, log) = testing::client(api_server(&refused, MinerStatus::default()));
    let (ctx, _feeds) = context(client);
    let error = reconcile(Arc::new(refused), ctx).await.unwrap_err();
    assert!(matches!(&error, Error::InvalidSpec(_)) && error.waits_for_change(), "{error}");
    let made = requests(&log);
    assert_eq!(made.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), [STATUS_PATH], "{made:?}");
    let status: MinerStatus = serde_json::from_value(made[0].body["status"].clone()).unwrap();
    let valid = find_condition(&status.conditions, SPEC_VALID).unwrap();
    assert_eq!((valid.status.as_str(), valid.reason.as_str()), (FALSE, "InvalidSpec"));
    assert!(valid.message.contains("spec.owner: ") && valid.message.contains("spec.p2p.announceAddresses[0]: "));
    let ready = find_condition(&status.conditions, READY).unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), (FALSE, "InvalidSpec"));
    assert!(status.peer_id.is_none(), "no identity made");
}

#[test]
fn a_corrected_owner_or_worker_replaces_the_choice_of_a_creation_that_sent_nothing() {
    let bls = Address::new_bls(&[7; 48]).unwrap();
    let chosen =
        || CreationRecord { owner: Some("t01000".into()), worker: Some("t01001".into()), ..Default::default() };
    let mut request = CreateMinerRequest::new(fvm_shared::sector::SectorSize::_2KiB, Vec::new());
    request.owner = Some(Address::new_id(1002));
    request.worker = Some(bls);
    let mut record = chosen();
    forget_unsent_choices(&mut record, &request);
    assert_eq!((record.owner, record.worker), (None, None), "chosen anew from the corrected spec");
    // The same choices, or none asked for (the wallet's default, a created worker): kept.
    let mut record = chosen();
    let mut same = request.clone();
    (same.owner, same.worker) = (Some(Address::new_id(1000)), None);
    forget_unsent_choices(&mut record, &same);
    assert_eq!(record, chosen());
    // Once a message is journaled, the creation goes on with what it chose.
    let mut started = chosen();
    started.messages.0.insert("fund-worker".into(), PushRecord { uuid: "u".into(), cid: None });
    let before = started.clone();
    forget_unsent_choices(&mut started, &request);
    assert_eq!(started, before);
}
