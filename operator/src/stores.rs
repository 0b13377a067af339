//! Reflector stores: what the controllers dereference (Miners, ParamCaches) and the children they compare
//! against (StatefulSets, Services), each kept by one watch instead of a GET per reconcile. Stored objects
//! have their `managedFields` removed: the operator never reads them, and they are a large part of each
//! object.

use std::fmt::Debug;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use kube::core::NamespaceResourceScope;
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use sealstack_crds::{Miner, ParamCache, SealingWorker};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::error::{Error, Result};

/// Label selector of the SealingWorkers' StatefulSets.
pub const WORKER_SETS: &str = "app.kubernetes.io/component=sealing-worker";
/// Label selector of the Miners' runtime StatefulSets.
pub const RUNTIME_SETS: &str = "app.kubernetes.io/component=miner-runtime";
/// Label selector of every object the operator made (the Miners' Services among them).
pub const MANAGED: &str = "app.kubernetes.io/managed-by=sealstack-operator";

/// Objects per page of a watch's initial list.
const PAGE_SIZE: u32 = 500;

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

/// The write side of one watch, given to [`reflect`].
pub struct Feed<K: Resource<DynamicType = ()> + Clone + 'static> {
    writer: Writer<K>,
    listed: watch::Sender<bool>,
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
    /// Every Miner.
    pub miners: Cache<Miner>,
    /// Every ParamCache.
    pub caches: Cache<ParamCache>,
    /// Every SealingWorker.
    pub workers: Cache<SealingWorker>,
    /// The SealingWorkers' StatefulSets.
    pub worker_sets: Cache<StatefulSet>,
    /// The Miners' runtime StatefulSets.
    pub runtime_sets: Cache<StatefulSet>,
    /// The Services the operator made.
    pub services: Cache<Service>,
}

/// The write halves of [`Stores`], each fed by one watch once the controllers start.
pub struct Feeds {
    /// Feeds [`Stores::miners`].
    pub miners: Feed<Miner>,
    /// Feeds [`Stores::caches`].
    pub caches: Feed<ParamCache>,
    /// Feeds [`Stores::workers`].
    pub workers: Feed<SealingWorker>,
    /// Feeds [`Stores::worker_sets`].
    pub worker_sets: Feed<StatefulSet>,
    /// Feeds [`Stores::runtime_sets`].
    pub runtime_sets: Feed<StatefulSet>,
    /// Feeds [`Stores::services`].
    pub services: Feed<Service>,
}

/// Empty stores and their feeds.
pub fn stores() -> (Stores, Feeds) {
    let (miners, miners_feed) = cache();
    let (caches, caches_feed) = cache();
    let (workers, workers_feed) = cache();
    let (worker_sets, worker_sets_feed) = cache();
    let (runtime_sets, runtime_sets_feed) = cache();
    let (services, services_feed) = cache();
    let stores = Stores { miners, caches, workers, worker_sets, runtime_sets, services };
    let feeds = Feeds {
        miners: miners_feed,
        caches: caches_feed,
        workers: workers_feed,
        worker_sets: worker_sets_feed,
        runtime_sets: runtime_sets_feed,
        services: services_feed,
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
/// that was added or changed, retrying with backoff when the API server is unreachable.
pub fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    feed: Feed<K>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let Feed { writer, listed } = feed;
    watcher(api, config)
        .default_backoff()
        .modify(|object: &mut K| object.meta_mut().managed_fields = None)
        .reflect(writer)
        .inspect(move |event| {
            if matches!(event, Ok(watcher::Event::InitDone)) {
                listed.send_replace(true);
            }
        })
        .applied_objects()
}

/// Drives a watch whose objects only fill a store (no controller triggers on them).
pub async fn drain<K>(stream: impl Stream<Item = Result<K, watcher::Error>>) {
    // Errors are retried inside the watch (with backoff): the stream only ends at shutdown.
    stream.for_each(|_| async {}).await;
}

/// The object `name` in `namespace` from `cache`, once its watch has listed.
pub async fn lookup<K>(cache: &Cache<K>, namespace: &str, name: &str) -> Result<Option<Arc<K>>>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    cache.listed.clone().wait_for(|listed| *listed).await.map_err(|_| Error::WatchStopped)?;
    Ok(cache.store.get(&ObjectRef::new(name).within(namespace)))
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
