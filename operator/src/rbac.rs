//! Every permission the operator needs, in one place, each with the reason it is needed.
//!
//! [`cluster_role_yaml`] renders them as a ClusterRole with the reasons as comments; the Helm chart and
//! `manifests/` take their RBAC from it, so the code and the granted rights cannot drift apart silently.

/// One RBAC rule and why the operator needs it.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
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

/// The cluster-wide rules of the operator's ClusterRole.
pub const RULES: &[Rule] = &[
    Rule {
        api_group: "sealstack.io",
        resources: &["paramcaches", "miners", "sealingworkers"],
        verbs: WATCH,
        reason: "watch the resources the controllers reconcile",
    },
    Rule {
        api_group: "sealstack.io",
        resources: &["paramcaches/status", "miners/status", "sealingworkers/status"],
        verbs: &["get", "patch", "update"],
        reason: "write their status (server-side apply of .status)",
    },
    Rule {
        api_group: "batch",
        resources: &["jobs"],
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
        reason: "ParamCache fetch Jobs: create, follow, replace failed or outdated ones",
    },
    Rule {
        api_group: "",
        resources: &["pods"],
        verbs: &["list", "watch"],
        reason: "list the fetch Job's pods; watch the miner runtime pods (the node a NodePort miner announces)",
    },
    Rule {
        api_group: "",
        resources: &["pods/log"],
        verbs: &["get"],
        reason: "read the fetch Job's JSON progress lines",
    },
    Rule {
        api_group: "",
        resources: &["persistentvolumeclaims"],
        verbs: &["get", "list", "watch", "create", "patch"],
        reason: "parameter and sector volumes (never deleted: they hold data)",
    },
    Rule { api_group: "", resources: &["configmaps"], verbs: WATCH, reason: "custom parameter manifests" },
    Rule {
        api_group: "",
        resources: &["secrets"],
        verbs: &["get", "list", "watch", "create"],
        reason: "make and watch the miner's identity and API Secrets; watch others' metadata, read the node's API info",
    },
    Rule {
        api_group: "",
        resources: &["services"],
        verbs: &["get", "list", "watch", "create", "patch"],
        reason: "the miner's p2p and API Services, and their NodePort or LoadBalancer address",
    },
    Rule {
        api_group: "",
        resources: &["nodes"],
        verbs: &["list", "watch"],
        reason: "watch the Nodes' addresses: a NodePort miner announces its runtime node's address",
    },
    Rule {
        api_group: "apps",
        resources: &["statefulsets"],
        verbs: &["get", "list", "watch", "create", "patch"],
        reason: "the miner runtime and the worker pools",
    },
    Rule {
        api_group: "policy",
        resources: &["poddisruptionbudgets"],
        verbs: &["get", "list", "watch", "create", "patch", "delete"],
        reason: "the deadline gate: budgets of miner runtimes and PoSt pools, closed while a deadline is being proven",
    },
    Rule {
        api_group: "events.k8s.io",
        resources: &["events"],
        verbs: &["create", "patch"],
        reason: "Events on reconciled objects (chain messages, failed fetches)",
    },
    Rule {
        api_group: "coordination.k8s.io",
        resources: &["leases"],
        verbs: &["get", "create", "update", "patch"],
        reason: "leader election: only the replica holding the Lease acts",
    },
];

fn yaml_list(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", "))
}

/// The ClusterRole named `name`, as YAML with one comment per rule.
pub fn cluster_role_yaml(name: &str) -> String {
    let mut out =
        format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}\nrules:\n");
    for rule in RULES {
        out.push_str(&format!(
            "  # {}\n  - apiGroups: [\"{}\"]\n    resources: {}\n    verbs: {}\n",
            rule.reason,
            rule.api_group,
            yaml_list(rule.resources),
            yaml_list(rule.verbs)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::ClusterRole;

    fn allows(group: &str, resource: &str, verb: &str) -> bool {
        RULES.iter().any(|r| r.api_group == group && r.resources.contains(&resource) && r.verbs.contains(&verb))
    }

    #[test]
    fn the_yaml_is_a_cluster_role_with_every_rule_and_reason() {
        let yaml = cluster_role_yaml("sealstack-operator");
        let role: ClusterRole = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(role.rules.unwrap().len(), RULES.len());
        assert!(RULES.iter().all(|r| !r.reason.is_empty() && yaml.contains(r.reason)));
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
