//! The node a Miner's runtime runs on, for a NodePort Service's announce address ([`super::announce`]), from
//! two watches instead of a pods LIST and a Node GET per reconcile: the runtime pods ([`RUNTIME_PODS`]) and
//! the Nodes, each stored reduced to what is read of it ([`placement_only`], [`addresses_only`]), so that a
//! big cluster's Nodes (their images, conditions, capacity) take little memory.
//!
//! They also trigger reconciles: a runtime pod that moves to another node, for its Miner
//! ([`miner_of_pod`]); a Node whose addresses change, for the Miners announcing it ([`miners_on_node`]).
//! Their predicates ([`node_of_pod_changes`], [`addresses_change`]) let through only those changes (and a
//! runtime pod that cannot run, whose reason `RuntimeReady` carries: [`runtime_trouble`]).
//!
//! [`RUNTIME_PODS`]: crate::stores::RUNTIME_PODS

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node as KubeNode, NodeStatus, Pod, PodSpec};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use sealstack_crds::Miner;

use super::announce::needs_node;
use super::runtime::runtime_name;
use crate::digest::hash;
use crate::error::Result;
use crate::labels::MINER_LABEL;
use crate::pod_trouble::{first_trouble, keep_trouble, trouble};
use crate::stores::{Stores, identity_only, lookup, lookup_cluster};

/// Reduces a runtime pod to its identity, labels, node and what keeps it from running ([`keep_trouble`]).
pub fn placement_only(pod: &mut Pod) {
    let labels = pod.metadata.labels.take();
    identity_only(&mut pod.metadata);
    pod.metadata.labels = labels;
    let node_name = pod.spec.take().and_then(|spec| spec.node_name);
    pod.spec = Some(PodSpec { node_name, ..PodSpec::default() });
    pod.status = keep_trouble(pod.status.take());
}

/// Reduces a Node to its identity and addresses.
pub fn addresses_only(node: &mut KubeNode) {
    identity_only(&mut node.metadata);
    node.spec = None;
    let addresses = node.status.take().and_then(|status| status.addresses);
    node.status = Some(NodeStatus { addresses, ..NodeStatus::default() });
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref()
}

/// Predicate of the runtime pod trigger: what it tells a Miner, the node it runs on (none before it is
/// scheduled) and why it cannot run ([`trouble`]).
pub fn node_of_pod_changes(pod: &Pod) -> Option<u64> {
    Some(hash(&(node_name(pod), trouble(pod))))
}

/// Why the runtime pod of `miner` cannot run, from the runtime pods' watch (`None`: it can, or is not there).
pub async fn runtime_trouble(stores: &Stores, miner: &Miner) -> Result<Option<String>> {
    let namespace = miner.namespace().unwrap_or_default();
    let pod = lookup(&stores.runtime_pods, &namespace, &runtime_pod_name(miner)).await?;
    Ok(pod.as_deref().and_then(|pod| first_trouble([pod])))
}

/// Predicate of the Node trigger: what a Miner announces of it, its addresses.
pub fn addresses_change(node: &KubeNode) -> Option<u64> {
    let addresses = node.status.as_ref().and_then(|s| s.addresses.as_ref()).into_iter().flatten();
    Some(hash(&addresses.map(|a| (&a.type_, &a.address)).collect::<Vec<_>>()))
}

/// The Miner whose runtime `pod` is (its [`MINER_LABEL`], in its namespace).
pub fn miner_of_pod(pod: &Pod) -> Option<ObjectRef<Miner>> {
    let miner = pod.labels().get(MINER_LABEL)?;
    Some(ObjectRef::new(miner).within(pod.metadata.namespace.as_deref()?))
}

/// The Miners that announce the node `node`: those whose runtime pod (in `pods`) runs there and that
/// [`needs_node`].
pub fn miners_on_node<'a>(
    pods: &[Arc<Pod>],
    miners: impl IntoIterator<Item = &'a Miner>,
    node: &str,
) -> Vec<ObjectRef<Miner>> {
    let there: HashSet<ObjectRef<Miner>> =
        pods.iter().filter(|pod| node_name(pod) == Some(node)).filter_map(|pod| miner_of_pod(pod)).collect();
    miners
        .into_iter()
        .filter(|miner| needs_node(&miner.spec.p2p))
        .map(ObjectRef::from_obj)
        .filter(|miner| there.contains(miner))
        .collect()
}

/// The name of `miner`'s runtime pod: the one replica of its runtime StatefulSet.
pub fn runtime_pod_name(miner: &Miner) -> String {
    format!("{}-0", runtime_name(miner))
}

