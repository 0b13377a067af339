//! One module per subcommand.

pub mod actor;
pub mod amount;
pub mod batching;
pub mod chain;
pub mod context;
pub mod fetch_params;
pub mod info;
pub mod init;
pub mod lifecycle;
pub mod params;
pub mod preseal;
pub mod proving;
pub mod run;
pub mod sectors;
pub mod storage;
pub mod worker;
