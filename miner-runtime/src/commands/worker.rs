//! `sealstack-miner worker`: a sealing worker (lotus-worker run).

use std::time::Duration;

use sealstack_chain::ApiInfo;
use sealstack_miner::worker::{self, WorkerConfig, detect_resources};

use crate::cli::WorkerArgs;

/// Runs the worker until the process ends.
pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let miner = ApiInfo::parse(&args.miner_api)?;
    let name = args.name.unwrap_or_else(|| {
        std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "worker".into())
    });
    let config = WorkerConfig {
        miner,
        tasks: args.tasks,
        scratch: args.scratch,
        resources: detect_resources(args.gpus),
        name,
        heartbeat: Duration::from_millis(args.heartbeat_ms.max(100)),
    };
    worker::run(config).await
}
