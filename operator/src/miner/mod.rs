//! The Miner controller: on-chain creation, the miner runtime, the addresses announced on chain, and the
//! power, faults, funds and blocks mined the chain shows.

pub mod announce;
pub mod blocks;
pub mod build;
pub mod chain;
pub mod proving;
pub mod reconcile;
pub mod runtime;
pub mod runtime_node;
pub mod status;
