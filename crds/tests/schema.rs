//! The CRDs' schemas: their shape, and the CEL rules evaluated client-side (kube's `cel` feature) on good
//! and bad specs. The same rules are checked against a real API server by the e2e suite.

use kube::CustomResourceExt;
use kube::core::cel::Validator;
use sealstack_crds::{Miner, ParamCache, SealingWorker};
use serde_json::{Value, json};

/// The openAPIV3Schema of a CRD, as JSON.
fn schema<K: CustomResourceExt>() -> Value {
    let crd = K::crd();
    let version = &crd.spec.versions[0];
    serde_json::to_value(version.schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap()).unwrap()
}

/// Runs the CRD's CEL rules on `object` (an update from `old` when given): `(fieldPath, message)` pairs.
fn violations<K: CustomResourceExt>(object: &Value, old: Option<&Value>) -> Vec<(String, String)> {
    match Validator::new().validate(&schema::<K>(), object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_vec().into_iter().map(|e| (e.field_path, e.message)).collect(),
    }
}

fn miner(spec: Value) -> Value {
    json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m"}, "spec": spec})
}

fn miner_spec() -> Value {
    json!({
        "fullNode": {"apiInfoSecretRef": {"name": "lotus-api"}},
        "worker": {"create": "bls"},
        "sectorSize": "2KiB",
        "paramCacheRef": {"name": "params"},
        "storage": {"size": "10Gi"},
    })
}

fn with(mut base: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    base.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(key.to_owned(), value);
    base
}

#[test]
fn a_valid_miner_passes_and_deserialises() {
    let object = miner(miner_spec());
    assert_eq!(violations::<Miner>(&object, None), vec![]);
    let typed: Miner = serde_json::from_value(object).unwrap();
    assert_eq!(typed.spec.confidence, 5, "defaults apply");
    assert_eq!(typed.spec.p2p.port, 24001);
    assert_eq!(typed.spec.full_node.api_info_secret_ref.key, "FULLNODE_API_INFO");
}

#[test]
fn miner_worker_needs_exactly_one_of_address_or_create() {
    let both = miner(with(miner_spec(), "/worker/address", json!("t3aaaa")));
    let found = violations::<Miner>(&both, None);
    assert_eq!(found, vec![("spec.worker".into(), "set exactly one of worker.address or worker.create".into())]);
    let neither = miner(with(miner_spec(), "/worker", json!({})));
    assert_eq!(violations::<Miner>(&neither, None).len(), 1);
}

#[test]
fn miner_sector_size_and_actor_are_immutable() {
    let old = miner(with(miner_spec(), "/actor", json!("t01000")));
    let resized = miner(with(with(miner_spec(), "/actor", json!("t01000")), "/sectorSize", json!("32GiB")));
    let found = violations::<Miner>(&resized, Some(&old));
    assert_eq!(
        found,
        vec![("spec.sectorSize".into(), "sectorSize is immutable: it is fixed when the actor is created".into())]
    );

    let other_actor = miner(with(miner_spec(), "/actor", json!("t01001")));
    let found = violations::<Miner>(&other_actor, Some(&old));
    assert_eq!(
        found,
        vec![("spec.actor".into(), "actor is immutable: make a new Miner to adopt another actor".into())]
    );

    let adopted_later = miner(with(miner_spec(), "/actor", json!("t01000")));
    let found = violations::<Miner>(&adopted_later, Some(&miner(miner_spec())));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "spec.actor");
    assert!(found[0].1.starts_with("actor cannot be added or removed"), "{}", found[0].1);

    let unchanged = miner(with(miner_spec(), "/confidence", json!(10)));
    assert_eq!(violations::<Miner>(&unchanged, Some(&miner(miner_spec()))), vec![]);
}

#[test]
fn miner_node_port_needs_an_exposed_service() {
    let spec = with(miner_spec(), "/p2p", json!({"service": {"type": "ClusterIP", "nodePort": 30001}}));
    let found = violations::<Miner>(&miner(spec), None);
    assert_eq!(
        found,
        vec![("spec.p2p.service.nodePort".into(), "nodePort needs type NodePort or LoadBalancer".into())]
    );
}

