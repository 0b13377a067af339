//! `sealstack-miner` as a library: the pieces behind each subcommand, for the binary and its tests.

pub mod params;
pub mod repo;
pub mod sealing;
