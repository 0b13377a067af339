//! A SealingWorker pool that sizes itself (`spec.autoscale`): each pass asks the Miner's runtime what the pool
//! has to do ([`WorkerPoolApiClient::worker_demand`]), decides the replicas ([`decide`], pure) and, when they
//! change, sets them through the scale subresource, as a HorizontalPodAutoscaler does. It grows at once, to one
//! pod per waiting task (busy pods counted as needed, and pods the runtime has not heard from yet until
//! `scaleDownDelay` after the last growth: a pod that never connects does not pin the pool), within
//! `minReplicas` and `maxReplicas`. It shrinks only after the pool has had more pods than work for `scaleDownDelay`, one pod at a
//! time, highest ordinal first (a StatefulSet removes that one): the runtime drains it first (it finishes the
//! sectors whose files it holds and takes nothing else) and the pod goes only once it runs nothing and holds
//! nothing. Work coming back ends the draining.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use sealstack_chain::ApiInfo;
use sealstack_chain::worker_pool::{Demand, HttpClient, PoolWorker, WorkerPoolApiClient, miner_api_client};
use sealstack_crds::SealingWorker;
use sealstack_crds::autoscale::{AutoscaleSpec, AutoscaleStatus};
use sealstack_crds::miner::parse_duration;

use super::build::{MINER_API_INFO_KEY, stateful_set_name, worker_tasks};
use crate::context::Context;
use crate::error::{Error, Result};

/// How long a call to the runtime may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a pool that sizes itself looks again.
pub const LOOK_EVERY: Duration = Duration::from_secs(15);

/// What the autoscaler does this pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The replicas the pool should have.
    pub replicas: i32,
    /// The pod to drain (the runtime told to), if any.
    pub drain: Option<String>,
    /// Pods whose draining ends.
    pub undrain: Vec<String>,
    /// What goes into `status.autoscale`.
    pub status: AutoscaleStatus,
}

/// The pool's decision (pure): `replicas` pods named `<set>-<ordinal>` now, the runtime's `demand`, the last
/// status, at `now`.
pub fn decide(
    spec: &AutoscaleSpec,
    delay: Duration,
    set: &str,
    replicas: i32,
    demand: &Demand,
    previous: Option<&AutoscaleStatus>,
    now: Timestamp,
) -> Decision {
    let name = |ordinal: i32| format!("{set}-{ordinal}");
    let known = |name: &str| demand.workers.iter().find(|w| w.name == name);
    let mine: Vec<&PoolWorker> = demand.workers.iter().filter(|w| ordinal_of(set, &w.name).is_some()).collect();
    let parse = |time: Option<&String>| time.and_then(|t| t.parse::<Timestamp>().ok()).filter(|t| *t <= now);
    let last_scale_up = parse(previous.and_then(|p| p.last_scale_up.as_ref()));
    // Pods the runtime has not heard from are starting, made for work: needed until the delay after the growth.
    let starting_counts = last_scale_up.is_some_and(|t| now.duration_since(t).unsigned_abs() < delay);
    let starting = (0..replicas).filter(|o| known(&name(*o)).is_none()).count() as i32;
    let busy = (0..replicas).filter(|o| known(&name(*o)).is_some_and(|w| !w.idle())).count() as i32;
    let needed =
        (busy + if starting_counts { starting } else { 0 }).saturating_add(demand.waiting.min(i32::MAX as u32) as i32);
    let target = needed.clamp(spec.min_replicas, spec.max_replicas);
    // Draining workers whose pods the pool keeps (ordinal below `kept`): their draining ends. Those above are pods
    // on their way out, and stay drained.
    let draining_within = |kept: i32| -> Vec<String> {
        let within = |w: &&&PoolWorker| ordinal_of(set, &w.name).is_some_and(|o| o < kept);
        mine.iter().filter(|w| w.draining).filter(within).map(|w| w.name.clone()).collect()
    };
    let mut status = AutoscaleStatus {
        waiting_tasks: demand.waiting,
        busy_replicas: busy,
        last_scale_up: last_scale_up.map(|t| t.to_string()),
        ..AutoscaleStatus::default()
    };
    if target >= replicas {
        // Work for every pod (or more): grow at once, drain nothing.
        if target > replicas {
            status.last_scale_up = Some(now.to_string());
        }
        return Decision { replicas: target, drain: None, undrain: draining_within(target), status };
    }
    let since = parse(previous.and_then(|p| p.surplus_since.as_ref())).unwrap_or(now);
    status.surplus_since = Some(since.to_string());
    let waited = now.duration_since(since).unsigned_abs() >= delay;
    if !waited {
        return Decision { replicas, drain: None, undrain: draining_within(replicas), status };
    }
    let top = name(replicas - 1);
    let undrain = draining_within(replicas - 1);
    match known(&top) {
        // Never heard of by the runtime, or drained and idle: it can go.
        None => Decision { replicas: replicas - 1, drain: None, undrain, status },
        Some(worker) if worker.draining && worker.idle() => {
            Decision { replicas: replicas - 1, drain: None, undrain, status }
        }
        Some(worker) => {
            status.draining = Some(top.clone());
            let drain = (!worker.draining).then_some(top);
            Decision { replicas, drain, undrain, status }
        }
    }
}

