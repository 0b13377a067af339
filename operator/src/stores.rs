//! Reflector stores: what the controllers dereference (Miners, ParamCaches, Secrets) and the children they
//! compare against (StatefulSets, Services), each kept by one watch instead of a GET per reconcile. Stored
//! objects have their `managedFields` removed: the operator never reads them, and they are a large part of
//! each object. The Miners' runtime pods and the Nodes (where a NodePort Miner's runtime runs, and that node's
//! addresses) are stored reduced further, to what the announce reads ([`crate::miner::runtime_node`]).
//!
//! Secrets are watched in two ways. Those the operator made (labelled [`MANAGED`]) are watched whole. Every
//! other Secret is watched as metadata only, stripped to its name and resource version ([`identity_only`]):
//! the Secret a Miner names for its full node's API info carries no label of ours, and watching every
//! Secret's data would keep all of the cluster's credentials in the operator's memory. That watch tells
//! which Secret changed (so that the Miners using it are reconciled) and whether the copy in
//! [`SecretData`] is still current; [`crate::secrets::read`] reads Secrets through both.
//!
//! ConfigMaps (a ParamCache's custom manifest) are watched the same way as those Secrets: metadata only, the
//! data read once per version into [`Copies`] ([`crate::copies::read_copy`]). The ParamCaches' fetch Jobs
//! (status and metadata: the spec is dropped) and claims are watched like the Miners' children, so a settled
//! ParamCache's reconcile makes no request.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Node as KubeNode, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::{ClusterResourceScope, DeserializeGuard, NamespaceResourceScope, PartialObjectMeta};
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use sealstack_crds::{Miner, ParamCache, SealingWorker};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::copies::Copies;
use crate::error::{Error, Result};
use crate::secrets::SecretData;

/// Label selector of the SealingWorkers' StatefulSets.
pub const WORKER_SETS: &str = "app.kubernetes.io/component=sealing-worker";
/// Label selector of the Miners' runtime StatefulSets.
pub const RUNTIME_SETS: &str = "app.kubernetes.io/component=miner-runtime";
/// Label selector of the ParamCaches' fetch Jobs.
pub const FETCH_JOBS: &str = "app.kubernetes.io/component=param-fetch";
/// Label selector of the fetch Jobs' pods (the Job's template carries its labels).
pub const FETCH_PODS: &str = FETCH_JOBS;
/// Label selector of the SealingWorkers' pods (the StatefulSet's template carries its labels).
pub const WORKER_PODS: &str = WORKER_SETS;
/// Label selector of the ParamCaches' claims.
pub const PARAM_CLAIMS: &str = "app.kubernetes.io/component=param-cache";
/// Label selector of the Miners' runtime pods (each labelled with its Miner).
pub const RUNTIME_PODS: &str = "app.kubernetes.io/component=miner-runtime,sealstack.io/miner";
/// Label selector of every object the operator made (the Miners' Services and Secrets among them).
pub const MANAGED: &str = "app.kubernetes.io/managed-by=sealstack-operator";
/// Label selector of the Secrets the operator did not make (those it made are watched whole).
pub const NOT_MANAGED: &str = "app.kubernetes.io/managed-by!=sealstack-operator";
/// Field selector leaving out the Secrets that never hold a full node's API info and change often or are many:
/// Helm's release records and service-account tokens.
pub const SECRET_TYPES: &str = "type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token";

/// Objects per page of a watch's initial list. A page is held whole, decoded, before the stores reduce its
/// objects: at 500 the runtime StatefulSets' page alone took ~15 MB while an operator restarted among a
/// thousand Miners.
const PAGE_SIZE: u32 = 100;

/// The read side of one watch: its store, and whether it has listed once.
///
/// (Readiness is tracked here rather than with `Store::wait_until_ready`, which wakes only one of several
/// tasks waiting at once: concurrent reconciles would hang.)
#[derive(Clone)]
pub struct Cache<K: Resource<DynamicType = ()> + Clone + 'static> {
    /// The objects.
    pub store: Store<K>,
    listed: watch::Receiver<bool>,
}

impl<K: Resource<DynamicType = ()> + Clone + 'static> Cache<K> {
    /// Whether its watch has listed (without waiting for it).
    pub fn has_listed(&self) -> bool {
        *self.listed.borrow()
    }
}

/// The write side of one watch, given to [`reflect`].
pub struct Feed<K: Resource<DynamicType = ()> + Clone + 'static> {
    writer: Writer<K>,
    listed: watch::Sender<bool>,
}

