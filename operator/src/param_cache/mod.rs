//! The ParamCache controller: a volume and a Job running `sealstack-miner fetch-params`.

pub mod build;
pub mod progress;
pub mod reconcile;
pub mod status;
