//! The Helm chart grants exactly the rules of `sealstack_operator::rbac::RULES`, reasons included.
//!
//! The chart carries the rules as plain YAML (`charts/sealstack/templates/_rbac_rules.tpl`, one named template
//! per scope) so that `helm template` and `manifests/operator.yaml` show them with their comments; this test keeps
//! that copy equal to the code. After a change to `operator/src/rbac.rs`, run
//! `sealstack-operator rbac --chart-rules > charts/sealstack/templates/_rbac_rules.tpl`, then
//! `scripts/render-manifests.sh`.

use std::path::Path;

use sealstack_operator::rbac::render::CHART_RULES_PATH;
use sealstack_operator::rbac::{Scope, chart_rules_template};

fn chart_file(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_charts_rules_are_those_of_the_code() {
    assert_eq!(
        chart_file(CHART_RULES_PATH),
        chart_rules_template(),
        "{CHART_RULES_PATH} differs from operator/src/rbac.rs: run `sealstack-operator rbac --chart-rules > \
         {CHART_RULES_PATH}`, then scripts/render-manifests.sh"
    );
}

#[test]
fn the_charts_roles_grant_every_scopes_rules() {
    let roles = chart_file("charts/sealstack/templates/rbac.yaml");
    for scope in Scope::ALL {
        assert!(roles.contains(&format!("include \"{}\"", scope.chart_template())), "{scope:?} is granted");
    }
}