#[cfg(test)]
impl<K: Resource<DynamicType = ()> + Clone + 'static> Feed<K> {
    /// Puts `object` into the store, as a watch event would, and marks the store listed.
    pub(crate) fn put(&mut self, object: K) {
        self.writer.apply_watcher_event(&watcher::Event::Apply(object));
        self.listed.send_replace(true);
    }

    /// Marks the store listed, as a watch that found nothing would.
    pub(crate) fn listed(&mut self) {
        self.listed.send_replace(true);
    }
}

#[cfg(test)]
impl<K: Resource<DynamicType = ()> + Clone + 'static> Feed<DeserializeGuard<K>> {
    /// Puts `object`, decoded, into the store of one of the three kinds (watched through [`DeserializeGuard`]).
    pub(crate) fn put_decoded(&mut self, object: K) {
        self.put(DeserializeGuard(Ok(object)));
    }
}

fn cache<K: Resource<DynamicType = ()> + Clone + 'static>() -> (Cache<K>, Feed<K>) {
    let writer = Writer::default();
    let (listed_tx, listed_rx) = watch::channel(false);
    (Cache { store: writer.as_reader(), listed: listed_rx }, Feed { writer, listed: listed_tx })
}

/// Read handles of the operator's watches. They are empty until their watch has listed once; the lookups
/// below wait for that.
#[derive(Clone)]
pub struct Stores {
    /// Every Miner, decoded or not ([`crate::decode`]).
    pub miners: Cache<DeserializeGuard<Miner>>,
    /// Every ParamCache, decoded or not.
    pub caches: Cache<DeserializeGuard<ParamCache>>,
    /// Every SealingWorker, decoded or not.
    pub workers: Cache<DeserializeGuard<SealingWorker>>,
    /// The SealingWorkers' StatefulSets.
    pub worker_sets: Cache<StatefulSet>,
    /// The Miners' runtime StatefulSets.
    pub runtime_sets: Cache<StatefulSet>,
    /// The Miners' runtime pods: identity, labels and node only.
    pub runtime_pods: Cache<Pod>,
    /// Every claim in the watched namespaces, for the Miners' long-term stores: whole when the operator made it
    /// (its spec is compared before an apply), else its name and status only.
    pub claims: Cache<PersistentVolumeClaim>,
    /// Every Node: identity and addresses only.
    pub nodes: Cache<KubeNode>,
    /// The Services the operator made.
    pub services: Cache<Service>,
    /// The PodDisruptionBudgets the operator made (the Miners' deadline gates).
    pub budgets: Cache<PodDisruptionBudget>,
    /// The Secrets the operator made (the Miners' identities and API secrets), whole.
    pub owned_secrets: Cache<Secret>,
    /// Every other Secret: name and resource version only.
    pub secret_versions: Cache<PartialObjectMeta<Secret>>,
    /// The data of the other Secrets a reconcile read, each at the version it was read.
    pub secret_data: Arc<SecretData>,
    /// The ParamCaches' fetch Jobs: metadata and status.
    pub fetch_jobs: Cache<Job>,
    /// The fetch Jobs' pods: identity, labels, age and why they cannot run.
    pub fetch_pods: Cache<Pod>,
    /// The SealingWorkers' pods: identity, labels, age and why they cannot run.
    pub worker_pods: Cache<Pod>,
    /// The ParamCaches' claims.
    pub param_claims: Cache<PersistentVolumeClaim>,
    /// Every ConfigMap: name and resource version only.
    pub config_map_versions: Cache<PartialObjectMeta<ConfigMap>>,
    /// The ConfigMaps a reconcile read (custom manifests), each at the version it was read.
    pub config_map_data: Arc<Copies<ConfigMap>>,
}

/// The write halves of [`Stores`], each fed by one watch once the controllers start: the three kinds' (every
/// controller reads them), then each controller's children's, handed to that controller.
pub struct Feeds {
    /// Feeds [`Stores::miners`].
    pub miners: Feed<DeserializeGuard<Miner>>,
    /// Feeds [`Stores::caches`].
    pub caches: Feed<DeserializeGuard<ParamCache>>,
    /// Feeds [`Stores::workers`].
    pub workers: Feed<DeserializeGuard<SealingWorker>>,
    /// The ParamCache controller's.
    pub param_cache: ParamCacheFeeds,
    /// The Miner controller's.
    pub miner: MinerFeeds,
    /// The SealingWorker controller's.
    pub sealing_worker: SealingWorkerFeeds,
}

