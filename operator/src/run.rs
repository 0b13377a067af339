//! Running the operator: endpoints, leader election, and the controllers.

use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Service;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use kube_lease_manager::LeaseManagerBuilder;
use sealstack_crds::{Miner, ParamCache, SealingWorker};
use serde::de::DeserializeOwned;
use tracing::{error, info, warn};

use crate::context::{Context, Settings};
use crate::error::Error;
use crate::http::{HttpState, serve};
use crate::kube_client::instrumented_client;
use crate::metrics::Metrics;
use crate::{miner, param_cache, sealing_worker};

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Address of `/metrics`, `/healthz`, `/readyz`.
    pub metrics_addr: SocketAddr,
    /// Watch only this namespace.
    pub namespace: Option<String>,
    /// Lease for leader election; `None` runs without (one replica only).
    pub leader_lease: Option<String>,
    /// Operator-wide settings.
    pub settings: Settings,
}

/// Runs until a signal, or until leadership is lost (the process then exits so that it restarts clean).
pub async fn run(options: RunOptions) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::default());
    let client = instrumented_client(kube::Config::infer().await?, metrics.clone())?;
    let ready = Arc::new(AtomicBool::new(false));
    let http = HttpState { metrics: metrics.clone(), ready: ready.clone() };
    let endpoints = tokio::spawn(serve(options.metrics_addr, http));

    let mut lost_leadership = None;
    if let Some(lease) = &options.leader_lease {
        let namespace = std::env::var("POD_NAMESPACE").unwrap_or_else(|_| client.default_namespace().to_owned());
        let manager = LeaseManagerBuilder::new(client.clone(), lease.clone())
            .with_namespace(namespace)
            .with_field_manager(crate::FIELD_MANAGER)
            .build()
            .await?;
        let (mut leader, task) = manager.watch().await;
        ready.store(true, Ordering::Relaxed);
        info!(%lease, "waiting to become the leader");
        while !*leader.borrow_and_update() {
            leader.changed().await?;
        }
        info!(%lease, "leading");
        lost_leadership = Some(async move {
            while *leader.borrow_and_update() {
                if leader.changed().await.is_err() {
                    break;
                }
            }
            drop(task);
        });
    }
    ready.store(true, Ordering::Relaxed);

    let ctx = Context::new(client.clone(), metrics, options.settings.clone());
    tokio::select! {
        () = controllers(client, options.namespace.clone(), ctx) => info!("controllers stopped"),
        () = async { match lost_leadership { Some(lost) => lost.await, None => std::future::pending().await } } => {
            anyhow::bail!("lost the leader lease: exiting so that only one replica acts")
        }
        result = endpoints => anyhow::bail!("metrics endpoint stopped: {result:?}"),
    }
    Ok(())
}

/// Runs every controller until a shutdown signal; `namespace` limits them to one namespace.
pub async fn controllers(client: Client, namespace: Option<String>, ctx: Arc<Context>) {
    futures::future::join3(
        run_param_cache(client.clone(), namespace.clone(), ctx.clone()),
        run_sealing_worker(client.clone(), namespace.clone(), ctx.clone()),
        run_miner(client, namespace, ctx),
    )
    .await;
}

fn api_for<K>(client: Client, namespace: &Option<String>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

async fn run_param_cache(client: Client, namespace: Option<String>, ctx: Arc<Context>) {
    let caches: Api<ParamCache> = api_for(client.clone(), &namespace);
    let jobs: Api<Job> = api_for(client, &namespace);
    let controller = Controller::new(caches, watcher::Config::default().any_semantic())
        .owns(jobs, watcher::Config::default().labels("app.kubernetes.io/component=param-fetch"));
    drive(controller, "paramcache", param_cache::reconcile::reconcile, ctx).await;
}

async fn run_sealing_worker(client: Client, namespace: Option<String>, ctx: Arc<Context>) {
    let workers: Api<SealingWorker> = api_for(client.clone(), &namespace);
    let sets: Api<StatefulSet> = api_for(client, &namespace);
    let controller = Controller::new(workers, watcher::Config::default().any_semantic())
        .owns(sets, watcher::Config::default().labels("app.kubernetes.io/component=sealing-worker"));
    drive(controller, "sealingworker", sealing_worker::reconcile::reconcile, ctx).await;
}

/// Runs the Miner controller alone (the e2e tests drive it beside a devnet).
pub async fn run_miner(client: Client, namespace: Option<String>, ctx: Arc<Context>) {
    let miners: Api<Miner> = api_for(client.clone(), &namespace);
    let services: Api<Service> = api_for(client.clone(), &namespace);
    let sets: Api<StatefulSet> = api_for(client, &namespace);
    // A Service change (new NodePort, LoadBalancer ingress) changes the announce addresses; the runtime's
    // StatefulSet changes RuntimeReady.
    let controller = Controller::new(miners, watcher::Config::default().any_semantic())
        .owns(services, watcher::Config::default().labels("app.kubernetes.io/managed-by=sealstack-operator"))
        .owns(sets, watcher::Config::default().labels("app.kubernetes.io/component=miner-runtime"));
    drive(controller, "miner", miner::reconcile::reconcile, ctx).await;
}

/// Runs one controller until shutdown, timing and counting its reconciles under `name`.
async fn drive<K, F, Fut>(controller: Controller<K>, name: &'static str, mut reconcile: F, ctx: Arc<Context>)
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: FnMut(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    controller
        .shutdown_on_signal()
        .run(
            move |object, ctx| {
                let timer = ctx.metrics.reconcile(name);
                let reconciled = reconcile(object, ctx);
                async move {
                    let _timer = timer;
                    reconciled.await
                }
            },
            move |object, error, ctx| error_policy(name, &object.name_any(), error, &ctx),
            ctx,
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(controller = name, error = %e, "reconcile did not run");
            }
        })
        .await;
}

/// Invalid objects wait for a change; everything else is retried after a pause.
fn error_policy(controller: &'static str, name: &str, error: &Error, ctx: &Context) -> Action {
    ctx.metrics.reconcile_failed(controller, error.metric_label());
    if error.waits_for_change() {
        warn!(controller, name, %error, "waiting for a change to the object");
        Action::await_change()
    } else {
        error!(controller, name, %error, "reconcile failed; retrying");
        Action::requeue(Duration::from_secs(15))
    }
}
