//! The Grafana dashboard and the alert rules query only metrics the miner runtime exports: each
//! `sealstack_miner_*` name they use is registered by the daemon (a name in a `registry.register` call of its
//! source: the families without a sample yet have no `# TYPE` line to read from `/metrics`).

use std::collections::BTreeSet;
use std::path::Path;

/// Metric names starting with `sealstack_miner_` in `text`, without the counter and histogram suffixes.
fn miner_metrics(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("sealstack_miner_") {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_total", "_bucket", "_count", "_sum"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        names.insert(family.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_dashboard_and_the_alerts_query_metrics_the_runtime_exports() {
    let charts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/sealstack");
    let read = |file: &str| std::fs::read_to_string(charts.join(file)).unwrap();
    let used = miner_metrics(&(read("dashboards/sealstack.json") + &read("templates/prometheusrule.yaml")));
    assert!(used.len() >= 10, "{used:?}");
    let mut source = String::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/daemon")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                source.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    // `registry.register(` then the name, on the same line or the next.
    let registered: BTreeSet<String> = source
        .split("register(")
        .skip(1)
        .filter_map(|call| {
            call.trim_start().strip_prefix('"')?.split('"').next().map(|n| format!("sealstack_miner_{n}"))
        })
        .collect();
    assert!(registered.contains("sealstack_miner_store_bytes"), "{registered:?}");
    for name in &used {
        assert!(registered.contains(name), "the dashboard or an alert queries {name}, not registered: {registered:?}");
    }
}