/// The stores the ParamCache controller's watches fill.
pub struct ParamCacheFeeds {
    /// Feeds [`Stores::fetch_jobs`].
    pub fetch_jobs: Feed<Job>,
    /// Feeds [`Stores::fetch_pods`].
    pub fetch_pods: Feed<Pod>,
    /// Feeds [`Stores::param_claims`].
    pub param_claims: Feed<PersistentVolumeClaim>,
    /// Feeds [`Stores::config_map_versions`].
    pub config_map_versions: Feed<PartialObjectMeta<ConfigMap>>,
}

/// The stores the Miner controller's watches fill.
pub struct MinerFeeds {
    /// Feeds [`Stores::runtime_sets`].
    pub runtime_sets: Feed<StatefulSet>,
    /// Feeds [`Stores::runtime_pods`].
    pub runtime_pods: Feed<Pod>,
    /// Feeds [`Stores::claims`].
    pub claims: Feed<PersistentVolumeClaim>,
    /// Feeds [`Stores::nodes`].
    pub nodes: Feed<KubeNode>,
    /// Feeds [`Stores::services`].
    pub services: Feed<Service>,
    /// Feeds [`Stores::budgets`].
    pub budgets: Feed<PodDisruptionBudget>,
    /// Feeds [`Stores::owned_secrets`].
    pub owned_secrets: Feed<Secret>,
    /// Feeds [`Stores::secret_versions`].
    pub secret_versions: Feed<PartialObjectMeta<Secret>>,
}

/// The stores the SealingWorker controller's watches fill.
pub struct SealingWorkerFeeds {
    /// Feeds [`Stores::worker_sets`].
    pub worker_sets: Feed<StatefulSet>,
    /// Feeds [`Stores::worker_pods`].
    pub worker_pods: Feed<Pod>,
}

/// Empty stores and their feeds.
pub fn stores() -> (Stores, Feeds) {
    let (miners, miners_feed) = cache();
    let (caches, caches_feed) = cache();
    let (workers, workers_feed) = cache();
    let (worker_sets, worker_sets_feed) = cache();
    let (runtime_sets, runtime_sets_feed) = cache();
    let (runtime_pods, runtime_pods_feed) = cache();
    let (claims, claims_feed) = cache();
    let (nodes, nodes_feed) = cache();
    let (services, services_feed) = cache();
    let (budgets, budgets_feed) = cache();
    let (owned_secrets, owned_secrets_feed) = cache();
    let (secret_versions, secret_versions_feed) = cache();
    let (fetch_jobs, fetch_jobs_feed) = cache();
    let (fetch_pods, fetch_pods_feed) = cache();
    let (worker_pods, worker_pods_feed) = cache();
    let (param_claims, param_claims_feed) = cache();
    let (config_map_versions, config_map_versions_feed) = cache();
    let stores = Stores {
        miners,
        caches,
        workers,
        worker_sets,
        runtime_sets,
        runtime_pods,
        claims,
        nodes,
        services,
        budgets,
        owned_secrets,
        secret_versions,
        secret_data: Arc::default(),
        fetch_jobs,
        fetch_pods,
        worker_pods,
        param_claims,
        config_map_versions,
        config_map_data: Arc::default(),
    };
    let feeds = Feeds {
        miners: miners_feed,
        caches: caches_feed,
        workers: workers_feed,
        param_cache: ParamCacheFeeds {
            fetch_jobs: fetch_jobs_feed,
            fetch_pods: fetch_pods_feed,
            param_claims: param_claims_feed,
            config_map_versions: config_map_versions_feed,
        },
        miner: MinerFeeds {
            runtime_sets: runtime_sets_feed,
            runtime_pods: runtime_pods_feed,
            claims: claims_feed,
            nodes: nodes_feed,
            services: services_feed,
            budgets: budgets_feed,
            owned_secrets: owned_secrets_feed,
            secret_versions: secret_versions_feed,
        },
        sealing_worker: SealingWorkerFeeds { worker_sets: worker_sets_feed, worker_pods: worker_pods_feed },
    };
    (stores, feeds)
}

/// The watcher configuration of every watch: paged lists, any resource version, an optional label selector.
pub fn watch_config(labels: Option<&str>) -> watcher::Config {
    let config = watcher::Config::default().any_semantic().page_size(PAGE_SIZE);
    match labels {
        Some(labels) => config.labels(labels),
        None => config,
    }
}

