//! `sealstack-chain`: the Lotus full-node JSON-RPC API v1 subset sealstack needs, shared by its client users
//! (the operator, the miner runtime) and the devnet's server.
//!
//! - [`api`]: the `Filecoin.*` methods as one jsonrpsee trait, with each method's permission and arity;
//! - [`json`], [`message`], [`tipset`], [`node`], [`miner`], [`actor_state`]: Lotus's JSON shapes over `fvm_shared`
//!   types;
//! - [`block`], [`election`], [`network`]: blocks (their CBOR and CID), expected consensus's election, and the
//!   network's parameters;
//! - [`genesis`]: `lotus-seed pre-seal`'s manifest and key files for genesis miners;
//! - [`actors`]: built-in actor method numbers and CBOR parameters (ChainSafe `fil_actor_*_state` v18);
//! - [`auth`], [`api_info`]: JWT permissions and `FULLNODE_API_INFO`;
//! - [`client`], [`error`]: connecting over HTTP or WebSocket, errors users can act on;
//! - [`push`], [`miner_creation`], [`miner_actor`]: crash-safe message sending, `lotus-miner init`'s chain part,
//!   and `lotus-miner actor set-addrs / set-peer-id`.

pub mod actor_state;
pub mod actors;
pub mod api;
pub mod api_info;
pub mod auth;
pub mod block;
pub mod client;
pub mod election;
pub mod error;
pub mod genesis;
pub mod json;
pub mod message;
pub mod miner;
pub mod miner_actor;
pub mod miner_creation;
pub mod network;
pub mod node;
pub mod push;
pub mod randomness;
pub mod replace;
pub mod repo_files;
pub mod sector_lifecycle;
pub mod server_auth;
pub mod tipset;
pub mod worker_pool;

pub use api::{FullNodeClient, FullNodeServer};
pub use api_info::ApiInfo;
pub use client::{ConnectOptions, Node, Transport};
pub use error::ChainError;
pub use json::{LotusJson, TipSetKey};
