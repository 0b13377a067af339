//! The controllers and the watches they share: one watch per kind, its store read by every controller that
//! needs that kind, so that a reconcile makes no read calls for what it dereferences or compares against.
//! The three kinds' watches start here (each controller reads the others' stores); each controller wires its
//! children's watches and triggers itself, beside its reconcile (`<kind>::controller`).

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::core::{DeserializeGuard, NamespaceResourceScope};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::{error, warn};

use crate::context::Context;
use crate::error::Error;
use crate::pod_trouble::trouble;
use crate::stores::{Feeds, drain, reflect, watch_config};
use crate::{miner, param_cache, sealing_worker};

/// Reconciles of one controller in flight at once: enough to keep the API server busy, few enough that
/// the operator's memory stays flat however many objects change at once (Miners: their own, see
/// [`crate::miner::controller`]).
pub(crate) const CONCURRENCY: u16 = 32;

/// One of the operator's controllers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ControllerKind {
    /// ParamCache: the parameter volume and its fetch Job.
    ParamCache,
    /// Miner: the actor on chain, its runtime and Services.
    Miner,
    /// SealingWorker: the worker StatefulSets.
    SealingWorker,
}

impl ControllerKind {
    /// Every controller.
    pub const ALL: [Self; 3] = [Self::ParamCache, Self::Miner, Self::SealingWorker];
}

/// Runs every controller until a shutdown signal; `namespace` limits them to one namespace. `feeds` are those
/// [`Context::new`] returned with `ctx`.
pub async fn controllers(client: Client, namespace: Option<String>, ctx: Arc<Context>, feeds: Feeds) {
    run_controllers(client, namespace, ctx, feeds, &ControllerKind::ALL).await;
}

/// A watch item handler that tells `pick(ctx.own_writes)` of each decoded object the watch shows.
fn observed<K: kube::Resource + 'static>(
    ctx: &Arc<Context>,
    pick: fn(&crate::context::OwnStatusWrites) -> &crate::own_writes::OwnWrites<K>,
) -> impl FnMut(&Result<DeserializeGuard<K>, watcher::Error>) + Send + 'static {
    let ctx = ctx.clone();
    move |seen| {
        if let Ok(DeserializeGuard(Ok(object))) = seen {
            pick(&ctx.own_writes).observe(object);
        }
    }
}

/// Runs the Miner controller alone, with the ParamCache watch it reads (the e2e tests drive it beside a
/// devnet).
pub async fn run_miner(client: Client, namespace: Option<String>, ctx: Arc<Context>, feeds: Feeds) {
    run_controllers(client, namespace, ctx, feeds, &[ControllerKind::Miner]).await;
}

/// Runs the controllers in `which`, and the watches they read (filling `ctx`'s stores through `feeds`, the
/// feeds [`Context::new`] returned with it), until a shutdown signal.
pub async fn run_controllers(
    client: Client,
    namespace: Option<String>,
    ctx: Arc<Context>,
    feeds: Feeds,
    which: &[ControllerKind],
) {
    let source = Source { client, namespace };
    let runs = |kind| which.contains(&kind);
    let mut tasks: Vec<BoxFuture<'static, ()>> = Vec::new();
    // Watches kept only for the stores other controllers read: they never end by themselves.
    let mut drains: Vec<BoxFuture<'static, ()>> = Vec::new();
    // ParamCaches are read by every controller; Miners by the Miner and SealingWorker controllers.
    // Each of the three kinds' watches also retires the operator's writes it shows (see `own_writes`), and
    // decodes each object apart (`decode`): one that cannot be decoded does not fail the others' list.
    let caches = reflect(source.api(), watch_config(None), feeds.caches).inspect(observed(&ctx, |w| &w.caches)).boxed();
    if runs(ControllerKind::ParamCache) {
        tasks.push(param_cache::controller::controller(source.clone(), caches, feeds.param_cache, ctx.clone()).boxed());
    } else {
        drains.push(drain(caches).boxed());
    }
    let miners = reflect(source.api(), watch_config(None), feeds.miners).inspect(observed(&ctx, |w| &w.miners)).boxed();
    if runs(ControllerKind::Miner) {
        tasks.push(miner::controller::controller(source.clone(), miners, feeds.miner, ctx.clone()).boxed());
    } else if runs(ControllerKind::SealingWorker) {
        drains.push(drain(miners).boxed());
    }
    if runs(ControllerKind::SealingWorker) {
        let workers =
            reflect(source.api(), watch_config(None), feeds.workers).inspect(observed(&ctx, |w| &w.workers)).boxed();
        let worker_feeds = feeds.sealing_worker;
        tasks.push(sealing_worker::controller::controller(source.clone(), workers, worker_feeds, ctx.clone()).boxed());
    }
    // The controllers stop on a shutdown signal; the drains with them (waiting for the drains as well kept a
    // process running a subset of the controllers alive after SIGTERM, until killed).
    let drains = futures::future::join_all(drains).then(|_| std::future::pending::<()>());
    tokio::select! {
        _ = futures::future::join_all(tasks) => {}
        () = drains => {}
    }
}

