//! `sealstack-miner`: the storage-provider runtime (lotus-miner and lotus-worker in one binary).

mod cli;
mod commands;

use clap::Parser;
use cli::{Cli, Command};

use std::process::ExitCode;

fn main() -> ExitCode {
    sealstack_telemetry::install_crypto_provider();
    let cli = Cli::parse();
    sealstack_telemetry::init_logging(cli.log_format);
    if let Command::Params(cli::ParamsCommand::Generate { out, .. }) = &cli.command {
        // The proofs library reads its cache directory from the environment, once.
        // SAFETY: no other thread exists yet: the async runtime is built below.
        unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", out) };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("an async runtime");
    match runtime.block_on(run(cli)) {
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
    match cli.command {
        Command::FetchParams(args) => commands::fetch_params::run(args).await,
        Command::Params(command) => commands::params::run(command).await,
        Command::Init(args) => commands::init::run(&repo, args).await,
        Command::Actor(command) => commands::actor::run(&repo, command).await,
        Command::Info { api } => commands::info::run(&repo, api).await,
        Command::Proving { api, command } => commands::proving::run(&repo, api, command).await,
        Command::Preseal(args) => commands::preseal::run(args).await,
        Command::Run(args) => commands::run::run(&repo, *args).await,
        Command::Worker(args) => commands::worker::run(args).await,
        Command::Sectors { api, command } => commands::sectors::run(&repo, api, command).await,
        Command::Storage { api, command } => commands::storage::run(&repo, api, command).await,
    }
}
