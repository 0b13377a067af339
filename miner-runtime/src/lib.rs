//! `sealstack-miner` as a library: the pieces behind each subcommand, for the binary and its tests.

pub mod daemon;
pub mod params;
pub mod preseal;
pub mod protocol;
pub mod repo;
pub mod sealing;
pub mod worker;
