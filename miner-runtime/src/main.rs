//! `sealstack-miner`: the storage-provider runtime (lotus-miner and lotus-worker in one binary).

mod cli;

use clap::Parser;
use cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sealstack_telemetry::install_crypto_provider();
    let cli = Cli::parse();
    sealstack_telemetry::init_logging(cli.log_format);
    let name = match &cli.command {
        Command::FetchParams(_) => "fetch-params",
        Command::Params(_) => "params",
        Command::Init(_) => "init",
        Command::Run(_) => "run",
        Command::Worker(_) => "worker",
        Command::Actor(_) => "actor",
        Command::Info => "info",
        Command::Sectors(_) => "sectors",
    };
    tracing::debug!(repo = %cli.repo_path().display(), command = name, "parsed command line");
    anyhow::bail!("`sealstack-miner {name}` is not built yet (issues \"Miner runtime\" part 1 and 2)")
}
