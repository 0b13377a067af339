//! One module per subcommand.

pub mod fetch_params;
pub mod params;
