//! The operator's errors, each with a label for the error metric and a retry policy.

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the Kubernetes API failed.
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The object could not be read as its type: it waits for a change.
    #[error("invalid object: {0}")]
    InvalidObject(String),
    /// The spec is valid for the schema but cannot work (e.g. a ConfigMap key that is not there).
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// The Lotus full node refused or failed a call (unreachable, bad token, message failed, ...).
    #[error("full node: {0}")]
    Chain(#[from] sealstack_chain::ChainError),
    /// Another object this one needs does not exist yet.
    #[error("{kind} {name} does not exist")]
    MissingDependency {
        /// Kind of the missing object.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// Another object this one needs exists but cannot be decoded (see [`crate::decode`]).
    #[error("{kind} {name} cannot be read: {reason}")]
    UndecodableDependency {
        /// Kind of the object.
        kind: &'static str,
        /// Its name.
        name: String,
        /// Why it cannot be decoded.
        reason: String,
    },
    /// The watch feeding a store the reconcile reads has stopped (the operator is shutting down).
    #[error("the operator's watches stopped")]
    WatchStopped,
    /// The watch of this kind has not listed yet (refused by RBAC, or the API server is unreachable).
    #[error("the operator's watch of {0} has not listed yet (is it allowed to list and watch them?)")]
    NotListed(String),
}

impl Error {
    /// The `error` label of the reconcile error metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::InvalidObject(_) => "invalid_object",
            Self::InvalidSpec(_) => "invalid_spec",
            Self::MissingDependency { .. } => "missing_dependency",
            Self::UndecodableDependency { .. } => "undecodable_dependency",
            Self::Chain(e) => e.label(),
            Self::WatchStopped => "watch_stopped",
            Self::NotListed(_) => "not_listed",
        }
    }

    /// The error as the reason of a condition or an Event (what `kubectl describe` shows): its metric label in
    /// CamelCase (`missing_dependency`: `MissingDependency`).
    pub fn reason(&self) -> String {
        self.metric_label()
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            })
            .collect()
    }

    /// Whether retrying without a change to the object is pointless (it waits for the next change).
    pub fn waits_for_change(&self) -> bool {
        matches!(self, Self::InvalidObject(_) | Self::InvalidSpec(_))
    }
}

/// The result of a reconcile step.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_the_metric_labels_in_camel_case() {
        let missing = Error::MissingDependency { kind: "Secret", name: "lotus".into() };
        assert_eq!(missing.reason(), "MissingDependency");
        assert_eq!(Error::InvalidSpec("x".into()).reason(), "InvalidSpec");
        assert_eq!(Error::InvalidObject("x".into()).reason(), "InvalidObject");
        assert_eq!(Error::WatchStopped.reason(), "WatchStopped");
    }
}
