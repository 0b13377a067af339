//! Least privilege by namespace: the chart installed with `watchNamespaces` listing two namespaces, and the
//! operator run in-process as the chart's ServiceAccount (impersonated, so with exactly the rights the chart
//! grants it) watching those two. A ParamCache and a Miner in each listed namespace are reconciled; the same in a
//! third namespace are not touched (no status, no children); and the ServiceAccount can read Secrets in the
//! listed namespaces only (`kubectl auth can-i`).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret, Service};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use sealstack_crds::conditions::find_condition;
use sealstack_crds::conditions::types::PARAMS_READY;
use sealstack_crds::{Miner, ParamCache};
use sealstack_e2e::tools::{can_i, helm};
use sealstack_e2e::{Cluster, install_crds, wait_for};
use sealstack_operator::context::Settings;
use sealstack_operator::controllers::ControllerKind;
use sealstack_operator::metrics::Metrics;
use sealstack_operator::watch_namespaces::run_watching;
use serde_json::json;

/// Label of every object the operator makes.
const MANAGED: &str = "app.kubernetes.io/managed-by=sealstack-operator";

/// A ParamCache `params` and a Miner `m1` using it, in `namespace`, with the Secret of its full node's API info
/// (never reached: the Miner waits for its ParamCache; without the Secret it would fail before making its
/// Services).
async fn param_cache_and_miner(client: &Client, namespace: &str) {
    sealstack_e2e::api_info_secret(client, namespace, sealstack_e2e::UNREACHED_API_INFO).await.unwrap();
    let cache: ParamCache = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache", "metadata": {"name": "params"},
        "spec": {"sectorSizes": ["2KiB"], "gateway": "http://127.0.0.1:9/ipfs/", "storage": {"size": "1Gi"}},
    }))
    .unwrap();
    Api::<ParamCache>::namespaced(client.clone(), namespace).create(&PostParams::default(), &cache).await.unwrap();
    let miner: Miner = serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner", "metadata": {"name": "m1"},
        "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                 "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
    }))
    .unwrap();
    Api::<Miner>::namespaced(client.clone(), namespace).create(&PostParams::default(), &miner).await.unwrap();
}

/// Waits until the ParamCache and the Miner of `namespace` have been reconciled: the ParamCache's status and
/// claim, the Miner's ParamsReady condition (False: nothing fetches on kwok nodes) and Services.
async fn reconciled(client: &Client, namespace: &str) {
    let caches: Api<ParamCache> = Api::namespaced(client.clone(), namespace);
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let miners: Api<Miner> = Api::namespaced(client.clone(), namespace);
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    wait_for(&format!("the ParamCache and Miner of {namespace} reconciled"), Duration::from_secs(90), || async {
        let cache = caches.get_status("params").await?.status.is_some();
        let claim = !claims.list(&ListParams::default()).await?.items.is_empty();
        let miner = miners.get_status("m1").await?.status.unwrap_or_default();
        let miner = find_condition(&miner.conditions, PARAMS_READY).is_some();
        let services = !services.list(&ListParams::default().labels(MANAGED)).await?.items.is_empty();
        Ok((cache && claim && miner && services).then_some(()))
    })
    .await
    .unwrap();
}

/// What the operator made or wrote in `namespace`: the children it made (how many of each kind), and the
/// status of the ParamCache and of the Miner.
async fn touched(client: &Client, namespace: &str) -> Vec<String> {
    let (managed, every) = (ListParams::default().labels(MANAGED), ListParams::default());
    let made = [
        ("Services", Api::<Service>::namespaced(client.clone(), namespace).list(&managed).await.unwrap().items.len()),
        ("Secrets", Api::<Secret>::namespaced(client.clone(), namespace).list(&managed).await.unwrap().items.len()),
        (
            "StatefulSets",
            Api::<StatefulSet>::namespaced(client.clone(), namespace).list(&managed).await.unwrap().items.len(),
        ),
        (
            "claims",
            Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace).list(&every).await.unwrap().items.len(),
        ),
        ("Jobs", Api::<Job>::namespaced(client.clone(), namespace).list(&every).await.unwrap().items.len()),
    ];
    let mut seen: Vec<String> = made.iter().filter(|(_, n)| *n > 0).map(|(kind, n)| format!("{n} {kind}")).collect();
    if Api::<Miner>::namespaced(client.clone(), namespace).get_status("m1").await.unwrap().status.is_some() {
        seen.push("the Miner's status".into());
    }
    if Api::<ParamCache>::namespaced(client.clone(), namespace).get_status("params").await.unwrap().status.is_some() {
        seen.push("the ParamCache's status".into());
    }
    seen
}