/// The Node `miner`'s runtime pod runs on, from the watches; `None` while it is not scheduled (or its Node
/// is not known yet: the Node's watch event then reconciles the Miner).
pub async fn runtime_node(stores: &Stores, miner: &Miner) -> Result<Option<Arc<KubeNode>>> {
    let namespace = miner.namespace().unwrap_or_default();
    let Some(pod) = lookup(&stores.runtime_pods, &namespace, &runtime_pod_name(miner)).await? else { return Ok(None) };
    let Some(node) = node_name(&pod) else { return Ok(None) };
    lookup_cluster(&stores.nodes, node).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    use crate::miner::runtime::{RuntimeInputs, build_runtime_stateful_set};
    use crate::stores::{RUNTIME_PODS, stores};

    fn miner(namespace: &str, name: &str, p2p: Value) -> Arc<Miner> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
                "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{namespace}-{name}")},
                "spec": {"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
                         "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}, "p2p": p2p},
            }))
            .unwrap(),
        )
    }

    /// The runtime pod of `miner`, labelled as its StatefulSet labels it, on `node`.
    fn pod(miner: &Miner, node: Option<&str>) -> Arc<Pod> {
        let inputs = RuntimeInputs {
            default_image: "sealstack/miner".into(),
            params_claim: "params".into(),
            actor: None,
            api_info_digest: None,
        };
        let set = build_runtime_stateful_set(miner, &inputs);
        let labels = set.spec.unwrap().template.metadata.unwrap().labels;
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": format!("{}-runtime-0", miner.name_any()), "namespace": miner.namespace(),
                             "labels": labels},
                "spec": {"containers": [], "nodeName": node},
            }))
            .unwrap(),
        )
    }

    fn node(name: &str, addresses: Value) -> KubeNode {
        serde_json::from_value(json!({"metadata": {"name": name}, "status": {"addresses": addresses}})).unwrap()
    }

    fn names(refs: &[ObjectRef<Miner>]) -> Vec<&str> {
        refs.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn the_runtime_pods_selector_selects_the_pods_the_runtime_set_makes() {
        let labels = pod(&miner("sp", "m1", json!({})), None).labels().clone();
        for term in RUNTIME_PODS.split(',') {
            match term.split_once('=') {
                Some((key, value)) => assert_eq!(labels.get(key).map(String::as_str), Some(value), "{term}"),
                None => assert!(labels.contains_key(term), "{term}"),
            }
        }
    }

    #[test]
    fn a_stored_pod_keeps_its_identity_labels_and_node_only() {
        let mut stored: Pod = serde_json::from_value(json!({
            "metadata": {"name": "m1-runtime-0", "namespace": "sp", "uid": "u1", "resourceVersion": "7",
                         "labels": {"sealstack.io/miner": "m1"}, "annotations": {"a": "b"},
                         "managedFields": [{"manager": "kubelet"}]},
            "spec": {"nodeName": "n1", "containers": [{"name": "miner", "image": "sealstack/miner"}]},
            "status": {"phase": "Running", "podIP": "10.1.2.3"},
        }))
        .unwrap();
        placement_only(&mut stored);
        let expected: Pod = serde_json::from_value(json!({
            "metadata": {"name": "m1-runtime-0", "namespace": "sp", "uid": "u1", "resourceVersion": "7",
                         "labels": {"sealstack.io/miner": "m1"}},
            "spec": {"nodeName": "n1", "containers": []},
        }))
        .unwrap();
        assert_eq!(stored, expected);
    }

    #[test]
    fn a_stored_node_keeps_its_identity_and_addresses_only() {
        let addresses = json!([{"type": "InternalIP", "address": "10.0.0.5"}]);
        let mut stored: KubeNode = serde_json::from_value(json!({
            "metadata": {"name": "n1", "uid": "u1", "resourceVersion": "9", "labels": {"type": "gpu"},
                         "managedFields": [{"manager": "kubelet"}]},
            "spec": {"podCIDR": "10.1.0.0/24"},
            "status": {"addresses": addresses, "images": [{"names": ["big"], "sizeBytes": 1}],
                       "conditions": [{"type": "Ready", "status": "True"}], "capacity": {"cpu": "64"}},
        }))
        .unwrap();
        addresses_only(&mut stored);
        let expected: KubeNode = serde_json::from_value(json!({
            "metadata": {"name": "n1", "uid": "u1", "resourceVersion": "9"}, "status": {"addresses": addresses},
        }))
        .unwrap();
        assert_eq!(stored, expected);
    }

    #[test]
    fn the_predicates_change_with_the_node_of_a_pod_and_the_addresses_of_a_node() {
        let m1 = miner("sp", "m1", json!({}));
        let (pending, on_n1) = (pod(&m1, None), pod(&m1, Some("n1")));
        assert_ne!(node_of_pod_changes(&pending), node_of_pod_changes(&on_n1), "scheduled");
        assert_ne!(node_of_pod_changes(&on_n1), node_of_pod_changes(&pod(&m1, Some("n2"))), "moved");
        let mut restarted = (*on_n1).clone();
        restarted.status = Some(Default::default());
        restarted.metadata.resource_version = Some("8".into());
        assert_eq!(node_of_pod_changes(&on_n1), node_of_pod_changes(&restarted), "anything else");

        let internal = node("n1", json!([{"type": "InternalIP", "address": "10.0.0.5"}]));
        let mut beat = internal.clone();
        beat.metadata.resource_version = Some("10".into());
        assert_eq!(addresses_change(&internal), addresses_change(&beat), "a heartbeat");
        let external = node(
            "n1",
            json!([{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "ExternalIP", "address": "203.0.113.5"}]),
        );
        assert_ne!(addresses_change(&internal), addresses_change(&external));
        assert_ne!(addresses_change(&internal), addresses_change(&node("n1", json!([]))));
    }

    #[test]
    fn a_runtime_pod_maps_to_its_miner() {
        let found = miner_of_pod(&pod(&miner("sp", "m1", json!({})), Some("n1"))).unwrap();
        assert_eq!((found.name.as_str(), found.namespace.as_deref()), ("m1", Some("sp")));
        let unlabelled: Pod = serde_json::from_value(json!({"metadata": {"name": "x", "namespace": "sp"}})).unwrap();
        assert!(miner_of_pod(&unlabelled).is_none());
    }

    #[test]
    fn a_node_maps_to_the_miners_announcing_it() {
        let explicit = json!({"announceAddresses": ["/ip4/198.51.100.1/tcp/1"]});
        let miners = [
            miner("sp", "m1", json!({})),
            miner("sp", "m2", json!({})),
            miner("sp", "m3", explicit),
            miner("sp", "m4", json!({"service": {"type": "LoadBalancer"}})),
            miner("b", "m1", json!({})),
            miner("sp", "m5", json!({})),
        ];
        let pods: Vec<_> = miners[..5].iter().map(|m| pod(m, Some("n1"))).chain([pod(&miners[5], None)]).collect();
        let on_n1 = miners_on_node(&pods, miners.iter().map(|m| m.as_ref()), "n1");
        assert_eq!(names(&on_n1), ["m1", "m2", "m1"], "NodePort Miners without explicit addresses, on n1");
        assert_eq!(on_n1[2].namespace.as_deref(), Some("b"));
        assert!(miners_on_node(&pods, miners.iter().map(|m| m.as_ref()), "n2").is_empty());
        let moved = [pod(&miners[0], Some("n2"))];
        assert_eq!(names(&miners_on_node(&moved, miners.iter().map(|m| m.as_ref()), "n2")), ["m1"]);
        assert!(
            miners_on_node(&moved, miners.iter().map(|m| m.as_ref()), "n1").is_empty(),
            "the pod moved away: n1 no longer matters"
        );
    }

    #[tokio::test]
    async fn the_runtime_node_is_read_from_the_watches() {
        let (stores, mut feeds) = stores();
        let m1 = miner("sp", "m1", json!({}));
        feeds.miner.runtime_pods.put((*pod(&m1, Some("n1"))).clone());
        feeds.miner.nodes.put(node("n2", json!([])));
        assert!(runtime_node(&stores, &m1).await.unwrap().is_none(), "its Node not seen yet");
        feeds.miner.nodes.put(node("n1", json!([{"type": "InternalIP", "address": "10.0.0.5"}])));
        assert_eq!(runtime_node(&stores, &m1).await.unwrap().unwrap().name_any(), "n1");
        assert!(runtime_node(&stores, &miner("sp", "m2", json!({}))).await.unwrap().is_none(), "no pod");
        assert!(runtime_node(&stores, &miner("b", "m1", json!({}))).await.unwrap().is_none(), "another namespace's");
        feeds.miner.runtime_pods.put((*pod(&m1, None)).clone());
        assert!(runtime_node(&stores, &m1).await.unwrap().is_none(), "not scheduled (again)");
    }
}
