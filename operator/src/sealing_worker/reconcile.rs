//! Reconciling one SealingWorker: validate -> dereference (Miner, ParamCache) -> build -> apply -> status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::core::object::HasStatus;
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use sealstack_crds::SealingWorker;
use sealstack_crds::sealing_worker::SealingWorkerStatus;
use tracing::instrument;

use super::build::{WorkerInputs, build_stateful_set, selector_string};
use super::status::desired_status;
use super::validate::validate;
use crate::apply::apply;
use crate::context::Context;
use crate::decode::decoded;
use crate::error::{Error, Result};
use crate::names::miner_api_secret;
use crate::status_write::write_status;
use crate::stores::{dereference, lookup};
use crate::validation::record_spec_valid;

/// Brings one SealingWorker's StatefulSet and status in line with its spec.
#[instrument(skip_all, fields(sealingworker = %worker.name_any(), namespace = worker.namespace().unwrap_or_default()))]
pub async fn reconcile(worker: Arc<SealingWorker>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = worker.namespace().ok_or_else(|| Error::InvalidObject("SealingWorker without namespace".into()))?;
    let client = ctx.client.clone();
    let api: Api<SealingWorker> = Api::namespaced(client.clone(), &namespace);
    // The store may not show this operator's last status write yet.
    let Some(worker) = ctx.own_writes.workers.current(&api, worker).await? else { return Ok(Action::await_change()) };
    let previous = worker.status().cloned().unwrap_or_default();

    // Validate: a refused spec is said in `SpecValid`, and nothing else is written.
    if let Err(error) = validate(&worker) {
        let mut refused = SealingWorkerStatus { observed_generation: worker.meta().generation, ..previous.clone() };
        record_spec_valid(&mut refused.conditions, Some(&error), worker.meta().generation);
        if let Err(write) = write_status(&ctx, &ctx.own_writes.workers, &worker, &previous, &refused).await {
            tracing::warn!(%write, "cannot write the status of a refused SealingWorker");
        }
        return Err(error);
    }

    // Dereference (from the operator's watches): the Miner, and through it the ParamCache the workers mount.
    let miner_name = &worker.spec.miner_ref.name;
    let miner = dereference(&ctx.stores.miners, &client, &namespace, miner_name)
        .await?
        .ok_or_else(|| Error::MissingDependency { kind: "Miner", name: miner_name.clone() })?;
    let (params_claim, params_ready) = crate::param_cache::of_miner(&ctx, &namespace, decoded(&miner)?).await?;

    // Build and apply.
    let inputs = WorkerInputs {
        default_image: ctx.settings.runtime_image.clone(),
        params_claim,
        miner_api_secret: miner_api_secret(miner_name),
        params_ready,
    };
    let desired = build_stateful_set(&worker, &inputs);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    // Compared with the watched StatefulSet: no request at all when it already matches.
    let existing = lookup(&ctx.stores.worker_sets, &namespace, &desired.name_any()).await?;
    let (stored, _) = apply(&sets, &desired, existing.as_deref()).await?;

    // Status.
    let now = Time(Timestamp::now());
    let mut next = desired_status(
        &previous,
        worker.meta().generation,
        worker.spec.replicas,
        selector_string(&worker),
        params_ready,
        Some(&stored),
        now,
    );
    if let Some(spec) = &worker.spec.autoscale {
        next.autoscale = Some(super::autoscale::run(&ctx, &worker, spec).await?);
    } else {
        next.autoscale = None;
    }
    crate::pod_trouble::explain(&mut next.conditions, pods_trouble(&ctx, &worker).await?);
    record_spec_valid(&mut next.conditions, None, worker.meta().generation);
    write_status(&ctx, &ctx.own_writes.workers, &worker, &previous, &next).await?;
    // The ParamCache is not owned by this object: look again while waiting for it; a pool that sizes itself
    // looks at its runtime's work every 15 s.
    Ok(if worker.spec.autoscale.is_some() {
        Action::requeue(super::autoscale::LOOK_EVERY)
    } else if params_ready {
        Action::requeue(Duration::from_secs(600))
    } else {
        Action::requeue(Duration::from_secs(15))
    })
}

/// Why the SealingWorker's pods cannot run, from the worker pods' watch (`None`: all can).
async fn pods_trouble(ctx: &Context, worker: &SealingWorker) -> Result<Option<String>> {
    let namespace = worker.namespace().unwrap_or_default();
    let label = crate::labels::SEALING_WORKER_LABEL;
    let mut pods = crate::stores::labelled(&ctx.stores.worker_pods, &namespace, label, &worker.name_any()).await?;
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(crate::pod_trouble::first_trouble(pods.iter().map(|pod| pod.as_ref())))
}
