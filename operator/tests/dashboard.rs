//! The Grafana dashboard (`charts/sealstack/dashboards/sealstack.json`) is valid JSON, and it and the alert rules
//! (`charts/sealstack/templates/prometheusrule.yaml`) query only operator metrics that the operator exports.

use std::collections::BTreeSet;
use std::path::Path;

fn dashboard() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/sealstack/dashboards/sealstack.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every PromQL expression of the dashboard's panels.
fn expressions(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(expr)) = map.get("expr") {
                out.push(expr.clone());
            }
            map.values().for_each(|v| expressions(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

/// Metric names starting with `prefix` in `text`.
fn names_with_prefix(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_dashboard_queries_metrics_the_operator_exports() {
    let mut exprs = Vec::new();
    expressions(&dashboard(), &mut exprs);
    assert!(exprs.len() >= 10, "panels with queries: {}", exprs.len());
    // The families the operator exports, as `# TYPE <family> <type>` lines of its /metrics (a family shows
    // once it has a sample: record one of each).
    let metrics = std::sync::Arc::new(sealstack_operator::metrics::Metrics::default());
    drop(metrics.reconcile("miner"));
    metrics.reconcile_failed("miner", "kube");
    metrics.chain_message("CreateMiner", "pushed");
    metrics.kube_request("GET", "/api/v1/pods");
    metrics.miner_runtime("miners", "m1", false, Some(60.0));
    let exported = metrics.encode();
    let families: BTreeSet<&str> =
        exported.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    assert!(families.contains("sealstack_operator_reconciles"), "{exported}");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/sealstack/templates/prometheusrule.yaml");
    let rules = std::fs::read_to_string(&rules).unwrap_or_else(|e| panic!("{}: {e}", rules.display()));
    assert!(rules.contains("sealstack_operator_miner_next_deadline_seconds"), "the runtime-down alert");
    let used = names_with_prefix(&(exprs.join("\n") + &rules), "sealstack_operator_");
    assert!(!used.is_empty());
    for name in used {
        let family = ["_total", "_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        assert!(families.contains(family), "the dashboard queries {name}, which the operator does not export");
    }
}
