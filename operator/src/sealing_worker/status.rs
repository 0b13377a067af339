//! The SealingWorker status, from the StatefulSet and the ParamCache (pure).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use sealstack_crds::conditions::{set_condition, status, types};
use sealstack_crds::sealing_worker::SealingWorkerStatus;

/// The status the SealingWorker should have.
pub fn desired_status(
    previous: &SealingWorkerStatus,
    generation: Option<i64>,
    desired_replicas: i32,
    selector: String,
    params_ready: bool,
    stateful_set: Option<&StatefulSet>,
    now: Time,
) -> SealingWorkerStatus {
    let observed = stateful_set.and_then(|s| s.status.as_ref());
    let mut next = SealingWorkerStatus {
        observed_generation: generation,
        replicas: observed.map_or(0, |s| s.replicas),
        ready_replicas: observed.and_then(|s| s.ready_replicas).unwrap_or(0),
        selector: Some(selector),
        autoscale: previous.autoscale.clone(),
        conditions: previous.conditions.clone(),
    };
    let (params, reason, message) = if params_ready {
        (status::TRUE, "ParamCacheReady", "the Miner's ParamCache is Ready".to_owned())
    } else {
        (
            status::FALSE,
            "WaitingForParams",
            "workers are held at 0 replicas until the Miner's ParamCache is Ready".to_owned(),
        )
    };
    set_condition(&mut next.conditions, types::PARAMS_READY, params, reason, message, generation, now.clone());
    let ready = params_ready && next.ready_replicas >= desired_replicas;
    let (status, reason, message) = if ready {
        (status::TRUE, "WorkersReady", format!("{} of {desired_replicas} workers ready", next.ready_replicas))
    } else {
        (status::FALSE, "WorkersStarting", format!("{} of {desired_replicas} workers ready", next.ready_replicas))
    };
    set_condition(&mut next.conditions, types::READY, status, reason, message, generation, now);
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetStatus;
    use k8s_openapi::jiff::Timestamp;
    use sealstack_crds::conditions::is_true;

    fn set(replicas: i32, ready: i32) -> StatefulSet {
        StatefulSet {
            status: Some(StatefulSetStatus { replicas, ready_replicas: Some(ready), ..StatefulSetStatus::default() }),
            ..StatefulSet::default()
        }
    }

    #[test]
    fn ready_when_params_are_and_every_worker_is() {
        let now = Time(Timestamp::from_second(1_800_000_000).unwrap());
        let start = SealingWorkerStatus::default();
        let held = desired_status(&start, Some(1), 2, "s".into(), false, Some(&set(0, 0)), now.clone());
        assert!(!is_true(&held.conditions, types::PARAMS_READY) && !is_true(&held.conditions, types::READY));
        let starting = desired_status(&held, Some(1), 2, "s".into(), true, Some(&set(2, 1)), now.clone());
        assert!(is_true(&starting.conditions, types::PARAMS_READY) && !is_true(&starting.conditions, types::READY));
        assert_eq!((starting.replicas, starting.ready_replicas), (2, 1));
        let ready = desired_status(&starting, Some(1), 2, "s".into(), true, Some(&set(2, 2)), now);
        assert!(is_true(&ready.conditions, types::READY));
        assert_eq!(ready.selector.as_deref(), Some("s"));
    }

    #[test]
    fn a_pod_that_cannot_run_is_named_in_ready() {
        let now = Time(Timestamp::from_second(1_800_000_000).unwrap());
        let mut starting = desired_status(&Default::default(), Some(1), 2, "s".into(), true, Some(&set(2, 0)), now);
        crate::pod_trouble::explain(&mut starting.conditions, Some("pod gpu-worker-0: Unschedulable: no GPU".into()));
        let ready = starting.conditions.iter().find(|c| c.type_ == types::READY).unwrap();
        assert_eq!(ready.message, "0 of 2 workers ready; pod gpu-worker-0: Unschedulable: no GPU");
    }
}
