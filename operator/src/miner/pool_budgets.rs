//! The deadline gate on the PoSt pools: the pods of a Miner's SealingWorkers that run `WindowPoSt` make its
//! deadlines' SNARKs, so each such pool gets a PodDisruptionBudget (`<pool>-worker`, owned by the pool) with the
//! Miner's gate ([`super::disruption::gate`]). A pool that stops running `WindowPoSt` loses its budget: a stale
//! closed one would block the drain of a sealing pool for nothing.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};
use sealstack_crds::{Miner, SealingWorker, TaskType};

use super::disruption::Gate;
use crate::apply::apply;
use crate::context::Context;
use crate::decode::decoded_objects;
use crate::error::Result;
use crate::labels::{MINER_LABEL, SEALING_WORKER_LABEL, child_labels, owner_reference};
use crate::sealing_worker::build::{selector_labels, stateful_set_name};
use crate::stores::lookup;

/// Whether the pool makes PoSt SNARKs.
pub fn runs_window_post(pool: &SealingWorker) -> bool {
    pool.spec.tasks.contains(&TaskType::WindowPoSt)
}

/// The PodDisruptionBudget of a PoSt pool for `gate`.
pub fn build_pool_budget(pool: &SealingWorker, gate: &Gate) -> PodDisruptionBudget {
    let mut labels = child_labels("post-disruption-budget", SEALING_WORKER_LABEL, &pool.name_any());
    labels.insert(MINER_LABEL.to_owned(), pool.spec.miner_ref.name.clone());
    PodDisruptionBudget {
        metadata: ObjectMeta {
            name: Some(stateful_set_name(pool)),
            namespace: pool.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![owner_reference(pool)]),
            ..ObjectMeta::default()
        },
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(gate.max_unavailable)),
            selector: Some(LabelSelector { match_labels: Some(selector_labels(pool)), ..LabelSelector::default() }),
            // A pod that is not ready makes no SNARK: evicting it is always allowed.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".into()),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}

/// Applies `gate` to the budgets of `miner`'s PoSt pools (as the SealingWorker watch shows them; an undecodable
/// one is left as it is), and deletes the budgets of its pools that no longer run `WindowPoSt`.
pub async fn apply_pool_budgets(ctx: &Context, miner: &Miner, namespace: &str, gate: &Gate) -> Result<()> {
    let workers = ctx.stores.workers.store.state();
    let pools = decoded_objects(&workers)
        .filter(|w| w.namespace().as_deref() == Some(namespace) && w.spec.miner_ref.name == miner.name_any());
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), namespace);
    for pool in pools {
        let name = stateful_set_name(pool);
        let existing = lookup(&ctx.stores.budgets, namespace, &name).await?;
        if runs_window_post(pool) {
            apply(&budgets, &build_pool_budget(pool, gate), existing.as_deref()).await?;
        } else if existing.is_some() {
            budgets.delete(&name, &DeleteParams::default()).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::miner::disruption::gate;

    fn pool(tasks: &[&str]) -> SealingWorker {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "sealstack.io/v1alpha1", "kind": "SealingWorker",
            "metadata": {"name": "gpus", "namespace": "sp", "uid": "u-gpus"},
            "spec": {"minerRef": {"name": "m1"}, "tasks": tasks},
        }))
        .unwrap()
    }

    #[test]
    fn a_post_pool_gets_the_miners_gate_over_its_pods() {
        assert!(runs_window_post(&pool(&["WindowPoSt"])) && runs_window_post(&pool(&["Commit2", "WindowPoSt"])));
        assert!(!runs_window_post(&pool(&["PreCommit1", "Commit2"])));
        let held = gate(Err("down"), false, None, std::time::Duration::from_secs(3600));
        let budget = build_pool_budget(&pool(&["WindowPoSt"]), &held);
        assert_eq!(budget.metadata.name.as_deref(), Some("gpus-worker"));
        assert_eq!(budget.metadata.owner_references.as_ref().unwrap()[0].uid, "u-gpus", "deleted with the pool");
        assert_eq!(budget.metadata.labels.as_ref().unwrap()[MINER_LABEL], "m1");
        let spec = budget.spec.unwrap();
        assert_eq!(spec.max_unavailable, Some(IntOrString::Int(0)));
        assert_eq!(spec.selector.unwrap().match_labels, Some(selector_labels(&pool(&["WindowPoSt"]))));
    }
}
