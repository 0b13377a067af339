//! The ParamCache controller's wiring: the watches of its children (fetch Jobs and their pods, claims, every
//! ConfigMap's metadata), what each change wakes, and the controller around [`super::reconcile::reconcile`].

use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, WatchStreamExt};
use sealstack_crds::ParamCache;

use crate::context::Context;
use crate::controllers::{
    CONCURRENCY, Source, Watched, controller_config, drive, owner_by_label, spec_changes, trouble_changes,
};
use crate::decode::{decoded_objects, guarded_ref};
use crate::labels::PARAM_CACHE_LABEL;
use crate::pod_trouble::identity_and_trouble;
use crate::stores::{
    FETCH_JOBS, FETCH_PODS, PARAM_CLAIMS, ParamCacheFeeds, reflect, reflect_metadata, reflect_reduced, watch_config,
};

/// Runs the ParamCache controller over `caches` (the ParamCaches' watch) until shutdown.
pub async fn controller(
    source: Source,
    caches: Watched<DeserializeGuard<ParamCache>>,
    feeds: ParamCacheFeeds,
    ctx: Arc<Context>,
) {
    let jobs = reflect_reduced(source.api(), watch_config(Some(FETCH_JOBS)), feeds.fetch_jobs, status_and_metadata);
    let pods = reflect_reduced(source.api(), watch_config(Some(FETCH_PODS)), feeds.fetch_pods, identity_and_trouble);
    let claims = reflect(source.api(), watch_config(Some(PARAM_CLAIMS)), feeds.param_claims);
    let config_maps = reflect_metadata(source.api(), watch_config(None), feeds.config_map_versions);
    // An edited (or created, or deleted) custom manifest changes the fetch Job of the ParamCaches naming it.
    let caches_store = ctx.stores.caches.store.clone();
    let controller = Controller::for_stream(spec_changes(caches), ctx.stores.caches.store.clone())
        .with_config(controller_config(CONCURRENCY))
        .owns_stream(jobs)
        .owns_stream(claims)
        // A fetch pod that cannot run (or runs again): its ParamCache says so.
        .watches_stream(pods.predicate_filter(trouble_changes, Default::default()), |pod| {
            owner_by_label::<DeserializeGuard<ParamCache>>(&pod, PARAM_CACHE_LABEL)
        })
        .watches_stream(config_maps, move |map| {
            let namespace = map.metadata.namespace.as_deref().unwrap_or_default();
            caches_using_manifest(&caches_store.state(), namespace, &map.name_any())
        });
    drive(controller, "paramcache", super::reconcile::reconcile, ctx).await;
}

/// A fetch Job as the ParamCache reconcile reads it: its metadata and status (the spec, a pod template, goes).
fn status_and_metadata(job: &mut Job) {
    job.metadata.managed_fields = None;
    job.spec = None;
}

/// The ParamCaches in `namespace` that take their custom manifest from the ConfigMap `name` (of those that
/// decode).
pub fn caches_using_manifest(
    caches: &[Arc<DeserializeGuard<ParamCache>>],
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<DeserializeGuard<ParamCache>>> {
    decoded_objects(caches)
        .filter(|c| c.metadata.namespace.as_deref() == Some(namespace))
        .filter(|c| c.spec.manifest.config_map.as_ref().is_some_and(|m| m.name == name))
        .map(|c| guarded_ref(ObjectRef::from_obj(c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cache(namespace: &str, name: &str, manifest: Option<&str>) -> Arc<DeserializeGuard<ParamCache>> {
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
}
