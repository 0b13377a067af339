//! The ParamCache reconcile against a mocked API server (tower-test): a settled ParamCache makes no request.

use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::core::PartialObjectMetaExt;
use sealstack_crds::param_cache::ParamFileStatus;
use serde_json::json;

use super::*;
use crate::apply::stamped;
use crate::context::Settings;
use crate::metrics::Metrics;
use crate::param_cache::build::build_claim;
use crate::stores::Feeds;
use crate::testing;

fn param_cache(config_map: Option<&str>) -> ParamCache {
    let mut spec = json!({"sectorSizes": ["2KiB"], "storage": {"size": "1Gi"}});
    if let Some(name) = config_map {
        spec["manifest"] = json!({"configMap": {"name": name}});
    }
    serde_json::from_value(json!({
        "apiVersion": "sealstack.io/v1alpha1", "kind": "ParamCache",
        "metadata": {"name": "params", "namespace": "sp", "uid": "uid-params", "generation": 1,
                     "resourceVersion": "5"},
        "spec": spec,
    }))
    .unwrap()
}

fn manifest() -> ConfigMap {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "manifest", "namespace": "sp", "resourceVersion": "3"},
        "data": {"parameters.json": "{}"}}))
    .unwrap()
}

/// The world a settled ParamCache leaves in the operator's watches: its claim as applied, its fetch Job
/// complete (as the Job watch keeps it), and itself with the status of that Job's end. Returns the ParamCache.
fn settled(feeds: &mut Feeds, mut cache: ParamCache, inputs: &FetchInputs) -> ParamCache {
    let mut claim = stamped(&build_claim(&cache).unwrap());
    claim.metadata.namespace = Some("sp".into());
    feeds.param_cache.param_claims.put(claim);
    let mut job = build_fetch_job(&cache, inputs);
    job.metadata.namespace = Some("sp".into());
    job.spec = None;
    let complete = JobCondition { type_: "Complete".into(), status: "True".into(), ..JobCondition::default() };
    job.status = Some(JobStatus { conditions: Some(vec![complete]), ..JobStatus::default() });
    feeds.param_cache.fetch_jobs.put(job);
    let files = vec![ParamFileStatus {
        name: "v28-stacked-proof-of-replication.params".into(),
        size: Some(1024),
        expected_digest: "00".into(),
        verified: true,
    }];
    let job_name = fetch_job_name(&cache, inputs);
    let now = Time(Timestamp::now());
    let mut status =
        desired_status(&Default::default(), Some(1), claim_name(&cache), job_name, &JobState::Succeeded, files, now);
    record_spec_valid(&mut status.conditions, None, Some(1));
    assert_eq!(status.phase, Some(ParamCachePhase::Ready));
    cache.status = Some(status);
    feeds.caches.put_decoded(cache.clone());
    cache
}

fn context(client: kube::Client) -> (Arc<Context>, Feeds) {
    let settings = Settings { runtime_image: "sealstack/miner:test".into(), ..Settings::default() };
    Context::new(client, Arc::new(Metrics::default()), settings)
}

#[tokio::test]
async fn a_settled_param_cache_makes_no_request() {
    let (client, requests) = testing::client(|request| panic!("no request at rest: {request:?}"));
    let (ctx, mut feeds) = context(client);
    feeds.param_cache.config_map_versions.listed();
    let inputs = FetchInputs {
        default_image: ctx.settings.runtime_image.clone(),
        srs_key_present: false,
        manifest_digest: None,
    };
    let cache = settled(&mut feeds, param_cache(None), &inputs);
    let action = reconcile(Arc::new(cache), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::requeue(WHEN_SETTLED));
    assert!(requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_custom_manifest_is_read_once_per_version() {
    let served = manifest();
    let (client, requests) = testing::client(move |request| {
        assert_eq!(
            (&request.method, request.path.as_str()),
            (&http::Method::GET, "/api/v1/namespaces/sp/configmaps/manifest")
        );
        (200, serde_json::to_value(&served).unwrap())
    });
    let (ctx, mut feeds) = context(client);
    feeds.param_cache.config_map_versions.put(manifest().metadata.into_request_partial());
    let data = manifest().data.unwrap();
    let inputs = FetchInputs {
        default_image: ctx.settings.runtime_image.clone(),
        srs_key_present: false,
        manifest_digest: Some(manifest_digest(&data["parameters.json"], None)),
    };
    let cache = Arc::new(settled(&mut feeds, param_cache(Some("manifest")), &inputs));
    for _ in 0..3 {
        assert_eq!(reconcile(cache.clone(), ctx.clone()).await.unwrap(), Action::requeue(WHEN_SETTLED));
    }
    assert_eq!(requests.lock().unwrap().len(), 1, "one GET of the ConfigMap for three reconciles");
}

#[tokio::test]
async fn a_manifest_that_is_not_one_is_said_in_spec_valid_and_nothing_is_made() {
    let mut served = manifest();
    served.data = Some([("parameters.json".to_string(), "not json".to_string())].into());
    let cache = param_cache(Some("manifest"));
    let status_path = "/apis/sealstack.io/v1alpha1/namespaces/sp/paramcaches/params/status";
    let reply = serde_json::to_value(&cache).unwrap();
    let (client, requests) = testing::client(move |request| match request.path.as_str() {
        "/api/v1/namespaces/sp/configmaps/manifest" => (200, serde_json::to_value(&served).unwrap()),
        path if path == status_path => {
            let mut written = reply.clone();
            written["status"] = request.body["status"].clone();
            (200, written)
        }
        other => panic!("nothing made before the spec is valid: {other}"),
    });
    let (ctx, mut feeds) = context(client);
    feeds.param_cache.config_map_versions.put(manifest().metadata.into_request_partial());
    let error = reconcile(Arc::new(cache), ctx).await.unwrap_err();
    assert!(error.to_string().contains("ConfigMap manifest, key parameters.json: not a JSON object"), "{error}");
    let made = requests.lock().unwrap().clone();
    let status: ParamCacheStatus = serde_json::from_value(made.last().unwrap().body["status"].clone()).unwrap();
    let valid = sealstack_crds::conditions::find_condition(&status.conditions, "SpecValid").unwrap();
    assert_eq!((valid.status.as_str(), valid.reason.as_str()), ("False", "InvalidSpec"));
}
