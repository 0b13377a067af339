//! Reconciling one ParamCache: validate and dereference -> build -> apply -> status. Everything it reads comes
//! from the operator's watches (the manifest ConfigMap from a copy kept per version); only a running fetch
//! Job's log is read from the API server, so a settled ParamCache's reconcile makes no request.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, LogParams, PostParams};
use kube::core::object::HasStatus;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use sealstack_crds::ParamCache;
use sealstack_crds::param_cache::ParamCachePhase;
use sealstack_crds::param_cache::ParamCacheStatus;
use tracing::{info, instrument, warn};

use super::build::{FetchInputs, build_claim, build_fetch_job, claim_name, fetch_job_name, manifest_digest};
use super::progress::files_from_log;
use super::status::{JobState, desired_status, job_state, retry_delay};
use super::validate::{validate, validate_manifest};
use crate::FIELD_MANAGER;
use crate::apply::apply;
use crate::context::Context;
use crate::copies::read_copy;
use crate::error::{Error, Result};
use crate::labels::PARAM_CACHE_LABEL;
use crate::pod_trouble::first_trouble;
use crate::status_write::write_status;
use crate::stores::{labelled, lookup};
use crate::validation::record_spec_valid;

/// How often a ParamCache being fetched is looked at again (progress in status).
const WHILE_FETCHING: Duration = Duration::from_secs(10);
/// How often a settled ParamCache is checked anyway.
const WHEN_SETTLED: Duration = Duration::from_secs(600);

