//! `sealstack-miner fetch-params`.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use sealstack_miner::params::fetch::{FetchOptions, Fetcher};
use sealstack_miner::params::manifest;
use sealstack_miner::params::progress::{LineProgress, Progress, TerminalProgress};

use crate::cli::FetchParamsArgs;

/// Fetches and verifies the parameters for the requested sector sizes.
pub async fn run(args: FetchParamsArgs) -> anyhow::Result<()> {
    let parameters = match &args.manifest {
        Some(path) => manifest::read(path)?,
        None => manifest::official_parameters(),
    };
    let srs = match &args.srs_manifest {
        Some(path) => manifest::read(path)?,
        None => manifest::official_srs(),
    };
    anyhow::ensure!(
        args.gateway.starts_with("http://") || args.gateway.starts_with("https://"),
        "invalid gateway {:?}: expected an http:// or https:// URL",
        args.gateway
    );
    let files = manifest::select(&parameters, &srs, &args.sector_sizes);
    anyhow::ensure!(!files.is_empty(), "the manifest lists no file for {:?}", args.sector_sizes);
    let progress: Arc<dyn Progress> = if std::io::stderr().is_terminal() {
        Arc::new(TerminalProgress::default())
    } else {
        Arc::new(LineProgress::new(std::io::stdout()))
    };
    let trust_params = std::env::var("TRUST_PARAMS").is_ok_and(|v| v == "1");
    let options =
        FetchOptions { gateway: args.gateway, cache: args.cache.clone(), parallel: args.parallel, trust_params };
    tracing::info!(files = files.len(), cache = %args.cache.display(), gateway = %options.gateway, "fetching proof parameters");
    let fetcher = Fetcher::new(options, progress)?;
    let lines = fetcher.fetch_all(files).await.context("fetch-params")?;
    let bytes: u64 = lines.iter().filter_map(|l| l.param_file.size).sum();
    tracing::info!(files = lines.len(), bytes, "all parameter files present and verified");
    Ok(())
}