/// A watch of `api` that keeps `feed`'s store (objects without `managedFields`) and yields each object
/// that was added, changed or deleted (given a deletion timestamp), retrying with backoff when the
/// API server is unreachable.
pub fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    feed: Feed<K>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    reflect_reduced(api, config, feed, |object: &mut K| object.meta_mut().managed_fields = None)
}

/// Like [`reflect`], keeping of each object only what `reduce` leaves of it (which should drop
/// `managedFields` too).
pub fn reflect_reduced<K>(
    api: Api<K>,
    config: watcher::Config,
    feed: Feed<K>,
    reduce: impl FnMut(&mut K) + Send + 'static,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    reflect_events(watcher(api, config), feed, reduce)
}

/// Like [`reflect`], for a metadata-only watch (an `Api<PartialObjectMeta<K>>` asks for metadata only),
/// keeping of each object only what names one of its versions ([`identity_only`]).
pub fn reflect_metadata<K>(
    api: Api<PartialObjectMeta<K>>,
    config: watcher::Config,
    feed: Feed<PartialObjectMeta<K>>,
) -> impl Stream<Item = Result<PartialObjectMeta<K>, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    reflect_events(watcher(api, config), feed, |object: &mut PartialObjectMeta<K>| identity_only(&mut object.metadata))
}

/// Reduces `meta` to name, namespace, uid and resource version: enough to find an object and tell its
/// versions apart. Labels and annotations go (`kubectl apply`'s last-applied annotation of a Secret holds
/// its data).
pub fn identity_only(meta: &mut ObjectMeta) {
    *meta = ObjectMeta {
        name: meta.name.take(),
        namespace: meta.namespace.take(),
        uid: meta.uid.take(),
        resource_version: meta.resource_version.take(),
        ..ObjectMeta::default()
    };
}

fn reflect_events<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    feed: Feed<K>,
    modify: impl FnMut(&mut K) + Send + 'static,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    let Feed { writer, listed } = feed;
    let store = writer.as_reader();
    events.default_backoff().modify(modify).reflect(writer).flat_map(move |event| {
        let (trigger, relisted) = match event {
            Ok(watcher::Event::Apply(object)) => (Some(Ok(object)), Vec::new()),
            Ok(watcher::Event::Delete(object)) => (Some(Ok(marked_deleted(object))), Vec::new()),
            // A (re)list's objects reach the store together at its end: each one yielded as it is listed
            // would be looked up before it is there, and a reconcile of an object the store lacks does not
            // run (after a watch expired during a burst of creations, 599 of 1000 new Miners waited for
            // their next change). They are yielded once the store holds them, from the store.
            Ok(watcher::Event::InitDone) => {
                listed.send_replace(true);
                (None, store.state())
            }
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => (None, Vec::new()),
            Err(error) => (Some(Err(error)), Vec::new()),
        };
        futures::stream::iter(trigger).chain(futures::stream::iter(relisted).map(|object| Ok(K::clone(&object))))
    })
}

/// A deleted object, as its watch yields it to triggers: with a deletion timestamp, so that a predicate over
/// the metadata lets the deletion through (a child deleted by hand is made again at once, not at the next
/// requeue). The store has already dropped it.
fn marked_deleted<K: Resource>(mut object: K) -> K {
    let now = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now());
    object.meta_mut().deletion_timestamp.get_or_insert(now);
    object
}

/// Drives a watch whose objects only fill a store (no controller triggers on them).
pub async fn drain<K>(stream: impl Stream<Item = Result<K, watcher::Error>>) {
    // Errors are retried inside the watch (with backoff): the stream only ends at shutdown.
    stream.for_each(|_| async {}).await;
}

/// Waits until the watch of `cache` has listed once.
async fn listed<K: Resource<DynamicType = ()> + Clone + 'static>(cache: &Cache<K>) -> Result<()> {
    let mut listed = cache.listed.clone();
    match tokio::time::timeout(LIST_PATIENCE, listed.wait_for(|listed| *listed)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err(Error::WatchStopped),
        // A watch the API server refuses (RBAC) retries for ever: fail the reconcile and say so.
        Err(_) => Err(Error::NotListed(K::kind(&()).into_owned())),
    }
}

