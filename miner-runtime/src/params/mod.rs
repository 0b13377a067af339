//! Proof parameters: fetching and verifying them (`fetch-params`), and serving and generating them for
//! devnets (`params serve`, `params generate`).

pub mod digest;
pub mod fetch;
pub mod generate;
pub mod lock;
pub mod manifest;
pub mod progress;
pub mod serve;
