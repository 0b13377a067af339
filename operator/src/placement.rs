//! Pod placement from a `PodPlacement`: the same node selector, tolerations and affinity for the miner
//! runtime, the fetch Job and the workers.

use k8s_openapi::api::core::v1::{Affinity, PodSpec};
use sealstack_crds::common::PodPlacement;

/// A pod spec holding only the placement; builders fill in the rest (`..placed_pod_spec(placement)`).
///
/// Empty settings stay unset: the API server drops an empty `nodeSelector` or `tolerations`, so setting them
/// would leave the stored object forever different from the desired one, and every reconcile would apply it
/// again. An empty `affinity` says nothing either, and is left out with them.
pub fn placed_pod_spec(placement: &PodPlacement) -> PodSpec {
    PodSpec {
        node_selector: Some(placement.node_selector.clone()).filter(|s| !s.is_empty()),
        tolerations: Some(placement.tolerations.clone()).filter(|t| !t.is_empty()),
        affinity: placement.affinity.clone().filter(|a| *a != Affinity::default()),
        ..PodSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_fields_land_in_the_pod_spec() {
        let placement: PodPlacement = serde_json::from_value(json!({
            "nodeSelector": {"disk": "nvme"},
            "tolerations": [{"key": "storage", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}},
        }))
        .unwrap();
        let pod = placed_pod_spec(&placement);
        assert_eq!(pod.node_selector.unwrap()["disk"], "nvme");
        assert_eq!(pod.tolerations.unwrap()[0].key.as_deref(), Some("storage"));
        assert!(pod.affinity.unwrap().node_affinity.is_some());
        assert!(pod.containers.is_empty() && pod.volumes.is_none(), "nothing but the placement");
    }

    #[test]
    fn empty_fields_stay_unset() {
        let empty: PodPlacement =
            serde_json::from_value(json!({"nodeSelector": {}, "tolerations": [], "affinity": {}})).unwrap();
        assert_eq!(placed_pod_spec(&empty), PodSpec::default());
        assert_eq!(placed_pod_spec(&PodPlacement::default()), PodSpec::default());
    }
}
