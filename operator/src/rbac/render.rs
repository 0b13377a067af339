//! The rules of [`super::RULES`] as YAML, each preceded by a comment with its reason: the roles `sealstack-operator
//! rbac` prints, and the chart's `templates/_rbac_rules.tpl`.

use super::{RULES, Scope};

/// Where the chart's copy of the rules lives, from the repository root.
pub const CHART_RULES_PATH: &str = "charts/sealstack/templates/_rbac_rules.tpl";

impl Scope {
    /// The name of the chart's named template holding this scope's rules.
    pub fn chart_template(self) -> &'static str {
        match self {
            Scope::WatchedNamespaces => "sealstack.rbac.rules.watchedNamespaces",
            Scope::Cluster => "sealstack.rbac.rules.cluster",
            Scope::OperatorNamespace => "sealstack.rbac.rules.operatorNamespace",
        }
    }
}

fn yaml_list(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", "))
}

/// The rules of `scope` as the items of a `rules:` list, each after a comment with its reason.
pub fn rules_yaml(scope: Scope) -> String {
    RULES
        .iter()
        .filter(|rule| rule.scope == scope)
        .map(|rule| {
            format!(
                "  # {}\n  - apiGroups: [\"{}\"]\n    resources: {}\n    verbs: {}\n",
                rule.reason,
                rule.api_group,
                yaml_list(rule.resources),
                yaml_list(rule.verbs)
            )
        })
        .collect()
}

/// A `kind` (ClusterRole or Role) named `name`, in `namespace` for a Role, with the rules of `scopes`.
fn role_yaml(kind: &str, name: &str, namespace: Option<&str>, scopes: &[Scope]) -> String {
    let namespace = namespace.map(|ns| format!("  namespace: {ns}\n")).unwrap_or_default();
    let rules: String = scopes.iter().map(|scope| rules_yaml(*scope)).collect();
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata:\n  name: {name}\n{namespace}rules:\n{rules}"
    )
}

/// The ClusterRole named `name` with every rule: what the operator needs when it watches the whole cluster.
pub fn cluster_role_yaml(name: &str) -> String {
    role_yaml("ClusterRole", name, None, &Scope::ALL)
}

/// The name of the Role that grants the leader-election Lease, for roles named `name`.
pub fn lease_role_name(name: &str) -> String {
    format!("{name}-leader-election")
}

/// What an operator watching `namespaces` and running in `operator_namespace` needs, as YAML documents. Watching
/// the whole cluster (no namespace): [`cluster_role_yaml`]. Else the ClusterRole `name` left with the
/// cluster-scoped rules, a Role `name` in each watched namespace, and the Role [`lease_role_name`] in the
/// operator's namespace.
pub fn roles_yaml(name: &str, namespaces: &[String], operator_namespace: &str) -> String {
    if namespaces.is_empty() {
        return cluster_role_yaml(name);
    }
    let mut documents = vec![role_yaml("ClusterRole", name, None, &[Scope::Cluster])];
    for namespace in namespaces {
        documents.push(role_yaml("Role", name, Some(namespace), &[Scope::WatchedNamespaces]));
    }
    let lease_role = lease_role_name(name);
    documents.push(role_yaml("Role", &lease_role, Some(operator_namespace), &[Scope::OperatorNamespace]));
    documents.join("---\n")
}

/// The chart's `templates/_rbac_rules.tpl` ([`CHART_RULES_PATH`]): one named template per scope, whose text is
/// the scope's rules (after a newline, so that `rules:{{- include ... }}` lists them).
pub fn chart_rules_template() -> String {
    let mut out = String::from(
        "{{- /*\nThe operator's RBAC rules, each with the reason it is needed: generated from operator/src/rbac.rs by\n\
         `sealstack-operator rbac --chart-rules`, do not edit (operator/tests/chart_rbac.rs fails when they differ).\n\
         templates/rbac.yaml grants them: all in one ClusterRole, or with watchNamespaces the first group in a Role\n\
         in each watched namespace, the second in the ClusterRole and the third in a Role in the release namespace.\n\
         */}}\n",
    );
    for scope in Scope::ALL {
        out.push_str(&format!(
            "{{{{- define \"{}\" }}}}\n{}{{{{- end }}}}\n",
            scope.chart_template(),
            rules_yaml(scope)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};

    fn has_rule(rules: &[PolicyRule], group: &str, resource: &str) -> bool {
        rules.iter().any(|r| {
            r.api_groups.as_deref().is_some_and(|g| g.iter().any(|g| g == group))
                && r.resources.as_deref().is_some_and(|rs| rs.iter().any(|rs| rs == resource))
        })
    }

    #[test]
    fn the_cluster_role_has_every_rule_and_reason() {
        let yaml = cluster_role_yaml("sealstack-operator");
        let role: ClusterRole = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(role.rules.unwrap().len(), RULES.len());
        assert!(RULES.iter().all(|r| !r.reason.is_empty() && yaml.contains(&format!("  # {}\n", r.reason))));
    }

    #[test]
    fn watching_namespaces_splits_the_rules_into_roles_there_and_a_cluster_role_for_nodes() {
        let namespaces = ["sp-a".to_owned(), "sp-b".to_owned()];
        let yaml = roles_yaml("op", &namespaces, "sealstack-system");
        let documents: Vec<&str> = yaml.split("---\n").collect();
        assert_eq!(documents.len(), 4, "{yaml}");
        let cluster: ClusterRole = serde_saphyr::from_str(documents[0]).unwrap();
        let cluster_rules = cluster.rules.unwrap();
        assert_eq!(cluster.metadata.name.as_deref(), Some("op"));
        assert!(has_rule(&cluster_rules, "", "nodes"));
        assert!(!has_rule(&cluster_rules, "", "secrets"), "no Secret anywhere cluster-wide");
        assert_eq!(cluster_rules.len(), RULES.iter().filter(|r| r.scope == Scope::Cluster).count());
        for (document, namespace) in documents[1..3].iter().zip(&namespaces) {
            let role: Role = serde_saphyr::from_str(document).unwrap();
            assert_eq!(role.metadata.namespace.as_ref(), Some(namespace));
            let rules = role.rules.unwrap();
            assert!(has_rule(&rules, "", "secrets") && has_rule(&rules, "sealstack.io", "miners/status"));
            assert!(!has_rule(&rules, "", "nodes") && !has_rule(&rules, "coordination.k8s.io", "leases"));
        }
        let lease: Role = serde_saphyr::from_str(documents[3]).unwrap();
        assert_eq!(lease.metadata.name.as_deref(), Some("op-leader-election"));
        assert_eq!(lease.metadata.namespace.as_deref(), Some("sealstack-system"));
        assert!(has_rule(&lease.rules.unwrap(), "coordination.k8s.io", "leases"));
        // Every rule is granted somewhere, with its reason.
        assert!(RULES.iter().all(|r| yaml.contains(&format!("  # {}\n", r.reason))));
    }

    #[test]
    fn watching_the_whole_cluster_is_the_one_cluster_role() {
        assert_eq!(roles_yaml("op", &[], "sealstack-system"), cluster_role_yaml("op"));
    }

    #[test]
    fn the_chart_template_defines_each_scopes_rules() {
        let template = chart_rules_template();
        for scope in Scope::ALL {
            let define =
                format!("{{{{- define \"{}\" }}}}\n{}{{{{- end }}}}\n", scope.chart_template(), rules_yaml(scope));
            assert!(template.contains(&define), "{scope:?}:\n{template}");
        }
        assert!(template.starts_with("{{- /*\n") && template.contains("*/}}\n"), "a Helm comment first");
    }
}
