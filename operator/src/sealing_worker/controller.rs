//! The SealingWorker controller's wiring: the watches of its StatefulSets and their pods, what each change
//! wakes, and the controller around [`super::reconcile::reconcile`].

use std::sync::Arc;

use kube::core::DeserializeGuard;
use kube::runtime::{Controller, WatchStreamExt};
use sealstack_crds::SealingWorker;

use crate::apply::drop_spec_if_ours;
use crate::context::Context;
use crate::controllers::{
    CONCURRENCY, Source, Watched, controller_config, drive, owner_by_label, spec_changes, stateful_set_changes,
    trouble_changes,
};
use crate::labels::SEALING_WORKER_LABEL;
use crate::pod_trouble::identity_and_trouble;
use crate::stores::{SealingWorkerFeeds, WORKER_PODS, WORKER_SETS, reflect_reduced, watch_config};

/// Runs the SealingWorker controller over `workers` (the SealingWorkers' watch) until shutdown.
pub async fn controller(
    source: Source,
    workers: Watched<DeserializeGuard<SealingWorker>>,
    feeds: SealingWorkerFeeds,
    ctx: Arc<Context>,
) {
    let sets = reflect_reduced(source.api(), watch_config(Some(WORKER_SETS)), feeds.worker_sets, drop_spec_if_ours);
    let pods = reflect_reduced(source.api(), watch_config(Some(WORKER_PODS)), feeds.worker_pods, identity_and_trouble);
    let controller = Controller::for_stream(spec_changes(workers), ctx.stores.workers.store.clone())
        .with_config(controller_config(CONCURRENCY))
        .owns_stream(sets.predicate_filter(stateful_set_changes, Default::default()))
        // A worker pod that cannot run (or runs again): its SealingWorker says so.
        .watches_stream(pods.predicate_filter(trouble_changes, Default::default()), |pod| {
            owner_by_label::<DeserializeGuard<SealingWorker>>(&pod, SEALING_WORKER_LABEL)
        });
    drive(controller, "sealingworker", super::reconcile::reconcile, ctx).await;
}
