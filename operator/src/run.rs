//! Running the operator: endpoints, leader election, then the controllers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kube_lease_manager::LeaseManagerBuilder;
use tracing::info;

use crate::context::Settings;
use crate::controllers::ControllerKind;
use crate::http::{HttpState, serve};
use crate::kube_client::instrumented_client;
use crate::metrics::Metrics;
use crate::watch_namespaces::run_watching;

/// How the operator runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Address of `/metrics`, `/healthz`, `/readyz`.
    pub metrics_addr: SocketAddr,
    /// Watch only these namespaces (see [`crate::watch_namespaces`]); empty: the whole cluster.
    pub namespaces: Vec<String>,
    /// Lease for leader election; `None` runs without (one replica only).
    pub leader_lease: Option<String>,
    /// Operator-wide settings.
    pub settings: Settings,
    /// The controllers to run (all of them unless told otherwise).
    pub controllers: Vec<ControllerKind>,
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

    let controllers =
        run_watching(client, metrics, options.settings.clone(), &options.namespaces, &options.controllers);
    tokio::select! {
        () = controllers => info!("controllers stopped"),
        () = async { match lost_leadership { Some(lost) => lost.await, None => std::future::pending().await } } => {
            anyhow::bail!("lost the leader lease: exiting so that only one replica acts")
        }
        result = endpoints => anyhow::bail!("metrics endpoint stopped: {result:?}"),
    }
    Ok(())
}
