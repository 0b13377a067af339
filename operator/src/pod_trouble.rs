//! Why a pod the operator made does not run: the scheduler's reason, an image that cannot be pulled, a
//! container that keeps crashing. The watches keep of each such pod only what [`trouble`] reads
//! ([`keep_trouble`]), and the owner's condition carries it (SealingWorker `Ready`, Miner `RuntimeReady`,
//! ParamCache `Ready` while fetching), so `kubectl describe` says why without a look at the pods.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use sealstack_crds::conditions::{status, types};

/// Container waiting reasons that keep a pod from running until someone acts (kubelet's names).
const STUCK: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Reduces a watched pod to its identity, labels, age and what [`trouble`] reads of its status.
pub fn identity_and_trouble(pod: &mut Pod) {
    let meta = std::mem::take(&mut pod.metadata);
    pod.metadata = ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resource_version: meta.resource_version,
        labels: meta.labels,
        creation_timestamp: meta.creation_timestamp,
        deletion_timestamp: meta.deletion_timestamp,
        ..ObjectMeta::default()
    };
    pod.spec = None;
    pod.status = keep_trouble(pod.status.take());
}

/// What [`trouble`] reads of a pod's status: an unsatisfied `PodScheduled` condition, and the containers
/// waiting for a reason that keeps a pod from running until someone acts (an image that cannot be pulled, a
/// crash loop: kubelet's names), with the last exit code of a crashing one. `None` when the pod has none of these.
pub fn keep_trouble(status: Option<PodStatus>) -> Option<PodStatus> {
    let status = status?;
    let unscheduled: Vec<PodCondition> = status
        .conditions
        .into_iter()
        .flatten()
        .filter(|c| c.type_ == "PodScheduled" && c.status == "False")
        .map(|c| PodCondition {
            type_: c.type_,
            status: c.status,
            reason: c.reason,
            message: c.message,
            ..Default::default()
        })
        .collect();
    let stuck = |statuses: Option<Vec<ContainerStatus>>| -> Vec<ContainerStatus> {
        statuses
            .into_iter()
            .flatten()
            .filter(|s| waiting_reason(s).is_some_and(|r| STUCK.contains(&r)))
            .map(|s| ContainerStatus {
                name: s.name,
                state: s.state.map(|state| ContainerState { waiting: state.waiting, ..Default::default() }),
                last_state: s.last_state.and_then(|last| last.terminated).map(|t| ContainerState {
                    terminated: Some(ContainerStateTerminated { exit_code: t.exit_code, ..Default::default() }),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect()
    };
    let init = stuck(status.init_container_statuses);
    let containers = stuck(status.container_statuses);
    if unscheduled.is_empty() && init.is_empty() && containers.is_empty() {
        return None;
    }
    Some(PodStatus {
        conditions: non_empty(unscheduled),
        init_container_statuses: non_empty(init),
        container_statuses: non_empty(containers),
        ..PodStatus::default()
    })
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn waiting_reason(status: &ContainerStatus) -> Option<&str> {
    status.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

/// Why `pod` does not run, in a line (`Unschedulable: 0/3 nodes are available: …`,
/// `ImagePullBackOff: container miner: …`); `None` when nothing keeps it from running.
pub fn trouble(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    let scheduling = status.conditions.iter().flatten().find(|c| c.type_ == "PodScheduled" && c.status == "False");
    if let Some(c) = scheduling {
        let reason = c.reason.as_deref().unwrap_or("Unschedulable");
        return Some(format!("{reason}: {}", c.message.as_deref().unwrap_or("not scheduled")));
    }
    let statuses = status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    for container in statuses {
        let Some(ContainerStateWaiting { reason: Some(reason), message }) =
            container.state.as_ref().and_then(|s| s.waiting.as_ref())
        else {
            continue;
        };
        if !STUCK.contains(&reason.as_str()) {
            continue;
        }
        let mut line = format!("{reason}: container {}", container.name);
        if let Some(message) = message.as_deref().filter(|m| !m.is_empty()) {
            line.push_str(&format!(": {message}"));
        }
        if let Some(exit) = container.last_state.as_ref().and_then(|s| s.terminated.as_ref()).map(|t| t.exit_code) {
            line.push_str(&format!(" (last exit code {exit})"));
        }
        return Some(line);
    }
    None
}

/// The first of `pods` that does not run and why (`pod gpu-worker-1: Unschedulable: …`), with how many more
/// do not; `None` when all can run.
pub fn first_trouble<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Option<String> {
    let mut troubled = pods.into_iter().filter_map(|pod| Some((pod.metadata.name.clone()?, trouble(pod)?)));
    let (name, first) = troubled.next()?;
    let more = troubled.count();
    Some(match more {
        0 => format!("pod {name}: {first}"),
        n => format!("pod {name}: {first} (and {n} more pods that cannot run)"),
    })
}

/// Adds to a False `Ready` in `conditions` why a pod cannot run (`trouble`, from [`first_trouble`]).
pub fn explain(conditions: &mut [Condition], trouble: Option<String>) {
    if let Some(ready) = conditions.iter_mut().find(|c| c.type_ == types::READY && c.status == status::FALSE) {
        append(&mut ready.message, trouble);
    }
}

/// Adds why a pod cannot run (`trouble`, from [`first_trouble`]) to a condition's `message`.
pub fn append(message: &mut String, trouble: Option<String>) {
    if let Some(trouble) = trouble {
        message.push_str("; ");
        message.push_str(&trouble);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, status: serde_json::Value) -> Pod {
        let mut pod: Pod = serde_json::from_value(json!({"metadata": {"name": name, "namespace": "sp",
            "labels": {"a": "b"}, "annotations": {"big": "x"}}, "spec": {"containers": [{"name": "worker"}]},
            "status": status}))
        .unwrap();
        identity_and_trouble(&mut pod);
        pod
    }

    #[test]
    fn the_schedulers_reason_is_kept_and_said() {
        let p = pod(
            "gpu-worker-0",
            json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/3 nodes are available: 2 node(s) didn't match PersistentVolume's node affinity."}]}),
        );
        assert!(p.spec.is_none() && p.metadata.annotations.is_none(), "reduced");
        assert_eq!(p.metadata.labels.as_ref().unwrap()["a"], "b");
        assert_eq!(
            trouble(&p).unwrap(),
            "Unschedulable: 0/3 nodes are available: 2 node(s) didn't match PersistentVolume's node affinity."
        );
    }

    #[test]
    fn image_pulls_and_crash_loops_are_said_with_the_container() {
        let pull = pod(
            "m1-runtime-0",
            json!({"containerStatuses": [{"name": "miner", "image": "x", "imageID": "",
            "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"x\""}}}]}),
        );
        assert_eq!(trouble(&pull).unwrap(), "ImagePullBackOff: container miner: Back-off pulling image \"x\"");
        let crash = pod(
            "m1-runtime-0",
            json!({"containerStatuses": [{"name": "miner", "image": "x", "imageID": "",
            "ready": false, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 2}}}]}),
        );
        assert_eq!(trouble(&crash).unwrap(), "CrashLoopBackOff: container miner (last exit code 2)");
    }

    #[test]
    fn a_running_or_starting_pod_has_no_trouble_and_keeps_no_status() {
        let running = pod(
            "a",
            json!({"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "w", "image": "x", "imageID": "", "ready": true, "restartCount": 0,
            "state": {"running": {}}}]}),
        );
        assert!(running.status.is_none() && trouble(&running).is_none());
        let creating = pod(
            "b",
            json!({"containerStatuses": [{"name": "w", "image": "x", "imageID": "",
            "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        assert!(trouble(&creating).is_none(), "starting is not stuck");
    }

    #[test]
    fn the_first_troubled_pod_is_named_with_a_count_of_the_others() {
        let unschedulable = json!({"conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "no GPU"}]});
        let pods =
            [pod("w-0", json!({"phase": "Running"})), pod("w-1", unschedulable.clone()), pod("w-2", unschedulable)];
        assert_eq!(first_trouble(&pods).unwrap(), "pod w-1: Unschedulable: no GPU (and 1 more pods that cannot run)");
        assert!(first_trouble(&pods[..1]).is_none());
    }
}
