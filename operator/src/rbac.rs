//! Every permission the operator needs, in one place, each with the reason it is needed, and where it is
//! granted ([`Scope`]).
//!
//! [`render`] writes them as YAML with the reasons as comments: one ClusterRole with every rule (the operator
//! watching the whole cluster), or a Role per watched namespace, a Role for the Lease and a ClusterRole left with
//! the cluster-scoped rules; and the chart's `templates/_rbac_rules.tpl`, from which the Helm chart and
//! `manifests/` take their RBAC, so the code and the granted rights cannot drift apart silently.

pub mod render;

pub use render::{chart_rules_template, cluster_role_yaml, roles_yaml};

/// Where a rule is granted when the operator watches a list of namespaces (watching the whole cluster, it gets
/// every rule in one ClusterRole).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// In each watched namespace (a Role there): what the operator reconciles, reads and makes.
    WatchedNamespaces,
    /// Across the cluster (the ClusterRole): resources that are cluster-scoped.
    Cluster,
    /// In the operator's own namespace (a Role there): the leader-election Lease.
    OperatorNamespace,
}

impl Scope {
    /// Every scope, in the order the rules are listed.
    pub const ALL: [Self; 3] = [Self::WatchedNamespaces, Self::Cluster, Self::OperatorNamespace];
}

/// One RBAC rule and why the operator needs it.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// Where it is granted.
    pub scope: Scope,
    /// API group ("" for the core group).
    pub api_group: &'static str,
    /// Resources (with subresources as `kind/sub`).
    pub resources: &'static [&'static str],
    /// Verbs granted.
    pub verbs: &'static [&'static str],
    /// Why.
    pub reason: &'static str,
}

const WATCH: &[&str] = &["get", "list", "watch"];
use Scope::{Cluster, OperatorNamespace, WatchedNamespaces};

/// Every rule, grouped by scope in the order of [`Scope::ALL`].
pub const RULES: &[Rule] = &[
    Rule {
        scope: WatchedNamespaces,
        api_group: "sealstack.io",
        resources: &["paramcaches", "miners", "sealingworkers"],
        verbs: WATCH,
        reason: "watch the resources the controllers reconcile",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "sealstack.io",
        resources: &["paramcaches/status", "miners/status", "sealingworkers/status"],
        verbs: &["get", "patch", "update"],
        reason: "write their status (server-side apply of .status)",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "sealstack.io",
        resources: &["sealingworkers/scale"],
        verbs: &["patch"],
        reason: "set the replicas of a pool that sizes itself (spec.autoscale), as an HPA does",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "batch",
        resources: &["jobs"],
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
        reason: "ParamCache fetch Jobs: create, follow, replace failed or outdated ones",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "",
        resources: &["pods"],
        verbs: &["list", "watch"],
        reason: "list the fetch Job's pods; watch the miner runtime pods (the node a NodePort miner announces)",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "",
        resources: &["pods/log"],
        verbs: &["get"],
        reason: "read the fetch Job's JSON progress lines",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "",
        resources: &["persistentvolumeclaims"],
        verbs: &["get", "list", "watch", "create", "patch"],
        reason: "parameter, sector and long-term store volumes (never deleted: they hold data)",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "",
        resources: &["configmaps"],
        verbs: WATCH,
        reason: "custom parameter manifests",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "",
        resources: &["secrets"],
        verbs: &["get", "list", "watch", "create"],
        reason: "make and watch the miner's identity and API Secrets; watch others' metadata, read the node's API info",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "",
        resources: &["services"],
        verbs: &["get", "list", "watch", "create", "patch"],
        reason: "the miner's p2p and API Services, and their NodePort or LoadBalancer address",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "apps",
        resources: &["statefulsets"],
        verbs: &["get", "list", "watch", "create", "patch"],
        reason: "the miner runtime and the worker pools",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "policy",
        resources: &["poddisruptionbudgets"],
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
        reason: "the deadline gate: budgets of miner runtimes and PoSt pools, closed while a deadline is being proven",
    },
    Rule {
        scope: WatchedNamespaces,
        api_group: "events.k8s.io",
        resources: &["events"],
        verbs: &["create", "patch"],
        reason: "Events on reconciled objects (chain messages, failed fetches)",
    },
    Rule {
        scope: Cluster,
        api_group: "",
        resources: &["nodes"],
        verbs: &["list", "watch"],
        reason: "watch the Nodes' addresses: a NodePort miner announces its runtime node's address",
    },
    Rule {
        scope: OperatorNamespace,
        api_group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: &["get", "create", "update", "patch"],
        reason: "leader election: only the replica holding the Lease acts",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(group: &str, resource: &str, verb: &str) -> bool {
        RULES.iter().any(|r| r.api_group == group && r.resources.contains(&resource) && r.verbs.contains(&verb))
    }

    #[test]
    fn the_rules_are_grouped_by_scope_and_only_nodes_are_cluster_wide() {
        let order: Vec<usize> = RULES.iter().map(|r| Scope::ALL.iter().position(|s| *s == r.scope).unwrap()).collect();
        assert!(order.is_sorted(), "grouped in the order of Scope::ALL: {order:?}");
        let cluster: Vec<_> = RULES.iter().filter(|r| r.scope == Scope::Cluster).flat_map(|r| r.resources).collect();
        assert_eq!(cluster, [&"nodes"], "what is cluster-scoped");
        let own: Vec<_> =
            RULES.iter().filter(|r| r.scope == Scope::OperatorNamespace).flat_map(|r| r.resources).collect();
        assert_eq!(own, [&"leases"], "the leader-election Lease");
    }

    #[test]
    fn what_the_controllers_do_is_granted_and_no_more() {
        // The calls the reconcilers make (param_cache::reconcile, sealing_worker::reconcile, apply, run).
        for (group, resource, verb) in [
            ("batch", "jobs", "create"),
            ("batch", "jobs", "delete"),
            ("", "pods/log", "get"),
            ("", "persistentvolumeclaims", "patch"),
            ("apps", "statefulsets", "patch"),
            ("sealstack.io", "paramcaches/status", "patch"),
            ("sealstack.io", "sealingworkers/status", "patch"),
            ("sealstack.io", "sealingworkers/scale", "patch"),
            ("coordination.k8s.io", "leases", "update"),
            ("events.k8s.io", "events", "create"),
            // The Miner's Secrets: its own watched whole, the others' metadata watched, their data read.
            ("", "secrets", "create"),
            ("", "secrets", "list"),
            ("", "secrets", "watch"),
            ("", "secrets", "get"),
            // The fetch Job's pods listed; the runtime pods and the Nodes watched (runtime_node).
            ("", "pods", "list"),
            ("", "pods", "watch"),
            ("", "nodes", "list"),
            ("", "nodes", "watch"),
        ] {
            assert!(allows(group, resource, verb), "{verb} {group}/{resource}");
        }
        for (group, resource, verb) in [
            ("", "persistentvolumeclaims", "delete"),
            ("", "secrets", "delete"),
            ("", "secrets", "patch"),
            ("", "secrets", "update"),
            ("sealstack.io", "miners", "delete"),
            ("", "nodes", "patch"),
            ("", "nodes", "get"),
            ("", "pods", "get"),
        ] {
            assert!(!allows(group, resource, verb), "{verb} {group}/{resource} is not needed");
        }
    }
}
