//! Which namespaces the operator watches: the whole cluster (the default), or only a list of namespaces.
//!
//! A list runs one set of controllers per namespace, each with its own [`Context`] (stores, feeds, its own
//! writes) and watches limited to that namespace, so that the operator needs rights there only (the chart's
//! `watchNamespaces` grants them with a Role in each). The sets share the client and the one [`Metrics`]. Only
//! the Nodes, which are cluster-scoped, are still watched across the cluster, once per set.

use std::sync::Arc;

use anyhow::bail;
use kube::Client;

use crate::context::{Context, Settings};
use crate::controllers::{ControllerKind, run_controllers};
use crate::metrics::Metrics;

/// The namespaces to watch, from the values of `--namespace` (repeated, or comma-separated): trimmed, without
/// empty entries or repeats, in the order given. Empty: the whole cluster. A value that is not a namespace name
/// (an RFC 1123 label) is an error.
pub fn watch_namespaces<S: AsRef<str>>(values: &[S]) -> anyhow::Result<Vec<String>> {
    let mut namespaces: Vec<String> = Vec::new();
    for name in values.iter().flat_map(|v| v.as_ref().split(',')).map(str::trim).filter(|n| !n.is_empty()) {
        if !crate::validation::dns_label(name) {
            bail!("{name:?} is not a namespace name (lower-case letters, digits and '-', at most 63)");
        }
        if !namespaces.iter().any(|n| n == name) {
            namespaces.push(name.to_owned());
        }
    }
    Ok(namespaces)
}

/// The namespace of each set of controllers: `None` (the whole cluster) when `namespaces` is empty, else one
/// per namespace.
pub fn controller_sets(namespaces: &[String]) -> Vec<Option<String>> {
    if namespaces.is_empty() { vec![None] } else { namespaces.iter().cloned().map(Some).collect() }
}

/// Runs the controllers in `which` over `namespaces` (empty: the whole cluster), one set per namespace, until a
/// shutdown signal.
pub async fn run_watching(
    client: Client,
    metrics: Arc<Metrics>,
    settings: Settings,
    namespaces: &[String],
    which: &[ControllerKind],
) {
    let sets = controller_sets(namespaces).into_iter().map(|namespace| {
        let (ctx, feeds) = Context::new(client.clone(), metrics.clone(), settings.clone());
        run_controllers(client.clone(), namespace, ctx, feeds, which)
    });
    futures::future::join_all(sets).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_come_repeated_or_comma_separated_without_blanks_or_repeats() {
        assert_eq!(watch_namespaces(&["a,b", " c ", "a", ""]).unwrap(), ["a", "b", "c"]);
        assert_eq!(watch_namespaces(&["sp-1,,sp-2,"]).unwrap(), ["sp-1", "sp-2"]);
        assert!(watch_namespaces::<&str>(&[]).unwrap().is_empty(), "none: the whole cluster");
        assert!(watch_namespaces(&[" , "]).unwrap().is_empty(), "only blanks: the whole cluster");
    }

    #[test]
    fn what_cannot_name_a_namespace_is_refused() {
        for bad in ["Miners", "sp_1", "-sp", "sp-", "a/b", &"a".repeat(64)] {
            let error = watch_namespaces(&[bad]).unwrap_err().to_string();
            assert!(error.contains("is not a namespace name"), "{bad}: {error}");
        }
        assert!(watch_namespaces(&[&"a".repeat(63)]).is_ok());
    }

    #[test]
    fn no_namespace_is_one_cluster_wide_set_and_each_namespace_its_own() {
        assert_eq!(controller_sets(&[]), [None]);
        let listed = ["a".to_owned(), "b".to_owned()];
        assert_eq!(controller_sets(&listed), [Some("a".to_owned()), Some("b".to_owned())]);
    }
}