/// Brings one ParamCache's children and status in line with its spec.
#[instrument(skip_all, fields(paramcache = %cache.name_any(), namespace = cache.namespace().unwrap_or_default()))]
pub async fn reconcile(cache: Arc<ParamCache>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = cache.namespace().ok_or_else(|| Error::InvalidObject("ParamCache without namespace".into()))?;
    let client = ctx.client.clone();
    // The store may not show this operator's last status write yet.
    let caches: Api<ParamCache> = Api::namespaced(client.clone(), &namespace);
    let Some(cache) = ctx.own_writes.caches.current(&caches, cache).await? else { return Ok(Action::await_change()) };

    // Validate and dereference: a refused spec, or a custom manifest that is not there or not a manifest, is said
    // in `SpecValid`, and nothing else is written.
    let previous = cache.status().cloned().unwrap_or_default();
    let inputs = match fetch_inputs(&ctx, &cache, &namespace).await {
        Ok(inputs) => inputs,
        Err(error) => {
            let mut refused = ParamCacheStatus { observed_generation: cache.meta().generation, ..previous.clone() };
            record_spec_valid(&mut refused.conditions, Some(&error), cache.meta().generation);
            if let Err(write) = write_status(&ctx, &ctx.own_writes.caches, cache.as_ref(), &previous, &refused).await {
                warn!(%write, "cannot write the status of a refused ParamCache");
            }
            return Err(error);
        }
    };

    // Build and apply.
    if let Some(claim) = build_claim(&cache) {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
        let existing = lookup(&ctx.stores.param_claims, &namespace, &claim.name_any()).await?;
        apply(&claims, &claim, existing.as_deref()).await?;
    }
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    let job_name = fetch_job_name(&cache, &inputs);
    let mut job = lookup(&ctx.stores.fetch_jobs, &namespace, &job_name).await?.map(|job| (*job).clone());
    if job.as_ref().is_some_and(|j| j.metadata.deletion_timestamp.is_some()) {
        // Being deleted (a failed fetch replaced): made again once it is gone.
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    if let JobState::Failed { at, .. } = job_state(job.as_ref()) {
        let failed_at = at.map_or_else(Timestamp::now, |t| t.0);
        let wait = retry_delay(previous.failed_fetches.max(1));
        let elapsed = Timestamp::now().duration_since(failed_at).unsigned_abs();
        if elapsed >= wait {
            info!(job = %job_name, "replacing the failed fetch Job");
            match jobs.delete(&job_name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            job = None;
        }
    }
    if job.is_none() {
        let desired = build_fetch_job(&cache, &inputs);
        job = Some(
            match jobs
                .create(&PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() }, &desired)
                .await
            {
                Ok(created) => created,
                // Deleted a moment ago and still finalising: try on the next round.
                Err(kube::Error::Api(e)) if e.code == 409 => return Ok(Action::requeue(Duration::from_secs(5))),
                Err(e) => return Err(e.into()),
            },
        );
    }
    delete_stale_jobs(&ctx, &jobs, &cache, &job_name).await?;

    // Status. The files come from the fetch log while the Job runs, and once more when it ended; after that
    // the status holds them and the log is not read again.
    let state = job_state(job.as_ref());
    // The Job's pods are read (from their watch) while the Job is followed: for the log and, while it runs,
    // what keeps its pod from running.
    let followed = state != JobState::Missing && !end_recorded(&previous, &job_name);
    let pods = if followed { job_pods(&ctx, &namespace, &job_name).await? } else { Vec::new() };
    let files = match pods.first() {
        Some(newest) => files_from_log(&fetch_log(&ctx, newest).await?),
        None if followed || state == JobState::Missing => Vec::new(),
        None => previous.files.clone(),
    };
    let now = Time(Timestamp::now());
    let mut next =
        desired_status(&previous, cache.meta().generation, claim_name(&cache), job_name.clone(), &state, files, now);
    record_spec_valid(&mut next.conditions, None, cache.meta().generation);
    if state == JobState::Running {
        crate::pod_trouble::explain(&mut next.conditions, first_trouble(pods.iter().map(|p| p.as_ref())));
    }
    if let JobState::Failed { message, .. } = &state
        && next.failed_fetches != previous.failed_fetches
    {
        warn!(job = %job_name, %message, "fetch Job failed");
        publish(&ctx, &cache, EventType::Warning, "FetchFailed", format!("Job {job_name} failed: {message}")).await;
    }
    if next.phase != previous.phase && state == JobState::Succeeded {
        publish(&ctx, &cache, EventType::Normal, "Verified", format!("{} parameter files verified", next.files.len()))
            .await;
    }
    write_status(&ctx, &ctx.own_writes.caches, cache.as_ref(), &previous, &next).await?;

    Ok(match state {
        JobState::Succeeded => Action::requeue(WHEN_SETTLED),
        JobState::Failed { .. } => Action::requeue(retry_delay(next.failed_fetches)),
        _ => Action::requeue(WHILE_FETCHING),
    })
}

/// What the fetch Job is made from, `cache`'s spec validated: a custom manifest must exist, hold its parameters
/// key, and be a manifest. Its content names the fetch Job, so that an edited manifest is fetched and verified
/// anew.
async fn fetch_inputs(ctx: &Context, cache: &ParamCache, namespace: &str) -> Result<FetchInputs> {
    validate(cache)?;
    let mut inputs = FetchInputs {
        default_image: ctx.settings.runtime_image.clone(),
        srs_key_present: false,
        manifest_digest: None,
    };
    if let Some(source) = &cache.spec.manifest.config_map {
        let stores = &ctx.stores;
        let map = read_copy(&stores.config_map_versions, &stores.config_map_data, &ctx.client, namespace, &source.name)
            .await?
            .ok_or_else(|| Error::MissingDependency { kind: "ConfigMap", name: source.name.clone() })?;
        let data = map.data.clone().unwrap_or_default();
        let parameters = data.get(&source.parameters_key).ok_or_else(|| {
            Error::InvalidSpec(format!(
                "spec.manifest.configMap: ConfigMap {} has no key {}",
                source.name, source.parameters_key
            ))
        })?;
        let srs = data.get(&source.srs_key).map(String::as_str);
        validate_manifest(
            &source.name,
            &source.parameters_key,
            parameters,
            srs.map(|srs| (source.srs_key.as_str(), srs)),
        )?;
        inputs.srs_key_present = srs.is_some();
        inputs.manifest_digest = Some(manifest_digest(parameters, srs));
    }
    Ok(inputs)
}

/// The fetch Job's pods, from their watch, newest first.
async fn job_pods(ctx: &Context, namespace: &str, job_name: &str) -> Result<Vec<Arc<Pod>>> {
    let mut pods = labelled(&ctx.stores.fetch_pods, namespace, "job-name", job_name).await?;
    pods.sort_by_key(|pod| std::cmp::Reverse(pod.metadata.creation_timestamp.clone().map(|t| t.0)));
    Ok(pods)
}

/// The log of a fetch Job's pod (empty while its container has not started).
async fn fetch_log(ctx: &Context, pod: &Pod) -> Result<String> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), pod.metadata.namespace.as_deref().unwrap_or_default());
    match pods.logs(&pod.name_any(), &LogParams::default()).await {
        Ok(log) => Ok(log),
        // The container has not started yet.
        Err(kube::Error::Api(e)) if e.code == 400 => Ok(String::new()),
        Err(e) => Err(e.into()),
    }
}

/// Whether `previous` already records how the Job `job_name` ended (its files included).
fn end_recorded(previous: &ParamCacheStatus, job_name: &str) -> bool {
    previous.job_name.as_deref() == Some(job_name)
        && matches!(previous.phase, Some(ParamCachePhase::Ready | ParamCachePhase::Failed))
}

/// Deletes this ParamCache's fetch Jobs other than the current one (found in the Jobs' watch).
async fn delete_stale_jobs(ctx: &Context, jobs: &Api<Job>, cache: &ParamCache, current: &str) -> Result<()> {
    let namespace = cache.namespace().unwrap_or_default();
    let owned = labelled(&ctx.stores.fetch_jobs, &namespace, PARAM_CACHE_LABEL, &cache.name_any()).await?;
    let stale = owned.iter().filter(|job| job.name_any() != current && job.metadata.deletion_timestamp.is_none());
    for name in stale.map(|job| job.name_any()) {
        match jobs.delete(&name, &DeleteParams::background()).await {
            Ok(_) => {}
            // Gone meanwhile (the watch shows it soon).
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn publish(ctx: &Context, cache: &ParamCache, type_: EventType, reason: &str, note: String) {
    let event = Event { type_, reason: reason.into(), note: Some(note), action: "Fetch".into(), secondary: None };
    if let Err(e) = ctx.events.publish(&event, &cache.object_ref(&())).await {
        warn!(error = %e, "cannot publish an Event");
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