/// The ordinal of a pod of the StatefulSet `set`, from its name.
fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    pod.strip_prefix(set)?.strip_prefix('-')?.parse().ok()
}

/// One pass of the autoscaler for `worker`: asks the runtime, decides, drains, and sets the replicas through
/// the scale subresource when they change. The status to record; an unreachable runtime is recorded in it
/// (`error`) and changes nothing.
pub async fn run(ctx: &Context, worker: &SealingWorker, spec: &AutoscaleSpec) -> Result<AutoscaleStatus> {
    let namespace = worker.namespace().unwrap_or_default();
    let previous = worker.status.as_ref().and_then(|s| s.autoscale.as_ref());
    let delay = parse_duration(&spec.scale_down_delay)
        .map_err(|e| Error::InvalidSpec(format!("spec.autoscale.scaleDownDelay: {e}")))?;
    let client = match runtime_client(ctx, &namespace, &worker.spec.miner_ref.name).await {
        Ok(client) => client,
        Err(error) => return Ok(unreachable(previous, error)),
    };
    let tasks: Vec<String> = worker_tasks(&worker.spec.tasks).into_iter().map(str::to_owned).collect();
    let demand = match client.worker_demand(tasks).await {
        Ok(demand) => demand,
        Err(error) => return Ok(unreachable(previous, format!("asking the runtime for the pool's work: {error}"))),
    };
    let set = stateful_set_name(worker);
    let decision = decide(spec, delay, &set, worker.spec.replicas, &demand, previous, Timestamp::now());
    for name in &decision.undrain {
        if let Err(error) = client.worker_drain(name.clone(), false).await {
            tracing::warn!(pod = name, %error, "cannot end a worker's draining");
        }
    }
    if let Some(name) = &decision.drain
        && let Err(error) = client.worker_drain(name.clone(), true).await
    {
        return Ok(unreachable(previous, format!("draining {name}: {error}")));
    }
    if decision.replicas != worker.spec.replicas {
        tracing::info!(
            from = worker.spec.replicas,
            to = decision.replicas,
            waiting = demand.waiting,
            "scaling the pool"
        );
        let api: Api<SealingWorker> = Api::namespaced(ctx.client.clone(), &namespace);
        let patch = serde_json::json!({"spec": {"replicas": decision.replicas}});
        api.patch_scale(&worker.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
    }
    Ok(decision.status)
}

/// The status of a pass that could not reach the runtime: what was known, and why.
fn unreachable(previous: Option<&AutoscaleStatus>, error: String) -> AutoscaleStatus {
    AutoscaleStatus { error: Some(error), ..previous.cloned().unwrap_or_default() }
}

/// A client of the Miner's runtime API, from the Miner's API Secret (`MINER_API_INFO`, as its workers use).
async fn runtime_client(ctx: &Context, namespace: &str, miner: &str) -> std::result::Result<HttpClient, String> {
    let name = crate::names::miner_api_secret(miner);
    // The Secret watches run with the Miner controller; without them (a SealingWorker controller running alone,
    // or before they listed) the Secret is read from the API server.
    let watched = ctx.stores.owned_secrets.has_listed() && ctx.stores.secret_versions.has_listed();
    let secret = if watched {
        crate::secrets::read(&ctx.stores, &ctx.client, namespace, &name).await.map_err(|e| e.to_string())
    } else {
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
        secrets.get_opt(&name).await.map(|s| s.map(Arc::new)).map_err(|e| e.to_string())
    };
    let secret = secret
        .map_err(|e| format!("reading the Secret {name}: {e}"))?
        .ok_or_else(|| format!("the Miner's API Secret {name} does not exist yet"))?;
    let info = secret
        .data
        .as_ref()
        .and_then(|d| d.get(MINER_API_INFO_KEY))
        .and_then(|v| String::from_utf8(v.0.clone()).ok())
        .ok_or_else(|| format!("the Secret {name} has no {MINER_API_INFO_KEY}"))?;
    let info = ApiInfo::parse(&info).map_err(|e| format!("{MINER_API_INFO_KEY} of {name}: {e}"))?;
    miner_api_client(&info, CALL_TIMEOUT).map_err(|e| format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &str = "pool-worker";

    fn spec(min: i32, max: i32) -> AutoscaleSpec {
        AutoscaleSpec { min_replicas: min, max_replicas: max, scale_down_delay: "10m".into() }
    }

    fn pod(ordinal: i32, running: u32, holds: u32, draining: bool) -> PoolWorker {
        PoolWorker { name: format!("{SET}-{ordinal}"), running, holds, draining }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    const DELAY: Duration = Duration::from_secs(600);

    #[test]
    fn grows_at_once_to_the_waiting_tasks_within_the_bounds() {
        let demand = Demand { waiting: 5, workers: vec![] };
        let d = decide(&spec(0, 3), DELAY, SET, 0, &demand, None, at(0));
        assert_eq!((d.replicas, d.drain.clone(), d.status.waiting_tasks), (3, None, 5), "{d:?}");
        assert_eq!(d.status.last_scale_up, Some(at(0).to_string()));
        // Starting pods count as needed: no flapping while they connect ...
        let grown = d.status;
        let d = decide(&spec(0, 3), DELAY, SET, 3, &Demand { waiting: 0, workers: vec![] }, Some(&grown), at(60));
        assert_eq!((d.replicas, d.status.surplus_since), (3, None));
        // ... until the delay after the growth: a pod that never connects does not pin the pool.
        let d = decide(&spec(0, 3), DELAY, SET, 3, &Demand { waiting: 0, workers: vec![] }, Some(&grown), at(600));
        assert_eq!(d.status.surplus_since, Some(at(600).to_string()));
        // The minimum holds with nothing to do.
        assert_eq!(decide(&spec(1, 3), DELAY, SET, 0, &Demand::default(), None, at(0)).replicas, 1);
    }

    #[test]
    fn shrinks_after_the_delay_one_drained_pod_at_a_time_highest_first() {
        let idle = Demand { waiting: 0, workers: vec![pod(0, 0, 0, false), pod(1, 0, 0, false), pod(2, 1, 2, false)] };
        // More pods than work: wait the delay, counted from the first such look.
        let d = decide(&spec(0, 3), DELAY, SET, 3, &idle, None, at(0));
        assert_eq!((d.replicas, d.drain.as_deref()), (3, None));
        let since = d.status.clone();
        let d = decide(&spec(0, 3), DELAY, SET, 3, &idle, Some(&since), at(599));
        assert_eq!((d.replicas, d.drain.as_deref()), (3, None));
        // Then the highest pod is drained first, even busy: it finishes what it holds.
        let d = decide(&spec(0, 3), DELAY, SET, 3, &idle, Some(&since), at(600));
        assert_eq!(
            (d.replicas, d.drain.as_deref(), d.status.draining.as_deref()),
            (3, Some("pool-worker-2"), Some("pool-worker-2"))
        );
        // Draining and still holding files: it stays.
        let draining =
            Demand { waiting: 0, workers: vec![pod(0, 0, 0, false), pod(1, 0, 0, false), pod(2, 0, 1, true)] };
        let d = decide(&spec(0, 3), DELAY, SET, 3, &draining, Some(&d.status), at(700));
        assert_eq!((d.replicas, d.drain.as_deref()), (3, None));
        // Drained: it goes; the next one is drained at the next look, without a new delay.
        let drained =
            Demand { waiting: 0, workers: vec![pod(0, 0, 0, false), pod(1, 0, 0, false), pod(2, 0, 0, true)] };
        let d = decide(&spec(0, 3), DELAY, SET, 3, &drained, Some(&d.status), at(800));
        assert_eq!(d.replicas, 2);
        let rest = Demand { waiting: 0, workers: vec![pod(0, 0, 0, false), pod(1, 0, 0, false)] };
        let d = decide(&spec(0, 3), DELAY, SET, 2, &rest, Some(&d.status), at(815));
        assert_eq!((d.replicas, d.drain.as_deref()), (2, Some("pool-worker-1")));
        // The removed pod's worker (still heard of while its pod terminates) stays drained.
        let leaving = Demand { waiting: 0, workers: vec![pod(0, 0, 0, false), pod(1, 0, 0, true)] };
        let d2 = decide(&spec(0, 3), DELAY, SET, 1, &leaving, Some(&d.status), at(816));
        assert!(d2.undrain.is_empty(), "{d2:?}");
        // Down to the minimum, never below.
        let d = decide(
            &spec(1, 3),
            DELAY,
            SET,
            1,
            &Demand { waiting: 0, workers: vec![pod(0, 0, 0, false)] },
            Some(&d.status),
            at(900),
        );
        assert_eq!((d.replicas, d.drain), (1, None));
    }

    #[test]
    fn work_coming_back_ends_the_draining_and_the_surplus() {
        let draining = Demand { waiting: 2, workers: vec![pod(0, 1, 1, false), pod(1, 0, 0, true)] };
        let previous = AutoscaleStatus {
            surplus_since: Some(at(0).to_string()),
            draining: Some("pool-worker-1".into()),
            ..Default::default()
        };
        let d = decide(&spec(0, 3), DELAY, SET, 2, &draining, Some(&previous), at(900));
        assert_eq!(d.replicas, 3, "one busy, one idle-but-draining not counted, two waiting");
        assert_eq!(d.undrain, vec!["pool-worker-1".to_string()]);
        assert_eq!(d.status.surplus_since, None);
    }

    #[test]
    fn a_pod_the_runtime_never_heard_of_goes_without_draining_and_other_pools_are_not_touched() {
        let demand = Demand {
            waiting: 0,
            workers: vec![
                pod(0, 0, 0, false),
                PoolWorker { name: "other-worker-1".into(), draining: true, ..Default::default() },
            ],
        };
        let previous = AutoscaleStatus { surplus_since: Some(at(0).to_string()), ..Default::default() };
        let d = decide(&spec(0, 2), DELAY, SET, 2, &demand, Some(&previous), at(600));
        assert_eq!((d.replicas, d.drain, d.undrain.len()), (1, None, 0));
        assert_eq!(ordinal_of(SET, "pool-worker-12"), Some(12));
        assert_eq!(ordinal_of(SET, "pool-worker"), None);
    }
}