/// How long a reconcile waits for a watch to list before it fails with [`Error::NotListed`].
const LIST_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// The object `name` in `namespace` from `cache`, once its watch has listed.
pub async fn lookup<K>(cache: &Cache<K>, namespace: &str, name: &str) -> Result<Option<Arc<K>>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    listed(cache).await?;
    Ok(cache.store.get(&ObjectRef::new(name).within(namespace)))
}

/// The objects in `namespace` from `cache` whose label `label` is `value` (a controller's children of one
/// owner), once its watch has listed.
pub async fn labelled<K>(cache: &Cache<K>, namespace: &str, label: &str, value: &str) -> Result<Vec<Arc<K>>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    listed(cache).await?;
    let in_namespace = |object: &Arc<K>| object.meta().namespace.as_deref() == Some(namespace);
    let labelled =
        |object: &Arc<K>| object.meta().labels.as_ref().and_then(|l| l.get(label)).map(String::as_str) == Some(value);
    Ok(cache.store.state().into_iter().filter(|o| in_namespace(o) && labelled(o)).collect())
}

/// The cluster-scoped object `name` (a Node) from `cache`, once its watch has listed.
pub async fn lookup_cluster<K>(cache: &Cache<K>, name: &str) -> Result<Option<Arc<K>>>
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope> + Clone + 'static,
{
    listed(cache).await?;
    Ok(cache.store.get(&ObjectRef::new(name)))
}

/// Like [`lookup`], for an object this one refers to: when the store does not have it, the API server is
/// asked, since a reference created a moment before the referring object may not have reached the watch
/// yet. Only such a miss costs a request.
pub async fn dereference<K>(cache: &Cache<K>, client: &Client, namespace: &str, name: &str) -> Result<Option<Arc<K>>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + Debug + 'static,
{
    if let Some(found) = lookup(cache, namespace, name).await? {
        return Ok(Some(found));
    }
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    Ok(api.get_opt(name).await?.map(Arc::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_only_keeps_what_names_a_version() {
        let mut meta = ObjectMeta {
            name: Some("lotus".into()),
            namespace: Some("sp".into()),
            uid: Some("u1".into()),
            resource_version: Some("42".into()),
            labels: Some([("a".to_string(), "b".to_string())].into()),
            annotations: Some(
                [("kubectl.kubernetes.io/last-applied-configuration".to_string(), "{\"data\":{}}".to_string())].into(),
            ),
            generation: Some(3),
            ..ObjectMeta::default()
        };
        identity_only(&mut meta);
        assert_eq!(
            meta,
            ObjectMeta {
                name: Some("lotus".into()),
                namespace: Some("sp".into()),
                uid: Some("u1".into()),
                resource_version: Some("42".into()),
                ..ObjectMeta::default()
            }
        );
    }

    fn service(name: &str) -> Service {
        let mut service = Service::default();
        service.metadata.name = Some(name.into());
        service.metadata.namespace = Some("sp".into());
        service
    }

    #[tokio::test]
    async fn a_relists_objects_are_yielded_once_the_store_holds_them() {
        let (stores, feeds) = stores();
        let store = stores.services.store.clone();
        let events = futures::stream::iter([
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(service("m1-p2p"))),
            Ok(watcher::Event::InitApply(service("m2-p2p"))),
            Ok(watcher::Event::InitDone),
            Ok(watcher::Event::Apply(service("m3-p2p"))),
        ]);
        let mut triggers = std::pin::pin!(reflect_events(events, feeds.miner.services, |_: &mut Service| {}));
        let mut yielded = Vec::new();
        while let Some(Ok(object)) = triggers.next().await {
            let name = object.metadata.name.clone().unwrap();
            // What a controller does with a trigger: look its object up in the store.
            assert!(store.get(&ObjectRef::new(&name).within("sp")).is_some(), "{name} yielded before it is stored");
            yielded.push(name);
        }
        yielded.sort();
        assert_eq!(yielded, ["m1-p2p", "m2-p2p", "m3-p2p"]);
        assert!(stores.services.has_listed());
    }

    #[tokio::test]
    async fn lookup_reads_a_listed_store() {
        let (stores, mut feeds) = stores();
        let mut service = Service::default();
        service.metadata.name = Some("m1-p2p".into());
        service.metadata.namespace = Some("sp".into());
        feeds.miner.services.put(service);
        assert!(lookup(&stores.services, "sp", "m1-p2p").await.unwrap().is_some());
        assert!(lookup(&stores.services, "other", "m1-p2p").await.unwrap().is_none());
    }
}
