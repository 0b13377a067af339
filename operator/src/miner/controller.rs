//! The Miner controller's wiring: the watches of its children (runtime StatefulSets and pods, Services,
//! disruption budgets, Secrets, Nodes), what each change wakes, and the controller around
//! [`super::reconcile::reconcile`].

use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, WatchStreamExt};
use kube::{Api, ResourceExt};
use sealstack_crds::Miner;

use super::long_term::{claim_changes, miners_using_claim, reduce_claim};
use super::runtime_node::{
    addresses_change, addresses_only, miner_of_pod, miners_on_node, node_of_pod_changes, placement_only,
};
use crate::apply::{drop_spec_if_ours, reduce_service_if_ours};
use crate::context::Context;
use crate::controllers::{
    Source, Watched, controller_config, drive, metadata_changes, runtime_set_changes, spec_changes,
};
use crate::decode::{decoded_objects, guarded_ref};
use crate::stores::{
    MANAGED, MinerFeeds, NOT_MANAGED, RUNTIME_PODS, RUNTIME_SETS, SECRET_TYPES, reflect, reflect_metadata,
    reflect_reduced, watch_config,
};

/// Miner reconciles in flight at once. They mostly wait for the full node's answers (a dozen reads of the
/// chain; never for a message to land, see [`crate`]). At 1000 Miners on 2 cores, 128 was up to ~15% faster in
/// some runs and took ~9 MiB more (over 64 MiB).
const MINER_CONCURRENCY: u16 = 64;

/// A PodDisruptionBudget as the Miner's store keeps it: without its status or managed fields.
fn without_status(budget: &mut PodDisruptionBudget) {
    budget.metadata.managed_fields = None;
    budget.status = None;
}

/// Runs the Miner controller over `miners` (the Miners' watch) until shutdown.
pub async fn controller(
    source: Source,
    miners: Watched<DeserializeGuard<Miner>>,
    feeds: MinerFeeds,
    ctx: Arc<Context>,
) {
    let runtime_sets =
        reflect_reduced(source.api(), watch_config(Some(RUNTIME_SETS)), feeds.runtime_sets, drop_spec_if_ours);
    let services = reflect_reduced(source.api(), watch_config(Some(MANAGED)), feeds.services, reduce_service_if_ours);
    let owned_secrets = reflect(source.api(), watch_config(Some(MANAGED)), feeds.owned_secrets);
    let secret_versions =
        reflect_metadata(source.api(), watch_config(Some(NOT_MANAGED)).fields(SECRET_TYPES), feeds.secret_versions);
    let pods = reflect_reduced(source.api(), watch_config(Some(RUNTIME_PODS)), feeds.runtime_pods, placement_only);
    // Nodes are cluster-scoped: watched whole-cluster even when the operator watches one namespace.
    let nodes = reflect_reduced(Api::all(source.client.clone()), watch_config(None), feeds.nodes, addresses_only);
    // The budgets' status is the disruption controller's, rewritten as the pods change: neither kept nor a trigger.
    let budgets = reflect_reduced(source.api(), watch_config(Some(MANAGED)), feeds.budgets, without_status);
    // Every claim (a long-term store may name an existing one): kept reduced, a trigger when bound or resized.
    let claims = reflect_reduced(source.api(), watch_config(None), feeds.claims, reduce_claim);

    // A Service change (new NodePort, LoadBalancer ingress) changes the announce addresses; the runtime's
    // StatefulSet changes RuntimeReady; a changed identity Secret changes the peer ID, and a changed API info
    // Secret (a rotated token, a moved node) the full node the Miner talks to. A NodePort Miner announces
    // its runtime pod's node: the pod moving to another node, or that node's addresses changing, change
    // the announce addresses too (other pod and Node changes are filtered out). A runtime pod that cannot
    // run says why in RuntimeReady.
    let miners_store = ctx.stores.miners.store.clone();
    let (node_miners, pods_store) = (miners_store.clone(), ctx.stores.runtime_pods.store.clone());
    let claim_miners = miners_store.clone();
    let controller = Controller::for_stream(spec_changes(miners), ctx.stores.miners.store.clone())
        .with_config(controller_config(MINER_CONCURRENCY))
        .owns_stream(services)
        .owns_stream(budgets.predicate_filter(metadata_changes, Default::default()))
        .owns_stream(runtime_sets.predicate_filter(runtime_set_changes, Default::default()))
        .owns_stream(owned_secrets)
        .watches_stream(secret_versions, move |secret| {
            let namespace = secret.metadata.namespace.as_deref().unwrap_or_default();
            miners_using_api_info(&miners_store.state(), namespace, &secret.name_any())
        })
        .watches_stream(claims.predicate_filter(claim_changes, Default::default()), move |claim| {
            let namespace = claim.metadata.namespace.as_deref().unwrap_or_default();
            let miners = claim_miners.state();
            miners_using_claim(decoded_objects(&miners), namespace, &claim.name_any())
                .into_iter()
                .map(guarded_ref)
                .collect::<Vec<_>>()
        })
        .watches_stream(pods.predicate_filter(node_of_pod_changes, Default::default()), |pod| {
            miner_of_pod(&pod).map(guarded_ref)
        })
        .watches_stream(nodes.predicate_filter(addresses_change, Default::default()), move |node| {
            let miners = node_miners.state();
            miners_on_node(&pods_store.state(), decoded_objects(&miners), &node.name_any())
                .into_iter()
                .map(guarded_ref)
                .collect::<Vec<_>>()
        });
    drive(controller, "miner", super::reconcile::reconcile, ctx).await;
}

/// The Miners in `namespace` that take their full node's API info from the Secret `name` (of those that decode).
pub fn miners_using_api_info(
    miners: &[Arc<DeserializeGuard<Miner>>],
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<DeserializeGuard<Miner>>> {
    decoded_objects(miners)
        .filter(|m| m.metadata.namespace.as_deref() == Some(namespace))
        .filter(|m| m.spec.full_node.api_info_secret_ref.name == name)
        .map(|m| guarded_ref(ObjectRef::from_obj(m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn miner(namespace: &str, name: &str, secret: &str) -> Arc<DeserializeGuard<Miner>> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"fullNode": {"apiInfoSecretRef": {"name": secret}}, "sectorSize": "2KiB",
                         "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}},
            }))
            .unwrap(),
        )
    }

    #[test]
    fn an_api_info_secret_maps_to_the_miners_of_its_namespace_that_name_it() {
        let miners = [
            miner("sp", "m1", "lotus"),
            miner("sp", "m2", "lotus"),
            miner("sp", "m3", "other"),
            miner("b", "m4", "lotus"),
        ];
        let names: Vec<_> = miners_using_api_info(&miners, "sp", "lotus").into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["m1", "m2"]);
        let found = &miners_using_api_info(&miners, "b", "lotus")[0];
        assert_eq!((found.name.as_str(), found.namespace.as_deref()), ("m4", Some("b")));
        assert!(miners_using_api_info(&miners, "sp", "m1-p2p-identity").is_empty(), "a Secret no Miner names");
    }
}
