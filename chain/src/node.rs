//! Node-level results: version, sync state, listen addresses, actors, message lookups.

use cid::Cid;
use fvm_shared::econ::TokenAmount;
use serde::{Deserialize, Serialize};

use crate::json::{LotusJson, TipSetKey};
use crate::tipset::TipSet;

/// The full-node API v1 version Lotus reports: `newVer(2, 3, 0)` (lotus api/version.go).
pub const FULL_API_VERSION_V1: u32 = 0x0002_0300;

/// `Filecoin.Version`'s result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiVersion {
    /// The node's build version.
    #[serde(rename = "Version")]
    pub version: String,
    /// The API version, [`FULL_API_VERSION_V1`] for a v1 full node.
    #[serde(rename = "APIVersion")]
    pub api_version: u32,
    /// Seconds between epochs.
    #[serde(rename = "BlockDelay")]
    pub block_delay: u64,
    /// The node's user agent.
    #[serde(rename = "Agent", default)]
    pub agent: String,
}

pub use crate::network::NetworkParams;

/// Sync stages (lotus api/api_full.go SyncStateStage).
pub mod sync_stage {
    /// Idle.
    pub const IDLE: i64 = 0;
    /// Fetching headers.
    pub const HEADERS: i64 = 1;
    /// Persisting headers.
    pub const PERSIST_HEADERS: i64 = 2;
    /// Validating messages.
    pub const MESSAGES: i64 = 3;
    /// In sync.
    pub const COMPLETE: i64 = 4;
    /// Failed.
    pub const ERROR: i64 = 5;
    /// Fetching messages.
    pub const FETCHING_MESSAGES: i64 = 6;
}

/// One sync worker's progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActiveSync {
    /// The worker's number.
    #[serde(rename = "WorkerID")]
    pub worker_id: u64,
    /// Where syncing started.
    #[serde(rename = "Base")]
    pub base: Option<TipSet>,
    /// Where it is going.
    #[serde(rename = "Target")]
    pub target: Option<TipSet>,
    /// One of [`sync_stage`].
    #[serde(rename = "Stage")]
    pub stage: i64,
    /// The height reached.
    #[serde(rename = "Height")]
    pub height: i64,
    /// RFC 3339 start time.
    #[serde(rename = "Start")]
    pub start: String,
    /// RFC 3339 end time.
    #[serde(rename = "End")]
    pub end: String,
    /// An error message, if any.
    #[serde(rename = "Message")]
    pub message: String,
}

/// `Filecoin.SyncState`'s result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    /// The sync workers.
    #[serde(rename = "ActiveSyncs")]
    pub active_syncs: Vec<ActiveSync>,
    /// Messages applied by the VM.
    #[serde(rename = "VMApplied")]
    pub vm_applied: u64,
}

/// `Filecoin.NetAddrsListen`'s result: a libp2p peer ID and its listen addresses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddrInfo {
    /// The peer ID (base58, `12D3KooW...`).
    #[serde(rename = "ID")]
    pub id: String,
    /// Multiaddrs as text.
    #[serde(rename = "Addrs")]
    pub addrs: Vec<String>,
}

/// `Filecoin.StateGetActor`'s result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActorJson {
    /// The actor's code CID.
    #[serde(rename = "Code")]
    pub code: LotusJson<Cid>,
    /// Its state root.
    #[serde(rename = "Head")]
    pub head: LotusJson<Cid>,
    /// The next nonce (accounts only).
    #[serde(rename = "Nonce")]
    pub nonce: u64,
    /// Its balance.
    #[serde(rename = "Balance")]
    pub balance: LotusJson<TokenAmount>,
    /// An f4 address, for EVM actors.
    #[serde(rename = "DelegatedAddress", default)]
    pub delegated_address: Option<String>,
}

/// A message's execution receipt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// 0 on success (fvm_shared ExitCode).
    #[serde(rename = "ExitCode")]
    pub exit_code: u32,
    /// The CBOR return value.
    #[serde(rename = "Return")]
    pub return_data: LotusJson<Vec<u8>>,
    /// Gas burnt.
    #[serde(rename = "GasUsed")]
    pub gas_used: i64,
    /// Events emitted, if any.
    #[serde(rename = "EventsRoot", default)]
    pub events_root: Option<LotusJson<Cid>>,
}

/// Where and how a message executed: `StateWaitMsg` / `StateSearchMsg`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MsgLookup {
    /// The message found (may differ from the one asked for when a replacement was allowed).
    #[serde(rename = "Message")]
    pub message: LotusJson<Cid>,
    /// Its receipt.
    #[serde(rename = "Receipt")]
    pub receipt: Receipt,
    /// The return value decoded to JSON where the node knows the method, else null.
    #[serde(rename = "ReturnDec", default)]
    pub return_dec: serde_json::Value,
    /// The tipset that executed it (whose parent included it).
    #[serde(rename = "TipSet")]
    pub tipset: TipSetKey,
    /// That tipset's height.
    #[serde(rename = "Height")]
    pub height: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn msg_lookup_shape_matches_lotus() {
        // Shape from Lotus's StateWaitMsg doc example, with CreateMiner's decoded return.
        let value = json!({
            "Message": {"/": "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"},
            "Receipt": {"ExitCode": 0, "Return": "gkIAZlUCNxLOmEj9gZKM7PVlZiUhY1i2Hu8=", "GasUsed": 9,
                        "EventsRoot": null},
            "ReturnDec": {"IDAddress": "f0102", "RobustAddress": "f2g4jm5gci7wazfdhm6vswmjjbmnmlmhxpgkldw5y"},
            "TipSet": [{"/": "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"}],
            "Height": 10101
        });
        let lookup: MsgLookup = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(lookup.receipt.return_data.len(), 26);
        assert_eq!(serde_json::to_value(&lookup).unwrap(), value);
    }
}
