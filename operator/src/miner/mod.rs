//! The Miner controller: on-chain creation, the miner runtime, the addresses announced on chain, the power,
//! faults, funds and blocks mined the chain shows, and the deadline gate on the runtime's disruptions.

pub mod announce;
pub mod balances;
pub mod blocks;
pub mod build;
pub mod chain;
pub mod children;
pub mod controller;
pub mod disruption;
pub mod long_term;
pub mod pool_budgets;
pub mod proving;
pub mod reconcile;
pub mod runtime;
pub mod runtime_node;
pub mod status;
pub mod validate;
