//! The Miner controller: on-chain creation, the miner runtime, and the addresses announced on chain.

pub mod announce;
pub mod build;
pub mod chain;
pub mod reconcile;
pub mod runtime;
pub mod runtime_node;
pub mod status;
