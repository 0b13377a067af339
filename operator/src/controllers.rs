//! The controllers and the watches they share: one watch per kind, its store read by every controller that
//! needs that kind, so that a reconcile makes no read calls for what it dereferences or compares against.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Node as KubeNode, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Api, Client, ResourceExt};
use sealstack_crds::{Miner, ParamCache, SealingWorker};
use serde::de::DeserializeOwned;
use tracing::{error, warn};

use crate::apply::{drop_spec_if_ours, reduce_service_if_ours};
use crate::context::Context;
use crate::error::Error;
use crate::labels::{PARAM_CACHE_LABEL, SEALING_WORKER_LABEL};
use crate::miner::runtime_node::{
    addresses_change, addresses_only, miner_of_pod, miners_on_node, node_of_pod_changes, placement_only,
};
use crate::pod_trouble::{identity_and_trouble, trouble};
use crate::stores::{
    FETCH_JOBS, FETCH_PODS, MANAGED, NOT_MANAGED, PARAM_CLAIMS, RUNTIME_PODS, RUNTIME_SETS, SECRET_TYPES, WORKER_PODS,
    WORKER_SETS, drain, reflect, reflect_metadata, reflect_reduced, watch_config,
};
use crate::{miner, param_cache, sealing_worker};

/// Reconciles of one controller in flight at once: enough to keep the API server busy, few enough that
/// the operator's memory stays flat however many objects change at once.
const CONCURRENCY: u16 = 32;
/// The same for Miners, whose reconciles mostly wait for the full node's answers (a dozen reads of the chain;
/// never for a message to land, see [`crate`]). At
/// 1000 Miners on 2 cores, 128 was up to ~15% faster in some runs and took ~9 MiB more (over 64 MiB).
const MINER_CONCURRENCY: u16 = 64;

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

/// Runs every controller until a shutdown signal; `namespace` limits them to one namespace.
pub async fn controllers(client: Client, namespace: Option<String>, ctx: Arc<Context>) {
    run_controllers(client, namespace, ctx, &ControllerKind::ALL).await;
}

/// A watch item handler that tells `pick(ctx.own_writes)` of each object the watch shows.
fn observed<K: kube::Resource + 'static>(
    ctx: &Arc<Context>,
    pick: fn(&crate::context::OwnStatusWrites) -> &crate::own_writes::OwnWrites<K>,
) -> impl FnMut(&Result<K, watcher::Error>) + Send + 'static {
    let ctx = ctx.clone();
    move |seen| {
        if let Ok(object) = seen {
            pick(&ctx.own_writes).observe(object);
        }
    }
}

/// Runs the Miner controller alone, with the ParamCache watch it reads (the e2e tests drive it beside a
/// devnet).
pub async fn run_miner(client: Client, namespace: Option<String>, ctx: Arc<Context>) {
    run_controllers(client, namespace, ctx, &[ControllerKind::Miner]).await;
}

