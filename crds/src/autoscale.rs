//! A SealingWorker pool that sizes itself (`spec.autoscale`): the operator reads what the Miner's runtime has for
//! the pool to do and sets `spec.replicas` between `minReplicas` and `maxReplicas` through the scale subresource,
//! as a HorizontalPodAutoscaler would; a pod is removed only once the runtime has drained it (it runs no task and
//! holds no sector files another worker would have to rebuild). Without it `spec.replicas` is the user's, or an
//! HPA's or KEDA's through the same subresource.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// The bounds and pace of a pool that sizes itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.minReplicas <= self.maxReplicas").message("minReplicas must not be more than maxReplicas").field_path(".minReplicas"))]
pub struct AutoscaleSpec {
    /// Fewest worker pods, also when there is nothing to do (default 0).
    #[serde(default)]
    #[schemars(range(min = 0, max = 1000))]
    pub min_replicas: i32,
    /// Most worker pods.
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    /// How long the pool must have more pods than work before one is drained and removed, in hours, minutes
    /// and seconds (default 10m; a pod costs money while idle, and a new one takes minutes to start).
    #[serde(default = "default_scale_down_delay")]
    #[x_kube(validation = Rule::new("self.matches('^([0-9]+h)?([0-9]+m)?([0-9]+s)?$') && self != '' && !self.matches('^(0+h)?(0+m)?(0+s)?$')").message("scaleDownDelay must be a positive duration in hours, minutes and seconds, such as 10m or 90s"))]
    pub scale_down_delay: String,
}

fn default_scale_down_delay() -> String {
    "10m".into()
}

/// What the autoscaler last decided, in the SealingWorker's status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoscaleStatus {
    /// Tasks the pool's workers could take that were waiting at the last look.
    pub waiting_tasks: u32,
    /// Pods running a task or holding sector files at the last look.
    pub busy_replicas: i32,
    /// When the autoscaler last grew the pool (RFC 3339): pods the runtime has not heard from count as needed
    /// (starting) until `scaleDownDelay` after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_up: Option<String>,
    /// Since when the pool has had more pods than work (RFC 3339); absent while it has not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surplus_since: Option<String>,
    /// The pod being drained before its removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draining: Option<String>,
    /// Why the autoscaler could not look (the runtime unreachable), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
