//! The SealingWorker's spec checked before anything is written (pure): what the schema lets through and the API
//! server would refuse only in the worker StatefulSet (quantities, the GPU's extended resource name).

use sealstack_crds::SealingWorker;
use sealstack_crds::miner::parse_duration;

use crate::error::Result;
use crate::validation::{Refusals, extended_resource_name, resources, size};

/// Checks `worker`'s spec; the refused fields, by their path, in one [`crate::error::Error::InvalidSpec`].
pub fn validate(worker: &SealingWorker) -> Result<()> {
    let spec = &worker.spec;
    let mut refusals = Refusals::default();
    resources(&mut refusals, "spec.resources", spec.container.resources.as_ref());
    if let Some(scratch) = &spec.scratch.size {
        refusals.check("spec.scratch.size", size(scratch));
    }
    if let Some(gpu) = spec.gpu.as_ref().filter(|gpu| gpu.count > 0) {
        refusals.check("spec.gpu.resourceName", extended_resource_name(&gpu.resource_name));
    }
    if let Some(autoscale) = &spec.autoscale {
        refusals.check(
            "spec.autoscale.scaleDownDelay",
            parse_duration(&autoscale.scale_down_delay).map(drop).map_err(|e| e.to_string()),
        );
    }
    refusals.into_result(|| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn worker(spec: serde_json::Value) -> SealingWorker {
        let mut base = json!({"minerRef": {"name": "m1"}, "tasks": ["PreCommit1", "Commit2"]});
        base.as_object_mut().unwrap().extend(spec.as_object().unwrap().clone());
        serde_json::from_value(json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker",
            "metadata": {"name": "w", "namespace": "sp"}, "spec": base}))
        .unwrap()
    }

    #[test]
    fn quantities_and_the_gpu_resource_are_checked() {
        assert!(validate(&worker(json!({}))).is_ok());
        let good = json!({"resources": {"requests": {"cpu": "2", "memory": "4Gi"}}, "scratch": {"size": "10Gi"},
            "gpu": {"count": 1, "resourceName": "nvidia.com/gpu"}});
        assert!(validate(&worker(good)).is_ok());
        let bad = json!({"resources": {"limits": {"memory": "4GB"}}, "scratch": {"size": "0"},
            "gpu": {"count": 1, "resourceName": "gpu"}});
        let message = validate(&worker(bad)).unwrap_err().to_string();
        for field in ["spec.resources.limits.memory: ", "spec.scratch.size: ", "spec.gpu.resourceName: "] {
            assert!(message.contains(field), "{field} in {message}");
        }
    }
}
