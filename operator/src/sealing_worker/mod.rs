//! The SealingWorker controller: a StatefulSet of `sealstack-miner worker` pods for one Miner.

pub mod autoscale;
pub mod build;
pub mod controller;
pub mod reconcile;
pub mod status;
pub mod validate;
