//! The Helm chart against the real API server: `helm template` of charts/sealstack, applied with a
//! server-side dry run (schemas, defaulting, admission) into a namespace that warns on anything short of the
//! restricted Pod Security Standard (the ServiceMonitor and PodMonitor are left out: their CRDs, the Prometheus
//! Operator's, are not in the test cluster); and `helm install`, `upgrade` with changed values and `uninstall`,
//! which leaves only the CRDs.

use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use sealstack_e2e::Cluster;
use sealstack_e2e::tools::{helm, k8s_bin, kubectl, repo_root, run};
use serde_json::json;

/// `helm template sealstack charts/sealstack` into `namespace` with `--set` values.
fn render(namespace: &str, kube_version: &str, set: &[&str]) -> String {
    let mut helm = Command::new(k8s_bin().join("helm"));
    helm.current_dir(repo_root()).args(["template", "sealstack", "charts/sealstack", "--namespace", namespace]);
    helm.args(["--kube-version", kube_version]);
    for value in set {
        helm.args(["--set", value]);
    }
    let out = run(helm, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "helm template failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// `kubectl apply --server-side --dry-run=server` of `yaml`: (stdout, stderr).
fn dry_run_apply(yaml: &str) -> (String, String) {
    let args = ["apply", "--server-side", "--dry-run=server", "--field-manager=sealstack-e2e", "-f", "-"];
    let out = kubectl(&args, Some(yaml));
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "dry-run apply failed:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

#[tokio::test]
async fn the_chart_passes_a_server_side_dry_run_under_the_restricted_pod_security_standard() {
    let Some(cluster) = Cluster::connect().await else { return };
    let version = cluster.client().apiserver_version().await.unwrap().git_version;
    let ns = cluster.namespace("chart").await.unwrap();
    let labels = json!({"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }}});
    Api::<Namespace>::all(cluster.client())
        .patch(ns.name(), &PatchParams::default(), &Patch::Merge(&labels))
        .await
        .unwrap();

    // Default values: what `helm install` and manifests/operator.yaml create.
    let (stdout, stderr) = dry_run_apply(&render(ns.name(), &version, &[]));
    for object in [
        "serviceaccount/sealstack-operator",
        "clusterrole.rbac.authorization.k8s.io/sealstack-operator",
        "clusterrolebinding.rbac.authorization.k8s.io/sealstack-operator",
        "service/sealstack-operator-metrics",
        "deployment.apps/sealstack-operator",
    ] {
        assert!(stdout.contains(&format!("{object} serverside-applied (server dry run)")), "{object}:\n{stdout}");
    }
    assert!(!stderr.contains("Warning"), "the API server warned (Pod Security?):\n{stderr}");

    // Every optional object the cluster has the API for, with two replicas under leader election, watching only
    // the release's namespace (its Roles must exist there: the dry run refuses a namespace that does not).
    let watched = format!("watchNamespaces={{{}}}", ns.name());
    let (stdout, stderr) = dry_run_apply(&render(
        ns.name(),
        &version,
        &[
            "replicaCount=2",
            "networkPolicy.enabled=true",
            "networkPolicy.egress.restrict=true",
            "podDisruptionBudget.enabled=true",
            "grafanaDashboard.enabled=true",
            &watched,
        ],
    ));
    for object in [
        "networkpolicy.networking.k8s.io/sealstack-operator",
        "poddisruptionbudget.policy/sealstack-operator",
        "configmap/sealstack-dashboard",
        "deployment.apps/sealstack-operator",
        "role.rbac.authorization.k8s.io/sealstack-operator",
        "rolebinding.rbac.authorization.k8s.io/sealstack-operator",
        "role.rbac.authorization.k8s.io/sealstack-operator-leader-election",
        "rolebinding.rbac.authorization.k8s.io/sealstack-operator-leader-election",
        "clusterrole.rbac.authorization.k8s.io/sealstack-operator",
    ] {
        assert!(stdout.contains(&format!("{object} serverside-applied (server dry run)")), "{object}:\n{stdout}");
    }
    assert!(!stderr.contains("Warning"), "the API server warned:\n{stderr}");
    ns.delete().await.unwrap();
}

#[tokio::test]
async fn helm_install_upgrade_and_uninstall_leave_only_the_crds() {
    let Some(cluster) = Cluster::connect().await else { return };
    let ns = cluster.namespace("helm").await.unwrap();
    // The ClusterRole and its binding are cluster-wide: name them after the test's namespace.
    let fullname = format!("fullnameOverride={}", ns.name());
    let notes = helm(&["install", "sealstack", "charts/sealstack", "-n", ns.name(), "--set", &fullname]);
    assert!(notes.contains("STATUS: deployed"), "{notes}");
    let operator = format!("{}-operator", ns.name()).chars().take(63).collect::<String>();
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), ns.name());
    let roles: Api<ClusterRole> = Api::all(cluster.client());
    let bindings: Api<ClusterRoleBinding> = Api::all(cluster.client());
    let deployment = deployments.get(&operator).await.unwrap();
    assert_eq!(deployment.spec.unwrap().replicas, Some(1));
    assert!(roles.get_opt(&operator).await.unwrap().is_some());
    // The leader-election Lease is the chart's, so that uninstall removes it.
    let leases: Api<Lease> = Api::namespaced(cluster.client(), ns.name());
    assert!(leases.get_opt(&operator).await.unwrap().is_some());

    // Changed values: two replicas (leader election is on by default) and a PodDisruptionBudget.
    helm(&[
        "upgrade",
        "sealstack",
        "charts/sealstack",
        "-n",
        ns.name(),
        "--reuse-values",
        "--set",
        "replicaCount=2",
        "--set",
        "podDisruptionBudget.enabled=true",
    ]);
    assert_eq!(deployments.get(&operator).await.unwrap().spec.unwrap().replicas, Some(2));
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(cluster.client(), ns.name());
    assert!(budgets.get_opt(&operator).await.unwrap().is_some());

    helm(&["uninstall", "sealstack", "-n", ns.name(), "--wait"]);
    assert!(deployments.get_opt(&operator).await.unwrap().is_none());
    assert!(budgets.get_opt(&operator).await.unwrap().is_none());
    assert!(roles.get_opt(&operator).await.unwrap().is_none());
    assert!(bindings.get_opt(&operator).await.unwrap().is_none());
    assert!(leases.get_opt(&operator).await.unwrap().is_none());
    let left = Api::<ServiceAccount>::namespaced(cluster.client(), ns.name())
        .list(&ListParams::default().labels("app.kubernetes.io/instance=sealstack"))
        .await
        .unwrap();
    assert!(
        left.items.is_empty(),
        "left behind: {:?}",
        left.items.iter().map(|s| s.metadata.name.clone()).collect::<Vec<_>>()
    );
    let services = Api::<Service>::namespaced(cluster.client(), ns.name())
        .list(&ListParams::default().labels("app.kubernetes.io/instance=sealstack"))
        .await
        .unwrap();
    assert!(services.items.is_empty());
    // Helm keeps the CRDs it installed from crds/ (and with them every sealstack resource).
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client());
    assert!(crds.get_opt("miners.sealstack.io").await.unwrap().is_some());
    ns.delete().await.unwrap();
}