/// Where the watches of one set of controllers look: the client, and the namespace the set watches (`None`: all;
/// the operator runs one set per watched namespace, see [`crate::watch_namespaces`]).
#[derive(Clone)]
pub struct Source {
    /// The client of every watch.
    pub client: Client,
    /// The namespace watched; `None`: the whole cluster.
    pub namespace: Option<String>,
}

impl Source {
    /// The API of a namespaced kind, in the watched namespace or across all.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }
}

/// A watch's stream of added or changed objects, boxed: what a controller triggers on.
pub type Watched<K> = BoxStream<'static, Result<K, watcher::Error>>;

/// The trigger stream of a controller's own kind: only spec changes (a new generation), not the status
/// writes the controller makes itself; children and requeues trigger the rest.
pub(crate) fn spec_changes<K>(stream: Watched<K>) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: kube::Resource + Send + 'static,
{
    stream.predicate_filter(predicates::generation, Default::default())
}

/// Predicate of the StatefulSet triggers: what a reconcile reads of its StatefulSet (the object's identity,
/// its spec's generation, labels and annotations with the applied digest, replicas and ready replicas), and
/// whether it is being deleted (or is gone: see [`crate::stores`]). The StatefulSet controller's other status
/// updates (revisions, observed generation, current and available replicas) wake no reconcile.
pub fn stateful_set_changes(set: &StatefulSet) -> Option<u64> {
    let replicas = set.status.as_ref().map(|s| (s.replicas, s.ready_replicas));
    Some(crate::digest::hash(&(set_identity(set), replicas)))
}

/// Predicate of the runtime StatefulSet triggers of a Miner: as [`stateful_set_changes`], less the count of pods
/// made (`status.replicas`): a Miner reads only whether its runtime pod is ready, and the pod's own trouble comes
/// with the pod watch.
pub fn runtime_set_changes(set: &StatefulSet) -> Option<u64> {
    let ready = set.status.as_ref().map(|s| s.ready_replicas);
    Some(crate::digest::hash(&(set_identity(set), ready)))
}

/// What any StatefulSet trigger compares: identity, spec generation, labels, annotations, being deleted.
fn set_identity(set: &StatefulSet) -> u64 {
    let meta = &set.metadata;
    let deleted = meta.deletion_timestamp.is_some();
    crate::digest::hash(&(&meta.uid, meta.generation, &meta.labels, &meta.annotations, deleted))
}

/// Predicate of the triggers of a child whose status no reconcile reads (the PodDisruptionBudgets: the disruption
/// controller rewrites their status whenever the pods they select change): its identity, spec generation, labels,
/// annotations (the applied digest), and whether it is being deleted.
pub fn metadata_changes<K: kube::Resource>(object: &K) -> Option<u64> {
    let meta = object.meta();
    let deleted = meta.deletion_timestamp.is_some();
    Some(crate::digest::hash(&(&meta.uid, meta.generation, &meta.labels, &meta.annotations, deleted)))
}

/// A controller's configuration: `concurrency` reconciles in flight at once.
pub(crate) fn controller_config(concurrency: u16) -> controller::Config {
    controller::Config::default().concurrency(concurrency)
}

/// Predicate of the pod triggers: why the pod cannot run ([`trouble`]), and whether it exists.
pub(crate) fn trouble_changes(pod: &Pod) -> Option<u64> {
    Some(crate::digest::hash(&(trouble(pod), pod.metadata.deletion_timestamp.is_some())))
}

/// The object of kind `K` named by `pod`'s label `label`, in the pod's namespace.
pub(crate) fn owner_by_label<K: kube::Resource<DynamicType = ()>>(pod: &Pod, label: &str) -> Option<ObjectRef<K>> {
    Some(ObjectRef::new(pod.labels().get(label)?).within(pod.metadata.namespace.as_deref()?))
}