#[test]
fn miner_volume_is_a_new_claim_or_an_existing_one() {
    let both = with(miner_spec(), "/storage", json!({"size": "1Gi", "existingClaim": "data"}));
    let found = violations::<Miner>(&miner(both), None);
    assert_eq!(found, vec![("spec.storage.size".into(), "set exactly one of existingClaim or size".into())]);
    let class_with_claim = with(miner_spec(), "/storage", json!({"existingClaim": "data", "storageClassName": "fast"}));
    let found = violations::<Miner>(&miner(class_with_claim), None);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "spec.storage.storageClassName");
}

#[test]
fn miner_maintenance_bound_is_a_positive_duration() {
    let forced = with(miner_spec(), "/maintenance", json!({"force": true, "maxBlockedDuration": "1h30m"}));
    assert_eq!(violations::<Miner>(&miner(forced), None), vec![]);
    let typed: Miner = serde_json::from_value(miner(miner_spec())).unwrap();
    assert_eq!((typed.spec.maintenance.force, typed.spec.maintenance.max_blocked_duration.as_str()), (false, "1h"));
    let message =
        "maxBlockedDuration must be a positive duration in hours, minutes and seconds, such as 1h, 30m or 1h30m";
    for bad in ["-1h", "0s", "1d", "", "30m1h"] {
        let spec = with(miner_spec(), "/maintenance", json!({"maxBlockedDuration": bad}));
        let found = violations::<Miner>(&miner(spec), None);
        assert_eq!(found, vec![("spec.maintenance.maxBlockedDuration".into(), message.into())], "{bad:?}");
    }
}

fn worker(spec: Value) -> Value {
    json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker", "metadata": {"name": "w"}, "spec": spec})
}

#[test]
fn sealing_worker_gpus_need_a_gpu_task() {
    let gpu_tasks = json!({"minerRef": {"name": "m"}, "tasks": ["PreCommit2", "Commit2"], "gpu": {"count": 1}});
    assert_eq!(violations::<SealingWorker>(&worker(gpu_tasks.clone()), None), vec![]);
    let typed: SealingWorker = serde_json::from_value(worker(gpu_tasks)).unwrap();
    assert_eq!(typed.spec.gpu.unwrap().resource_name, "nvidia.com/gpu");
    assert_eq!(typed.spec.replicas, 1);

    let cpu_only = json!({"minerRef": {"name": "m"}, "tasks": ["AddPiece", "PreCommit1"], "gpu": {"count": 2}});
    let found = violations::<SealingWorker>(&worker(cpu_only), None);
    assert_eq!(
        found,
        vec![(
            "spec.gpu.count".into(),
            "gpu.count > 0 needs a GPU task in tasks: PreCommit2, Commit2, WindowPoSt or WinningPoSt".into()
        )]
    );
    let no_gpus = json!({"minerRef": {"name": "m"}, "tasks": ["AddPiece"], "gpu": {"count": 0}});
    assert_eq!(violations::<SealingWorker>(&worker(no_gpus), None), vec![]);
}

#[test]
fn sealing_worker_pools_may_run_only_post_tasks() {
    for tasks in [json!(["WindowPoSt"]), json!(["WinningPoSt"]), json!(["WindowPoSt", "WinningPoSt"])] {
        let post_pool = json!({"minerRef": {"name": "m"}, "tasks": tasks, "gpu": {"count": 1}});
        assert_eq!(violations::<SealingWorker>(&worker(post_pool), None), vec![], "{tasks}");
    }
}

#[test]
fn param_cache_gateway_must_be_an_http_prefix() {
    let cache = |gateway: &str| {
        json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache", "metadata": {"name": "p"},
               "spec": {"sectorSizes": ["2KiB"], "gateway": gateway, "storage": {"size": "5Gi"}}})
    };
    assert_eq!(violations::<ParamCache>(&cache("http://127.0.0.1:8090/ipfs/"), None), vec![]);
    let found = violations::<ParamCache>(&cache("http://127.0.0.1:8090/ipfs"), None);
    assert_eq!(found, vec![("spec.gateway".into(), "gateway must end with '/': file CIDs are appended to it".into())]);
    let found = violations::<ParamCache>(&cache("ftp://gateway/"), None);
    assert_eq!(found, vec![("spec.gateway".into(), "gateway must be an http:// or https:// URL".into())]);
}

