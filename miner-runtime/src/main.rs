//! `sealstack-miner`: the storage-provider runtime (lotus-miner and lotus-worker in one binary).

mod cli;
mod commands;

use clap::Parser;
use cli::{Cli, Command};

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    sealstack_telemetry::install_crypto_provider();
    let cli = Cli::parse();
    sealstack_telemetry::init_logging(cli.log_format);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: the error and its causes.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let repo = cli.repo_path();
    let name = match cli.command {
        Command::FetchParams(args) => return commands::fetch_params::run(args).await,
        Command::Params(command) => return commands::params::run(command).await,
        Command::Init(_) => "init",
        Command::Run(_) => "run",
        Command::Worker(_) => "worker",
        Command::Actor(_) => "actor",
        Command::Info => "info",
        Command::Sectors(_) => "sectors",
    };
    tracing::debug!(repo = %repo.display(), command = name, "parsed command line");
    anyhow::bail!("`sealstack-miner {name}` is not built yet (issues \"Miner runtime\" part 1 and 2)")
}
