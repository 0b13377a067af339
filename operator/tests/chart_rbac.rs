//! The Helm chart's ClusterRole grants exactly the rules of `sealstack_operator::rbac::RULES`, reasons included.
//!
//! The chart (`charts/sealstack/templates/rbac.yaml`) carries the rules as plain YAML so that `helm template`
//! and `manifests/operator.yaml` show them with their comments; this test keeps that copy equal to the code.
//! After a change to `operator/src/rbac.rs`, paste the `rules:` block of `sealstack-operator rbac` into the
//! template and run `scripts/render-manifests.sh`.

use std::path::Path;

/// The `rules:` block of a ClusterRole document: from the `rules:` line to the end of the document.
fn rules_block(text: &str) -> &str {
    let start = text.find("\nrules:\n").map(|i| i + 1).expect("a `rules:` line");
    let rest = &text[start..];
    let end = rest.find("\n---").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[test]
fn the_chart_cluster_role_has_the_rules_of_the_code() {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/sealstack/templates/rbac.yaml");
    let template = std::fs::read_to_string(&template).unwrap_or_else(|e| panic!("{}: {e}", template.display()));
    let code = sealstack_operator::rbac::cluster_role_yaml("any");
    assert_eq!(
        rules_block(&template),
        rules_block(&code),
        "charts/sealstack/templates/rbac.yaml differs from operator/src/rbac.rs: paste the rules of \
         `sealstack-operator rbac` into the template, then run scripts/render-manifests.sh"
    );
}

#[test]
fn rules_block_stops_at_the_end_of_the_document() {
    let text = "kind: ClusterRole\nrules:\n  - a\n---\nkind: ClusterRoleBinding\n";
    assert_eq!(rules_block(text), "rules:\n  - a\n");
}