#[tokio::test]
async fn an_operator_watching_two_namespaces_leaves_a_third_alone_and_reads_no_secret_there() {
    let Some(cluster) = Cluster::connect().await else { return };
    let client = cluster.client();
    install_crds(&client).await.unwrap();
    let release = cluster.namespace("watch-op").await.unwrap();
    let (a, b) = (cluster.namespace("watch-a").await.unwrap(), cluster.namespace("watch-b").await.unwrap());
    let other = cluster.namespace("watch-other").await.unwrap();

    // The chart, watching a and b (its ClusterRole and bindings are cluster-wide: named after the release's
    // namespace). Its operator pod lands on a kwok node and runs nothing: the operator runs here, below.
    let fullname = format!("fullnameOverride={}", release.name());
    let watched = format!("watchNamespaces={{{},{}}}", a.name(), b.name());
    helm(&["install", "sealstack", "charts/sealstack", "-n", release.name(), "--set", &fullname, "--set", &watched]);
    let account = format!("{}-operator", release.name()).chars().take(63).collect::<String>();
    let user = format!("system:serviceaccount:{}:{account}", release.name());

    // Secrets: in the listed namespaces only; Nodes (cluster-scoped) across the cluster; the Lease at home.
    for ns in [a.name(), b.name()] {
        assert!(can_i(&user, "get", "secrets", Some(ns)), "get secrets in {ns}");
        assert!(can_i(&user, "watch", "secrets", Some(ns)), "watch secrets in {ns}");
    }
    for (verb, resource, ns) in [
        ("get", "secrets", Some(other.name())),
        ("list", "secrets", Some(other.name())),
        ("get", "secrets", Some(release.name())),
        ("list", "secrets", None),
        ("list", "miners.sealstack.io", Some(other.name())),
        ("update", "leases.coordination.k8s.io", Some(a.name())),
    ] {
        assert!(!can_i(&user, verb, resource, ns), "{verb} {resource} in {ns:?} is not granted");
    }
    assert!(can_i(&user, "watch", "nodes", None), "Nodes, for NodePort miners");
    assert!(can_i(&user, "update", "leases.coordination.k8s.io", Some(release.name())), "its Lease");

    // The operator with exactly those rights: every watch of both sets of controllers must list for a
    // reconcile to run (a forbidden one would hold every reconcile back).
    let mut config = cluster.config();
    config.auth_info.impersonate = Some(user.clone());
    let operator_client = Client::try_from(config).unwrap();
    let namespaces = vec![a.name().to_owned(), b.name().to_owned()];
    let settings = Settings { runtime_image: "sealstack/miner:e2e".into(), ..Default::default() };
    let operator = tokio::spawn(async move {
        run_watching(operator_client, Arc::new(Metrics::default()), settings, &namespaces, &ControllerKind::ALL).await
    });

    for ns in [a.name(), b.name(), other.name()] {
        param_cache_and_miner(&client, ns).await;
    }
    reconciled(&client, a.name()).await;
    reconciled(&client, b.name()).await;
    // The third namespace's objects were created with the others; a few more seconds for any late reconcile.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(touched(&client, other.name()).await, Vec::<String>::new(), "nothing touched in {}", other.name());

    operator.abort();
    helm(&["uninstall", "sealstack", "-n", release.name(), "--wait"]);
    for ns in [release, a, b, other] {
        ns.delete().await.unwrap();
    }
}
