//! One module per subcommand.

pub mod actor;
pub mod chain;
pub mod fetch_params;
pub mod info;
pub mod init;
pub mod params;
pub mod run;
pub mod sectors;
pub mod worker;
