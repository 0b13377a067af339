//! A SealingWorker pool that sizes itself, on the local cluster (e2e/cluster/test.sh runs it; without a cluster it
//! says `skipped: no cluster`): the operator's SealingWorker controller in-process against the cluster's API
//! server, a real `sealstack-miner run` daemon on an in-process devnet, and a real worker process standing in for
//! the pool's first pod under its name (the pods themselves never connect: kwok's nodes run nothing);
//! 1. three sectors pledged with no worker: the pool (min 0, max 3) grows to 3 at once, through the scale
//!    subresource;
//! 2. `pool-worker-0` seals the three sectors; the pods the runtime never heard from go after the delay, one at a
//!    time, while the pool never drops below the busy pod;
//! 3. its sectors Proving and their files handed over, it is drained and the pool goes back to 0.
//!
//! Needs the parameters `scripts/params.sh` generates once per machine (`SEALSTACK_GENERATED_PARAMS`).

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;
use kube::api::PostParams;
use sealstack_crds::{Miner, SealingWorker};
use sealstack_e2e::{Cluster, install_crds, ready_param_cache, wait_for};
use sealstack_miner::protocol::{MinerApiClient, TaskKind};
use sealstack_miner::worker::miner_client;
use sealstack_operator::context::{Context, Settings};
use sealstack_operator::controllers::{ControllerKind, run_controllers};
use sealstack_operator::metrics::Metrics;
use serde_json::json;
use world::{Keep, World};

/// Epochs per WindowPoSt deadline at 250 ms epochs.
const CHALLENGE_WINDOW: i64 = 40;
/// Sectors pledged.
const SECTORS: u64 = 3;

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_grows_while_tasks_wait_and_shrinks_through_drained_pods() {
    let Some(cluster) = Cluster::connect().await else { return };
    let Some(params) = generated::generated_dir() else { return };
    // SAFETY: the in-process devnet verifies proofs with these parameters; set before any other thread reads it.
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let started = Instant::now();
    let elapsed = move || format!("{:.1}s", started.elapsed().as_secs_f64());
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let ns = cluster.namespace("autoscale").await.unwrap();
    ready_param_cache(&client, ns.name()).await.unwrap();

    // The runtime, on an in-process devnet; three sectors wait for a worker.
    let dir = Keep(tempfile::tempdir().unwrap());
    let (world, _actor) = World::start(dir.path(), params, 250, CHALLENGE_WINDOW).await;
    let _daemon = world.daemon("daemon.log", None);
    for number in 0..SECTORS {
        assert!(world.cli(&["sectors", "pledge"]).contains(&format!("Created CC sector: {number}")));
    }
    eprintln!("[{}] runtime up, {SECTORS} sectors pledged", elapsed());

    // The Miner's API Secret, as the Miner controller makes it, naming this runtime (the Miner itself is not
    // reconciled here); the SealingWorker controller alone.
    let secret = serde_json::from_value(json!({"metadata": {"name": "m1-api"},
        "stringData": {"MINER_API_INFO": world.miner_api().to_env_value()}}))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let miner: Miner = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m1"},
        "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                 "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
    }))
    .unwrap();
    Api::<Miner>::namespaced(client.clone(), ns.name()).create(&PostParams::default(), &miner).await.unwrap();
    let settings = Settings { runtime_image: "sealstack/miner:e2e".into(), ..Default::default() };
    let (ctx, feeds) = Context::new(client.clone(), Arc::new(Metrics::default()), settings);
    let controllers = tokio::spawn(run_controllers(
        client.clone(),
        Some(ns.name().to_owned()),
        ctx,
        feeds,
        &[ControllerKind::SealingWorker],
    ));

    // 1. Tasks wait: the pool grows from 0 to its maximum at once.
    let worker: SealingWorker = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker", "metadata": {"name": "pool"},
        "spec": {"minerRef": {"name": "m1"}, "replicas": 0, "gpu": {"count": 1},
                 "tasks": ["AddPiece", "PreCommit1", "PreCommit2", "Commit1", "Commit2"],
                 "autoscale": {"minReplicas": 0, "maxReplicas": 3, "scaleDownDelay": "20s"}},
    }))
    .unwrap();
    let pools: Api<SealingWorker> = Api::namespaced(client.clone(), ns.name());
    pools.create(&PostParams::default(), &worker).await.unwrap();
    let replicas = |pool: &SealingWorker| pool.spec.replicas;
    // A wait that failed says what the pool's status shows.
    let explain = |error: anyhow::Error| {
        let pools = pools.clone();
        async move {
            let pool = pools.get("pool").await.unwrap();
            panic!("{error:#}: replicas {}, status {:?}", pool.spec.replicas, pool.status)
        }
    };
    let grown = match wait_for("the pool grown to 3", Duration::from_secs(60), || async {
        Ok(Some(pools.get("pool").await?).filter(|p| replicas(p) == 3))
    })
    .await
    {
        Ok(grown) => grown,
        Err(error) => explain(error).await,
    };
    let seen = grown.status.and_then(|s| s.autoscale).map(|a| a.waiting_tasks);
    eprintln!("[{}] the pool grew to 3 ({seen:?} tasks waiting)", elapsed());
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns.name());
    wait_for("the StatefulSet at 3", Duration::from_secs(30), || async {
        Ok(sets.get_opt("pool-worker").await?.filter(|s| s.spec.as_ref().and_then(|s| s.replicas) == Some(3)))
    })
    .await
    .unwrap();

    // 2. The first pod's worker seals; the pods that never connect go after the delay, the busy one stays.
    let _worker = world.worker("pool-worker-0.log", "pool-worker-0", None, None);
    let api = miner_client(&world.miner_api(), Duration::from_secs(10)).unwrap();
    let all_proving = || async {
        let mut proving = 0;
        for number in 0..SECTORS {
            proving += u64::from(api.sectors_status(number, false).await.unwrap().state == "Proving");
        }
        proving == SECTORS
    };
    let mut lowest_while_sealing = 3;
    let deadline = Instant::now() + Duration::from_secs(900);
    while !all_proving().await {
        let now = replicas(&pools.get("pool").await.unwrap());
        lowest_while_sealing = lowest_while_sealing.min(now);
        assert!(now >= 1, "the pool dropped the pod sealing its sectors");
        assert!(Instant::now() < deadline, "the sectors were not sealed in 900 s; see pool-worker-0.log");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("[{}] {SECTORS} sectors Proving; the pool went down to {lowest_while_sealing} meanwhile", elapsed());
    assert_eq!(lowest_while_sealing, 1, "the pods that never connected went, the busy one stayed");

    // 3. Nothing held: drained, then removed.
    if let Err(error) = wait_for("the pool back to 0", Duration::from_secs(120), || async {
        Ok(Some(pools.get("pool").await?).filter(|p| replicas(p) == 0))
    })
    .await
    {
        explain(error).await;
    }
    let tasks = vec![TaskKind::AddPiece, TaskKind::PreCommit1, TaskKind::Commit2];
    let demand = api.worker_demand(tasks).await.unwrap();
    let first = demand.workers.iter().find(|w| w.name == "pool-worker-0").expect("the worker is still connected");
    assert!(first.draining && first.idle(), "removed once drained and idle: {first:?}");
    assert_eq!(demand.waiting, 0);
    eprintln!("[{}] the pool is back to 0 through its drained pod", elapsed());
    controllers.abort();
}
