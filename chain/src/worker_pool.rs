//! The part of the miner daemon's API that sizes worker pools (the operator's autoscaler is its client): what a
//! pool has to do, and draining one worker before its pod is removed. The daemon serves these methods in its
//! `MinerApi` (miner-runtime's `protocol`), under the same names.

use std::time::Duration;

pub use jsonrpsee::http_client::HttpClient;
use jsonrpsee::http_client::{HeaderMap, HeaderValue, HttpClientBuilder};
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};

use crate::api_info::ApiInfo;

/// What a pool of workers has to do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Demand {
    /// Tasks waiting that a new worker of the pool could take: sectors' tasks of the pool's types that need no
    /// files or whose files no live worker holds, and PoSt jobs short of their redundancy.
    pub waiting: u32,
    /// The live workers running any of the pool's task types.
    pub workers: Vec<PoolWorker>,
}

/// A live worker, as the daemon last heard from it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolWorker {
    /// Its name (its pod's).
    pub name: String,
    /// Tasks it runs now.
    pub running: u32,
    /// Sectors whose files it holds (another worker would have to rebuild them).
    pub holds: u32,
    /// Whether it is draining: it finishes what it holds and takes nothing else.
    pub draining: bool,
}

impl PoolWorker {
    /// Whether its pod can go without losing work: it runs nothing and holds no sector files.
    pub fn idle(&self) -> bool {
        self.running == 0 && self.holds == 0
    }
}

/// The daemon's pool-sizing methods, as a client.
#[rpc(client, namespace = "Filecoin", namespace_separator = ".")]
pub trait WorkerPoolApi {
    /// What a pool running `tasks` (task type names: `PreCommit1`, `Commit2`, `WindowPoSt`, ...) has to do.
    #[method(name = "SealstackWorkerDemand")]
    async fn worker_demand(&self, tasks: Vec<String>) -> RpcResult<Demand>;

    /// Drains the worker `name` (it finishes the sectors whose files it holds and takes nothing else), or ends
    /// its draining; `true` when that changed anything.
    #[method(name = "SealstackWorkerDrain")]
    async fn worker_drain(&self, name: String, drain: bool) -> RpcResult<bool>;
}

/// A client of the miner daemon's API at `info` (`MINER_API_INFO`).
pub fn miner_api_client(info: &ApiInfo, timeout: Duration) -> anyhow::Result<HttpClient> {
    let mut headers = HeaderMap::new();
    if let Some(token) = &info.token {
        headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}"))?);
    }
    Ok(HttpClientBuilder::default()
        .set_headers(headers)
        .request_timeout(timeout)
        .build(format!("{}/rpc/v0", info.base_url))?)
}
