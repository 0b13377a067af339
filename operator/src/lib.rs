//! The sealstack operator: controllers for ParamCache, Miner and SealingWorker.
//!
//! Each controller follows one pipeline: read and dereference -> validate -> build the desired children
//! (pure functions, unit-tested) -> server-side apply with one field manager -> status.

pub mod apply;
pub mod context;
pub mod controllers;
pub mod error;
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
pub mod rbac;
pub mod run;
pub mod sealing_worker;
pub mod secrets;
pub mod security;
pub mod stores;
#[cfg(test)]
mod testing;
pub mod volumes;

/// The field manager of every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "sealstack-operator";