#[test]
fn param_cache_defaults_to_the_official_gateway_and_manifest() {
    let object = json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache", "metadata": {"name": "p"},
                        "spec": {"sectorSizes": ["32GiB"], "storage": {"existingClaim": "params"}}});
    assert_eq!(violations::<ParamCache>(&object, None), vec![]);
    let typed: ParamCache = serde_json::from_value(object).unwrap();
    assert_eq!(typed.spec.gateway, "https://proofs.filecoin.io/ipfs/");
    assert_eq!(typed.spec.manifest.config_map, None);
}

/// Follows `properties` down a dotted path of the schema.
fn property<'a>(schema: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(schema, |s, key| &s["properties"][key])
}

#[test]
fn schemas_have_the_validation_kubernetes_enforces() {
    let miner = schema::<Miner>();
    let sizes: Vec<&str> =
        property(&miner, "spec.sectorSize")["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(sizes, ["2KiB", "8MiB", "512MiB", "32GiB", "64GiB"]);
    assert!(property(&miner, "spec.owner")["pattern"].as_str().unwrap().starts_with("^[ft]"));
    assert_eq!(property(&miner, "spec.gasPremium")["pattern"], sealstack_crds::chain_types::ATTO_FIL_PATTERN);
    let required: Vec<&str> =
        property(&miner, "spec")["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(required, ["fullNode", "paramCacheRef", "sectorSize", "storage"]);

    let worker = schema::<SealingWorker>();
    assert_eq!(property(&worker, "spec.replicas")["minimum"], 0.0);
    assert_eq!(property(&worker, "spec.tasks")["x-kubernetes-list-type"], "set");
    assert_eq!(property(&worker, "spec.tasks")["items"]["enum"].as_array().unwrap().len(), 7);

    let cache = schema::<ParamCache>();
    assert_eq!(property(&cache, "spec.sectorSizes")["minItems"], 1);

    for (kind, schema) in [("Miner", &miner), ("SealingWorker", &worker), ("ParamCache", &cache)] {
        let conditions = property(schema, "status.conditions");
        assert_eq!(conditions["x-kubernetes-list-type"], "map", "{kind}");
        assert_eq!(conditions["x-kubernetes-list-map-keys"], json!(["type"]), "{kind}");
        assert!(property(schema, "status.observedGeneration").is_object(), "{kind}");
    }
}

#[test]
fn every_pod_the_operator_makes_can_be_placed() {
    let placement = json!({
        "nodeSelector": {"sealstack.io/real-node": "true"},
        "tolerations": [{"key": "sealstack.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["nvme"]}]}]}}},
    });
    let merged = |base: Value| {
        let mut base = base;
        base.as_object_mut().unwrap().extend(placement.as_object().unwrap().clone());
        base
    };
    // Miner: spec.runtime, beside the container settings.
    let object = miner(with(miner_spec(), "/runtime", merged(json!({"image": "sealstack/miner:v2"}))));
    assert_eq!(violations::<Miner>(&object, None), vec![]);
    let typed: Miner = serde_json::from_value(object.clone()).unwrap();
    assert_eq!(typed.spec.runtime.container.image.as_deref(), Some("sealstack/miner:v2"));
    assert_eq!(typed.spec.runtime.placement.node_selector["sealstack.io/real-node"], "true");
    assert!(typed.spec.runtime.placement.affinity.is_some());
    assert_eq!(serde_json::to_value(&typed.spec).unwrap()["runtime"], object["spec"]["runtime"], "same JSON shape");
    // ParamCache: spec.fetch.
    let cache = json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache", "metadata": {"name": "p"},
                       "spec": {"sectorSizes": ["2KiB"], "storage": {"size": "5Gi"}, "fetch": merged(json!({"parallel": 2}))}});
    assert_eq!(violations::<ParamCache>(&cache, None), vec![]);
    let typed: ParamCache = serde_json::from_value(cache).unwrap();
    assert_eq!(typed.spec.fetch.placement.tolerations.len(), 1);
    assert_eq!(typed.spec.fetch.parallel, Some(2));
    // SealingWorker: the spec itself, as before.
    let pool = worker(merged(json!({"minerRef": {"name": "m"}, "tasks": ["AddPiece"]})));
    assert_eq!(violations::<SealingWorker>(&pool, None), vec![]);
    let typed: SealingWorker = serde_json::from_value(pool).unwrap();
    assert_eq!(typed.spec.placement.tolerations[0].key.as_deref(), Some("sealstack.io/real-node"));

    for (kind, schema, path) in [
        ("Miner", schema::<Miner>(), "spec.runtime"),
        ("ParamCache", schema::<ParamCache>(), "spec.fetch"),
        ("SealingWorker", schema::<SealingWorker>(), "spec"),
    ] {
        let at = property(&schema, path);
        assert_eq!(at["type"], "object", "{kind}");
        assert_eq!(property(at, "nodeSelector")["additionalProperties"]["type"], "string", "{kind}");
        assert_eq!(property(at, "tolerations")["maxItems"], 32, "{kind}");
        assert!(property(at, "affinity.nodeAffinity").is_object(), "{kind}");
        assert!(property(at, "image").is_object(), "{kind}: the container settings stay beside the placement");
    }
}

#[test]
fn crds_have_names_columns_and_subresources() {
    let miner = Miner::crd();
    assert_eq!(miner.spec.group, "sealstack.io");
    assert_eq!(miner.spec.scope, "Namespaced");
    assert_eq!(miner.spec.names.short_names.as_deref(), Some(&["mnr".to_owned()][..]));
    let version = &miner.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    let columns: Vec<&str> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .filter(|c| c.priority.is_none())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(columns, ["Actor", "Sector Size", "Ready", "Power", "Faults", "Blocks", "Age"]);
    assert!(version.subresources.as_ref().unwrap().status.is_some());

    let worker = SealingWorker::crd();
    let scale = worker.spec.versions[0].subresources.as_ref().unwrap().scale.as_ref().unwrap();
    assert_eq!(scale.spec_replicas_path, ".spec.replicas");
    assert_eq!(scale.label_selector_path.as_deref(), Some(".status.selector"));

    for crd in [miner, worker, ParamCache::crd()] {
        assert_eq!(crd.spec.names.categories.as_deref(), Some(&["sealstack".to_owned()][..]));
    }
}

#[test]
fn the_extension_policy_keeps_to_builtin_actors_bounds() {
    let policy = |value: Value| miner(with(miner_spec(), "/sectorLifecycle", json!({"extension": value})));
    let good = json!({"enabled": true, "withinDays": 30, "extendToDays": 540, "toleranceDays": 7});
    assert_eq!(violations::<Miner>(&policy(good), None), vec![]);
    let typed: Miner = serde_json::from_value(miner(miner_spec())).unwrap();
    let defaults = &typed.spec.sector_lifecycle.extension;
    assert_eq!(
        (defaults.enabled, defaults.within_days, defaults.extend_to_days, defaults.tolerance_days),
        (false, 30, 540, 7),
        "off by default"
    );
    let field = "spec.sectorLifecycle.extension";
    let cases = [
        (
            json!({"withinDays": 30, "extendToDays": 1300, "toleranceDays": 7}),
            format!("{field}.extendToDays"),
            "extendToDays must be between 180 (builtin-actors' MIN_SECTOR_EXPIRATION) and 1278 days (its MAX_SECTOR_EXPIRATION_EXTENSION)",
        ),
        (
            json!({"withinDays": 30, "extendToDays": 90, "toleranceDays": 7}),
            format!("{field}.extendToDays"),
            "extendToDays must be between 180 (builtin-actors' MIN_SECTOR_EXPIRATION) and 1278 days (its MAX_SECTOR_EXPIRATION_EXTENSION)",
        ),
        (
            json!({"withinDays": 600, "extendToDays": 540, "toleranceDays": 7}),
            format!("{field}.withinDays"),
            "withinDays must be less than extendToDays: a sector extended into the window would be extended again at once",
        ),
        (
            json!({"withinDays": 0, "extendToDays": 540, "toleranceDays": 7}),
            format!("{field}.withinDays"),
            "withinDays must be between 1 and 1278 days",
        ),
    ];
    for (value, path, message) in cases {
        assert_eq!(violations::<Miner>(&policy(value.clone()), None), vec![(path, message.to_owned())], "{value}");
    }
}

#[test]
fn batching_keeps_to_builtin_actors_aggregate_bounds() {
    let batching = |value: Value| miner(with(miner_spec(), "/sealing", json!({"batching": value})));
    let good = json!({"preCommit": {"enabled": true, "maxBatch": 32, "wait": "1h"},
        "commit": {"enabled": true, "minAggregate": 4, "maxBatch": 819, "wait": "30m", "aggregateAboveBaseFee": "0"}});
    assert_eq!(violations::<Miner>(&batching(good), None), vec![]);
    let typed: Miner = serde_json::from_value(miner(miner_spec())).unwrap();
    let defaults = &typed.spec.sealing.batching;
    assert!(!defaults.pre_commit.enabled && !defaults.commit.enabled, "one message per sector by default");
    assert_eq!((defaults.commit.min_aggregate, defaults.commit.max_batch), (4, 819), "lotus-miner's defaults");
    let commit = |value: Value| batching(json!({"commit": value}));
    let cases = [
        (
            commit(json!({"minAggregate": 3, "maxBatch": 819, "wait": "24h", "aggregateAboveBaseFee": "1"})),
            "spec.sealing.batching.commit.minAggregate",
            "minAggregate must be between 4 and 819 sectors (builtin-actors' MIN_AGGREGATED_SECTORS and MAX_AGGREGATED_SECTORS)",
        ),
        (
            commit(json!({"minAggregate": 4, "maxBatch": 820, "wait": "24h", "aggregateAboveBaseFee": "1"})),
            "spec.sealing.batching.commit.maxBatch",
            "maxBatch must be between 1 and 819 sectors (builtin-actors' MAX_AGGREGATED_SECTORS)",
        ),
        (
            commit(json!({"minAggregate": 10, "maxBatch": 8, "wait": "24h", "aggregateAboveBaseFee": "1"})),
            "spec.sealing.batching.commit.minAggregate",
            "minAggregate must not be more than maxBatch",
        ),
        (
            commit(json!({"minAggregate": 4, "maxBatch": 8, "wait": "0s", "aggregateAboveBaseFee": "1"})),
            "spec.sealing.batching.commit.wait",
            "wait must be a positive duration in hours, minutes and seconds, such as 24h, 30m or 90s",
        ),
        (
            commit(json!({"minAggregate": 4, "maxBatch": 8, "wait": "1h", "aggregateAboveBaseFee": "0.15 nFIL"})),
            "spec.sealing.batching.commit.aggregateAboveBaseFee",
            "aggregateAboveBaseFee must be a whole number of attoFIL",
        ),
        (
            batching(json!({"preCommit": {"maxBatch": 300, "wait": "24h"}})),
            "spec.sealing.batching.preCommit.maxBatch",
            "maxBatch must be between 1 and 256 sectors (lotus-miner's MaxPreCommitBatch)",
        ),
    ];
    for (object, path, message) in cases {
        assert_eq!(violations::<Miner>(&object, None), vec![(path.to_owned(), message.to_owned())], "{path}");
    }
}

#[test]
fn long_term_stores_have_names_of_their_own_and_one_volume_each() {
    let stores = |value: Value| miner(with(miner_spec(), "/longTermStores", value));
    let good = json!([{"name": "fast", "volume": {"size": "1Ti"}, "weight": 20}, {"name": "nfs", "volume": {"existingClaim": "c"}}]);
    assert_eq!(violations::<Miner>(&stores(good), None), vec![]);
    let twice = json!([{"name": "a", "volume": {"size": "1Ti"}}, {"name": "a", "volume": {"size": "2Ti"}}]);
    assert_eq!(
        violations::<Miner>(&stores(twice), None),
        vec![("spec.longTermStores".into(), "each long-term store needs a name of its own".into())]
    );
    let both = json!([{"name": "a", "volume": {"size": "1Ti", "existingClaim": "c"}}]);
    assert_eq!(
        violations::<Miner>(&stores(both), None),
        vec![("spec.longTermStores[0].volume.size".into(), "set exactly one of existingClaim or size".into())]
    );
}
