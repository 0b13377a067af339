//! `sealstack-miner params generate | serve`.

use anyhow::Context;
use sealstack_miner::params::{generate, serve};

use crate::cli::ParamsCommand;

/// Runs a `params` subcommand.
pub async fn run(command: ParamsCommand) -> anyhow::Result<()> {
    match command {
        ParamsCommand::Serve { dir, listen } => {
            anyhow::ensure!(dir.is_dir(), "parameter directory {} does not exist", dir.display());
            let listener =
                tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            // The gateway URL for fetch-params / a ParamCache, on standard output for scripts.
            println!("http://{addr}/ipfs/");
            serve::serve(&dir, listener).await.context("parameter gateway")
        }
        ParamsCommand::Generate { sector_size, out } => {
            let manifest = tokio::task::spawn_blocking(move || generate::generate(sector_size, &out))
                .await
                .context("generator")??;
            tracing::info!(files = manifest.len(), "parameters and parameters.json written");
            Ok(())
        }
    }
}