/// Runs one controller until shutdown, timing and counting its reconciles under `name`. The controller watches
/// its kind through [`DeserializeGuard`]: `reconcile` gets the objects that decoded, and one that did not is
/// reported on itself ([`crate::decode::undecodable`]), its reconcile failed.
pub(crate) async fn drive<K, F, Fut>(
    controller: Controller<DeserializeGuard<K>>,
    name: &'static str,
    mut reconcile: F,
    ctx: Arc<Context>,
) where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    F: FnMut(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    controller
        .shutdown_on_signal()
        .run(
            move |guarded, ctx| {
                let timer = ctx.metrics.reconcile(name);
                let reference = guarded.object_ref(&());
                let reconciled = match &guarded.0 {
                    // A copy: the reconciles work from an `Arc<K>`, the store holds guards.
                    Ok(object) => reconcile(Arc::new(object.clone()), ctx.clone()).left_future(),
                    Err(invalid) => {
                        let (ctx, invalid) = (ctx.clone(), invalid.clone());
                        async move { Err(crate::decode::undecodable::<K>(&ctx, &invalid).await) }.right_future()
                    }
                };
                async move {
                    let _timer = timer;
                    let result = reconciled.await;
                    if let Err(error) = &result {
                        warn_on_object(&ctx, &reference, error).await;
                    }
                    result
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

/// A failed reconcile, as a Warning Event on its object (what a user sees in `kubectl describe`): the reason is
/// the error's ([`Error::reason`]: its metric label in CamelCase), the note its message. Repeats are folded into
/// one Event's series ([`crate::events::Events::publish`]), so a failure retried every 15 s does not flood the
/// namespace.
async fn warn_on_object(ctx: &Context, reference: &k8s_openapi::api::core::v1::ObjectReference, error: &Error) {
    let event = Event {
        type_: EventType::Warning,
        reason: error.reason(),
        note: Some(error.to_string().chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(publish) = ctx.events.publish(&event, reference).await {
        warn!(%publish, "cannot publish the Warning Event of a failed reconcile");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_wakes_its_owner_for_its_metadata_not_its_status() {
        use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
        let mut budget = PodDisruptionBudget::default();
        budget.metadata.uid = Some("u".into());
        budget.metadata.generation = Some(1);
        let before = metadata_changes(&budget);
        budget.status = Some(PodDisruptionBudgetStatus { current_healthy: 1, ..Default::default() });
        assert_eq!(metadata_changes(&budget), before, "the disruption controller's status update");
        budget.metadata.generation = Some(2);
        assert_ne!(metadata_changes(&budget), before, "a changed spec");
    }

    #[test]
    fn a_stateful_set_wakes_its_owner_only_for_what_it_reads() {
        let set = |generation: i64, ready: Option<i32>, revision: &str| -> StatefulSet {
            serde_json::from_value(serde_json::json!({"metadata": {"name": "s", "uid": "u", "generation": generation},
                "status": {"replicas": 1, "readyReplicas": ready, "updateRevision": revision, "observedGeneration": 1}}))
            .unwrap()
        };
        let base = stateful_set_changes(&set(1, None, "a"));
        assert_eq!(base, stateful_set_changes(&set(1, None, "b")), "a new revision in the status: no");
        assert_ne!(base, stateful_set_changes(&set(1, Some(1), "a")), "a pod ready: yes");
        assert_ne!(base, stateful_set_changes(&set(2, None, "a")), "an edited spec: yes");
        let mut deleted = set(1, None, "a");
        deleted.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
        assert_ne!(base, stateful_set_changes(&deleted), "deleted: yes");
        let mut before_the_pod = set(1, None, "a");
        before_the_pod.status.as_mut().unwrap().replicas = 0;
        assert_ne!(base, stateful_set_changes(&before_the_pod), "a pod made: yes, for the SealingWorker's status");
        assert_eq!(runtime_set_changes(&set(1, None, "a")), runtime_set_changes(&before_the_pod), "not for a Miner");
        assert_ne!(
            runtime_set_changes(&before_the_pod),
            runtime_set_changes(&set(1, Some(1), "a")),
            "a pod ready: yes"
        );
        assert_ne!(runtime_set_changes(&before_the_pod), runtime_set_changes(&deleted), "deleted: yes");
    }
}
