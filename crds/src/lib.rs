//! The `sealstack.io/v1alpha1` API: the custom resources the sealstack operator reconciles.
//!
//! - [`ParamCache`]: proof parameters fetched onto a volume and verified.
//! - [`Miner`]: a storage provider, from on-chain creation to a running miner runtime.
//! - [`SealingWorker`]: a pool of worker pods sealing and proving for a Miner.
//!
//! Validation lives in the schema (patterns, ranges, enums) and in CEL rules (`x-kubernetes-validations`),
//! so the API server refuses a bad spec with a message naming the field before the operator sees it.

// kube's `printcolumn(name = .., type_ = ..)` attributes repeat keys by design; clippy reads them as duplicates.
#![allow(clippy::duplicated_attributes)]

pub mod autoscale;
pub mod batching;
pub mod chain_types;
pub mod common;
pub mod conditions;
pub mod generate;
pub mod long_term_store;
pub mod miner;
pub mod mining;
pub mod param_cache;
pub mod sealing_worker;
pub mod sector_lifecycle;
pub mod sector_size;

pub use chain_types::{Address, AttoFil, Multiaddr};
pub use miner::{Miner, MinerSpec, MinerStatus};
pub use param_cache::{DEFAULT_PARAMS_GATEWAY, ParamCache, ParamCacheSpec, ParamCacheStatus};
pub use sealing_worker::{SealingWorker, SealingWorkerSpec, SealingWorkerStatus, TaskType};
pub use sector_size::{SectorSize, SectorSizeError};

/// The API group of every sealstack resource.
pub const GROUP: &str = "sealstack.io";
/// The API version of every sealstack resource.
pub const VERSION: &str = "v1alpha1";
