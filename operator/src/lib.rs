//! The sealstack operator: controllers for ParamCache, Miner and SealingWorker.
//!
//! Each controller follows one pipeline: validate (pure: a refused spec is said in `SpecValid`, reason
//! `InvalidSpec`, before anything is written) -> dereference -> build the desired children (pure functions,
//! unit-tested) -> server-side apply with one field manager -> status. Every failed reconcile is a Warning Event
//! on its object, repeats folded into one Event's series ([`events`]). The three kinds are watched through `DeserializeGuard` ([`decode`]): an object that cannot be
//! decoded is reported on itself and holds up no other.
//!
//! No reconcile waits for the chain. A chain step (the Miner's creation, its announced addresses) pushes its
//! message once, journaled in the Miner's status (`sealstack_chain::push`: idempotency key before the push,
//! CID after), looks once whether it landed, and otherwise ends the reconcile with the step's condition
//! False, reason `WaitingForMessage`, requeued after about one block time. The status holds the chain
//! crate's own records (`CreationRecord`, `MessageLog`: one type, one JSON shape), and the journal's writes
//! are conditioned on the Miner's `resourceVersion`, so a reconcile working from a stale copy gets a conflict
//! (and then writes nothing) instead of overwriting a newer record.
//!
//! The operator watches the whole cluster, or only a list of namespaces ([`watch_namespaces`]): then one set of
//! controllers per namespace, each with its own [`context::Context`] and namespaced watches, so that it needs a
//! Role in each of them and only the cluster-scoped rules of [`rbac`] cluster-wide.

pub mod apply;
pub mod context;
pub mod controllers;
pub mod copies;
pub mod decode;
pub mod digest;
pub mod error;
pub mod events;
pub mod full_nodes;
pub mod http;
pub mod kube_client;
pub mod labels;
pub mod metrics;
pub mod miner;
pub mod names;
pub mod own_writes;
pub mod param_cache;
pub mod placement;
pub mod pod_trouble;
pub mod rbac;
pub mod run;
pub mod sealing_worker;
pub mod secrets;
pub mod security;
pub mod status_write;
pub mod stores;
#[cfg(test)]
mod testing;
pub mod validation;
pub mod volumes;
pub mod watch_namespaces;

/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "sealstack-operator";