/// Runs the controllers in `which`, and the watches they read, until a shutdown signal.
///
/// # Panics
/// When the controllers of `ctx` were started before.
pub async fn run_controllers(client: Client, namespace: Option<String>, ctx: Arc<Context>, which: &[ControllerKind]) {
    let feeds = ctx.take_feeds();
    let runs = |kind| which.contains(&kind);
    let mut tasks: Vec<BoxFuture<'static, ()>> = Vec::new();
    // Watches kept only for the stores other controllers read: they never end by themselves.
    let mut drains: Vec<BoxFuture<'static, ()>> = Vec::new();
    // ParamCaches are read by every controller; Miners by the Miner and SealingWorker controllers.
    // Each of the three kinds' watches also retires the operator's writes it shows (see `own_writes`).
    let caches = reflect(api_for(client.clone(), &namespace), watch_config(None), feeds.caches)
        .inspect(observed(&ctx, |writes| &writes.caches));
    if runs(ControllerKind::ParamCache) {
        let children = ParamCacheChildren {
            jobs: reflect_reduced(
                api_for(client.clone(), &namespace),
                watch_config(Some(FETCH_JOBS)),
                feeds.fetch_jobs,
                status_and_metadata,
            ),
            pods: reflect_reduced(
                api_for(client.clone(), &namespace),
                watch_config(Some(FETCH_PODS)),
                feeds.fetch_pods,
                identity_and_trouble,
            ),
            claims: reflect(api_for(client.clone(), &namespace), watch_config(Some(PARAM_CLAIMS)), feeds.param_claims),
            config_maps: reflect_metadata(
                api_for(client.clone(), &namespace),
                watch_config(None),
                feeds.config_map_versions,
            ),
        };
        tasks.push(run_param_cache(caches, children, ctx.clone()).boxed());
    } else {
        drains.push(drain(caches).boxed());
    }
    let miners = reflect(api_for(client.clone(), &namespace), watch_config(None), feeds.miners)
        .inspect(observed(&ctx, |writes| &writes.miners));
    if runs(ControllerKind::Miner) {
        let runtime_sets = reflect_reduced(
            api_for(client.clone(), &namespace),
            watch_config(Some(RUNTIME_SETS)),
            feeds.runtime_sets,
            drop_spec_if_ours,
        );
        let services = reflect_reduced(
            api_for(client.clone(), &namespace),
            watch_config(Some(MANAGED)),
            feeds.services,
            reduce_service_if_ours,
        );
        let secrets = MinerSecrets {
            owned: reflect(api_for(client.clone(), &namespace), watch_config(Some(MANAGED)), feeds.owned_secrets),
            versions: reflect_metadata(
                api_for(client.clone(), &namespace),
                watch_config(Some(NOT_MANAGED)).fields(SECRET_TYPES),
                feeds.secret_versions,
            ),
        };
        // Nodes are cluster-scoped: watched whole-cluster even when the operator watches one namespace.
        let placement = RuntimePlacement {
            pods: reflect_reduced(
                api_for(client.clone(), &namespace),
                watch_config(Some(RUNTIME_PODS)),
                feeds.runtime_pods,
                placement_only,
            ),
            nodes: reflect_reduced(Api::all(client.clone()), watch_config(None), feeds.nodes, addresses_only),
        };
        let budgets = reflect(api_for(client.clone(), &namespace), watch_config(Some(MANAGED)), feeds.budgets);
        let children = MinerChildren { runtime_sets, services, budgets, secrets, placement };
        tasks.push(run_miner_controller(miners, children, ctx.clone()).boxed());
    } else if runs(ControllerKind::SealingWorker) {
        drains.push(drain(miners).boxed());
    }
    if runs(ControllerKind::SealingWorker) {
        let workers = reflect(api_for(client.clone(), &namespace), watch_config(None), feeds.workers)
            .inspect(observed(&ctx, |writes| &writes.workers));
        let worker_sets = reflect_reduced(
            api_for(client.clone(), &namespace),
            watch_config(Some(WORKER_SETS)),
            feeds.worker_sets,
            drop_spec_if_ours,
        );
        let worker_pods = reflect_reduced(
            api_for(client.clone(), &namespace),
            watch_config(Some(WORKER_PODS)),
            feeds.worker_pods,
            identity_and_trouble,
        );
        tasks.push(run_sealing_worker(workers, worker_sets, worker_pods, ctx.clone()).boxed());
    }
    // The controllers stop on a shutdown signal; the drains with them (waiting for the drains as well kept a
    // process running a subset of the controllers alive after SIGTERM, until killed).
    let drains = futures::future::join_all(drains).then(|_| std::future::pending::<()>());
    tokio::select! {
        _ = futures::future::join_all(tasks) => {}
        () = drains => {}
    }
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

/// The trigger stream of a controller's own kind: only spec changes (a new generation), not the status
/// writes the controller makes itself; children and requeues trigger the rest.
fn spec_changes<K>(
    stream: impl Stream<Item = Result<K, watcher::Error>> + Send + 'static,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
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
    let meta = &set.metadata;
    let replicas = set.status.as_ref().map(|s| (s.replicas, s.ready_replicas));
    let deleted = meta.deletion_timestamp.is_some();
    Some(crate::digest::hash(&(&meta.uid, meta.generation, &meta.labels, &meta.annotations, replicas, deleted)))
}

fn controller_config(concurrency: u16) -> controller::Config {
    controller::Config::default().concurrency(concurrency)
}

/// The watches of the ParamCache controller besides the ParamCaches.
struct ParamCacheChildren<Jobs, Pods, Claims, ConfigMaps> {
    /// The fetch Jobs.
    jobs: Jobs,
    /// Their pods.
    pods: Pods,
    /// The parameter claims.
    claims: Claims,
    /// Every ConfigMap's metadata (the custom manifests).
    config_maps: ConfigMaps,
}

/// A fetch Job as the ParamCache reconcile reads it: its metadata and status (the spec, a pod template, goes).
fn status_and_metadata(job: &mut Job) {
    job.metadata.managed_fields = None;
    job.spec = None;
}

async fn run_param_cache(
    caches: impl Watched<ParamCache>,
    children: ParamCacheChildren<
        impl Watched<Job>,
        impl Watched<Pod>,
        impl Watched<PersistentVolumeClaim>,
        impl Watched<PartialObjectMeta<ConfigMap>>,
    >,
    ctx: Arc<Context>,
) {
    // An edited (or created, or deleted) custom manifest changes the fetch Job of the ParamCaches naming it.
    let caches_store = ctx.stores.caches.store.clone();
    let ParamCacheChildren { jobs, pods, claims, config_maps } = children;
    let controller = Controller::for_stream(spec_changes(caches), ctx.stores.caches.store.clone())
        .with_config(controller_config(CONCURRENCY))
        .owns_stream(jobs)
        .owns_stream(claims)
        // A fetch pod that cannot run (or runs again): its ParamCache says so.
        .watches_stream(pods.predicate_filter(trouble_changes, Default::default()), |pod| {
            owner_by_label::<ParamCache>(&pod, PARAM_CACHE_LABEL)
        })
        .watches_stream(config_maps, move |map| {
            let namespace = map.metadata.namespace.as_deref().unwrap_or_default();
            caches_using_manifest(&caches_store.state(), namespace, &map.name_any())
        });
    drive(controller, "paramcache", param_cache::reconcile::reconcile, ctx).await;
}

/// Predicate of the pod triggers: why the pod cannot run ([`trouble`]), and whether it exists.
fn trouble_changes(pod: &Pod) -> Option<u64> {
    Some(crate::digest::hash(&(trouble(pod), pod.metadata.deletion_timestamp.is_some())))
}

/// The object of kind `K` named by `pod`'s label `label`, in the pod's namespace.
fn owner_by_label<K: kube::Resource<DynamicType = ()>>(pod: &Pod, label: &str) -> Option<ObjectRef<K>> {
    Some(ObjectRef::new(pod.labels().get(label)?).within(pod.metadata.namespace.as_deref()?))
}

/// The ParamCaches in `namespace` that take their custom manifest from the ConfigMap `name`.
pub fn caches_using_manifest(caches: &[Arc<ParamCache>], namespace: &str, name: &str) -> Vec<ObjectRef<ParamCache>> {
    caches
        .iter()
        .filter(|c| c.metadata.namespace.as_deref() == Some(namespace))
        .filter(|c| c.spec.manifest.config_map.as_ref().is_some_and(|m| m.name == name))
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

async fn run_sealing_worker(
    workers: impl Watched<SealingWorker>,
    sets: impl Watched<StatefulSet>,
    pods: impl Watched<Pod>,
    ctx: Arc<Context>,
) {
    let controller = Controller::for_stream(spec_changes(workers), ctx.stores.workers.store.clone())
        .with_config(controller_config(CONCURRENCY))
        .owns_stream(sets.predicate_filter(stateful_set_changes, Default::default()))
        // A worker pod that cannot run (or runs again): its SealingWorker says so.
        .watches_stream(pods.predicate_filter(trouble_changes, Default::default()), |pod| {
            owner_by_label::<SealingWorker>(&pod, SEALING_WORKER_LABEL)
        });
    drive(controller, "sealingworker", sealing_worker::reconcile::reconcile, ctx).await;
}

/// A watch's stream of added or changed objects.
trait Watched<K>: Stream<Item = Result<K, watcher::Error>> + Send + 'static {}
impl<K, S: Stream<Item = Result<K, watcher::Error>> + Send + 'static> Watched<K> for S {}

/// The Secret watches of the Miner controller.
struct MinerSecrets<Owned, Versions> {
    /// The Secrets it made (identities, API secrets).
    owned: Owned,
    /// The metadata of every other Secret.
    versions: Versions,
}

/// The watches that tell where a Miner's runtime runs (for a NodePort announce address).
struct RuntimePlacement<Pods, Nodes> {
    /// The runtime pods.
    pods: Pods,
    /// Every Node.
    nodes: Nodes,
}

/// The watches of the Miner controller besides the Miners.
struct MinerChildren<Sets, Services, Budgets, Owned, Versions, Pods, Nodes> {
    /// The runtime StatefulSets.
    runtime_sets: Sets,
    /// The Services the operator made.
    services: Services,
    /// The runtime pods' PodDisruptionBudgets.
    budgets: Budgets,
    /// The Secrets.
    secrets: MinerSecrets<Owned, Versions>,
    /// The runtime pods and the Nodes.
    placement: RuntimePlacement<Pods, Nodes>,
}

async fn run_miner_controller(
    miners: impl Watched<Miner>,
    children: MinerChildren<
        impl Watched<StatefulSet>,
        impl Watched<Service>,
        impl Watched<PodDisruptionBudget>,
        impl Watched<Secret>,
        impl Watched<PartialObjectMeta<Secret>>,
        impl Watched<Pod>,
        impl Watched<KubeNode>,
    >,
    ctx: Arc<Context>,
) {
    // A Service change (new NodePort, LoadBalancer ingress) changes the announce addresses; the runtime's
    // StatefulSet changes RuntimeReady; a changed identity Secret changes the peer ID, and a changed API info
    // Secret (a rotated token, a moved node) the full node the Miner talks to. A NodePort Miner announces
    // its runtime pod's node: the pod moving to another node, or that node's addresses changing, change
    // the announce addresses too (other pod and Node changes are filtered out).
    let MinerChildren { runtime_sets, services, budgets, secrets, placement } = children;
    let miners_store = ctx.stores.miners.store.clone();
    let (node_miners, pods_store) = (miners_store.clone(), ctx.stores.runtime_pods.store.clone());
    let controller = Controller::for_stream(spec_changes(miners), ctx.stores.miners.store.clone())
        .with_config(controller_config(MINER_CONCURRENCY))
        .owns_stream(services)
        .owns_stream(budgets)
        .owns_stream(runtime_sets.predicate_filter(stateful_set_changes, Default::default()))
        .owns_stream(secrets.owned)
        .watches_stream(secrets.versions, move |secret| {
            let namespace = secret.metadata.namespace.as_deref().unwrap_or_default();
            miners_using_api_info(&miners_store.state(), namespace, &secret.name_any())
        })
        .watches_stream(placement.pods.predicate_filter(node_of_pod_changes, Default::default()), |pod| {
            miner_of_pod(&pod)
        })
        .watches_stream(placement.nodes.predicate_filter(addresses_change, Default::default()), move |node| {
            miners_on_node(&pods_store.state(), &node_miners.state(), &node.name_any())
        });
    drive(controller, "miner", miner::reconcile::reconcile, ctx).await;
}

/// The Miners in `namespace` that take their full node's API info from the Secret `name`.
pub fn miners_using_api_info(miners: &[Arc<Miner>], namespace: &str, name: &str) -> Vec<ObjectRef<Miner>> {
    miners
        .iter()
        .filter(|m| m.metadata.namespace.as_deref() == Some(namespace))
        .filter(|m| m.spec.full_node.api_info_secret_ref.name == name)
        .map(|m| ObjectRef::from_obj(m.as_ref()))
        .collect()
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
                let reference = object.object_ref(&());
                let reconciled = reconcile(object, ctx.clone());
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
/// the error's metric label in CamelCase, the note its message. The recorder folds repeats into one Event's
/// series, so a failure retried every 15 s does not flood the namespace.
async fn warn_on_object(ctx: &Context, reference: &k8s_openapi::api::core::v1::ObjectReference, error: &Error) {
    let event = Event {
        type_: EventType::Warning,
        reason: event_reason(error.metric_label()),
        note: Some(error.to_string().chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(publish) = ctx.recorder.publish(&event, reference).await {
        warn!(%publish, "cannot publish the Warning Event of a failed reconcile");
    }
}

/// A metric label (`missing_dependency`) as an Event reason (`MissingDependency`).
fn event_reason(label: &str) -> String {
    label
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
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
    use serde_json::json;

    fn miner(namespace: &str, name: &str, secret: &str) -> Arc<Miner> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"fullNode": {"apiInfoSecretRef": {"name": secret}}, "sectorSize": "2KiB",
                         "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
            }))
            .unwrap(),
        )
    }

    #[test]
    fn event_reasons_are_the_metric_labels_in_camel_case() {
        assert_eq!(event_reason("missing_dependency"), "MissingDependency");
        assert_eq!(event_reason("unreachable"), "Unreachable");
        assert_eq!(event_reason(Error::InvalidSpec("x".into()).metric_label()), "InvalidSpec");
    }

    #[test]
    fn an_api_info_secret_maps_to_the_miners_of_its_namespace_that_name_it() {
        let miners = [
            miner("sp", "m1", "lotus"),
            miner("sp", "m2", "lotus"),
            miner("sp", "m3", "other"),
            miner("b", "m4", "lotus"),
        ];
        let names: Vec<_> = miners_using_api_info(&miners, "sp", "lotus").into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["m1", "m2"]);
        let found = &miners_using_api_info(&miners, "b", "lotus")[0];
        assert_eq!((found.name.as_str(), found.namespace.as_deref()), ("m4", Some("b")));
        assert!(miners_using_api_info(&miners, "sp", "m1-p2p-identity").is_empty(), "a Secret no Miner names");
    }

    fn cache(namespace: &str, name: &str, manifest: Option<&str>) -> Arc<ParamCache> {
        let mut spec = json!({"sectorSizes": ["2KiB"], "storage": {"size": "1Gi"}});
        if let Some(map) = manifest {
            spec["manifest"] = json!({"configMap": {"name": map}});
        }
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache",
                "metadata": {"name": name, "namespace": namespace}, "spec": spec,
            }))
            .unwrap(),
        )
    }

    #[test]
    fn a_manifest_config_map_maps_to_the_param_caches_of_its_namespace_that_name_it() {
        let caches = [
            cache("sp", "p1", Some("devnet-params")),
            cache("sp", "p2", Some("devnet-params")),
            cache("sp", "p3", Some("other")),
            cache("sp", "p4", None),
            cache("b", "p5", Some("devnet-params")),
        ];
        let names: Vec<_> = caches_using_manifest(&caches, "sp", "devnet-params").into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["p1", "p2"]);
        let found = &caches_using_manifest(&caches, "b", "devnet-params")[0];
        assert_eq!((found.name.as_str(), found.namespace.as_deref()), ("p5", Some("b")));
        assert!(caches_using_manifest(&caches, "sp", "kube-root-ca.crt").is_empty(), "a ConfigMap no cache names");
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
    }
}
