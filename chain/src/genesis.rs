//! Pre-sealed sectors of a genesis miner, in the files `lotus-seed pre-seal` writes (lotus cmd/lotus-seed/seed):
//!
//! - `pre-seal-<miner>.json`: a map from the miner's address to a [`GenesisMiner`] (lotus genesis/types.go
//!   `Miner` and `PreSeal`), which a genesis (Lotus's `lotus-seed genesis add-miner`, the devnet's
//!   `--genesis-miner`) turns into a miner actor whose sectors are active from the first epoch;
//! - `pre-seal-<miner>.key`: the worker's (and owner's) key, as the hex text of its JSON [`KeyInfo`]
//!   (`{"Type":"bls","PrivateKey":"<base64>"}`), which `lotus wallet import` reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use cid::Cid;
use fvm_shared::address::Address;
use fvm_shared::econ::TokenAmount;
use serde::{Deserialize, Serialize};

use crate::json::LotusJson;

/// A pre-seal manifest: miners by address text (`t01000` on a devnet), as `lotus-seed pre-seal` writes one and
/// `lotus-seed aggregate-manifests` merges several.
pub type PreSealManifest = BTreeMap<String, GenesisMiner>;

/// A miner created at genesis with pre-sealed sectors (lotus genesis.Miner).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenesisMiner {
    /// The miner's ID address; a genesis gives miners IDs from 1000 in order.
    #[serde(rename = "ID")]
    pub id: LotusJson<Address>,
    /// The owner (`lotus-seed` makes it the worker's key address).
    #[serde(rename = "Owner")]
    pub owner: LotusJson<Address>,
    /// The worker: a BLS key address.
    #[serde(rename = "Worker")]
    pub worker: LotusJson<Address>,
    /// The libp2p peer ID, base58.
    #[serde(rename = "PeerId")]
    pub peer_id: String,
    /// Funds for the storage market actor (deals).
    #[serde(rename = "MarketBalance")]
    pub market_balance: LotusJson<TokenAmount>,
    /// Funds for the miner actor.
    #[serde(rename = "PowerBalance")]
    pub power_balance: LotusJson<TokenAmount>,
    /// The sector size in bytes.
    #[serde(rename = "SectorSize")]
    pub sector_size: u64,
    /// The pre-sealed sectors.
    #[serde(rename = "Sectors")]
    pub sectors: Vec<PreSeal>,
}

/// One pre-sealed sector (lotus genesis.PreSeal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreSeal {
    /// The sealed commitment (CommR).
    #[serde(rename = "CommR")]
    pub comm_r: LotusJson<Cid>,
    /// The unsealed commitment (CommD); a committed-capacity sector's is the zero-data commitment.
    #[serde(rename = "CommD")]
    pub comm_d: LotusJson<Cid>,
    /// The sector number.
    #[serde(rename = "SectorID")]
    pub sector_id: u64,
    /// The storage deal `lotus-seed` makes for the sector's data; null for committed capacity (Go reads a
    /// null into the zero proposal).
    #[serde(rename = "Deal", default)]
    pub deal: Option<DealProposal>,
    /// The deal client's key; null for committed capacity.
    #[serde(rename = "DealClientKey", default)]
    pub deal_client_key: Option<KeyInfo>,
    /// `RegisteredSealProof` (e.g. 5 for 2KiB V1_1).
    #[serde(rename = "ProofType")]
    pub proof_type: i64,
}

/// A storage deal proposal (go-state-types builtin/v9/market DealProposal in JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DealProposal {
    /// The piece's commitment.
    #[serde(rename = "PieceCID")]
    pub piece_cid: LotusJson<Cid>,
    /// The padded piece size.
    #[serde(rename = "PieceSize")]
    pub piece_size: u64,
    /// Whether the deal is verified (Filecoin Plus).
    #[serde(rename = "VerifiedDeal")]
    pub verified_deal: bool,
    /// The client.
    #[serde(rename = "Client")]
    pub client: LotusJson<Address>,
    /// The provider (the miner).
    #[serde(rename = "Provider")]
    pub provider: LotusJson<Address>,
    /// A label (a string).
    #[serde(rename = "Label")]
    pub label: String,
    /// The first epoch of the deal.
    #[serde(rename = "StartEpoch")]
    pub start_epoch: i64,
    /// The epoch the deal ends.
    #[serde(rename = "EndEpoch")]
    pub end_epoch: i64,
    /// The price per epoch.
    #[serde(rename = "StoragePricePerEpoch")]
    pub storage_price_per_epoch: LotusJson<TokenAmount>,
    /// The provider's collateral.
    #[serde(rename = "ProviderCollateral")]
    pub provider_collateral: LotusJson<TokenAmount>,
    /// The client's collateral.
    #[serde(rename = "ClientCollateral")]
    pub client_collateral: LotusJson<TokenAmount>,
}

/// A wallet key as Lotus exports it (lotus types.KeyInfo): `Type` is `bls` or `secp256k1`, `PrivateKey` the
/// key bytes in padded base64.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// `bls` or `secp256k1`.
    #[serde(rename = "Type")]
    pub key_type: String,
    /// The private key.
    #[serde(rename = "PrivateKey", with = "base64_bytes")]
    pub private_key: Vec<u8>,
}

impl std::fmt::Debug for KeyInfo {
    /// Keeps the private key out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyInfo").field("key_type", &self.key_type).finish_non_exhaustive()
    }
}

mod base64_bytes {
    use super::BASE64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        BASE64.decode(text.as_bytes()).map_err(|e| serde::de::Error::custom(format!("PrivateKey is not base64: {e}")))
    }
}

/// Errors reading or writing pre-seal files.
#[derive(Debug, thiserror::Error)]
pub enum GenesisFileError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
    /// A file's content is not what `lotus-seed` writes.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The key file's text: hex of the key's JSON, as `lotus-seed` writes `pre-seal-<miner>.key`.
pub fn encode_key_file(key: &KeyInfo) -> String {
    let json = serde_json::to_vec(key).expect("a key info always encodes");
    json.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a key file's text (surrounding whitespace allowed).
pub fn decode_key_file(text: &str) -> Result<KeyInfo, String> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return Err("the key file is not hex: odd length".into());
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|e| format!("the key file is not hex: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the key file does not hold a key info: {e}"))
}

/// The key file `lotus-seed` writes beside a manifest: `pre-seal-t01000.json` -> `pre-seal-t01000.key`.
pub fn key_file_beside(manifest: &Path) -> PathBuf {
    manifest.with_extension("key")
}

/// The file names `lotus-seed pre-seal` gives a miner's manifest and key: `pre-seal-<address>.json` and `.key`.
pub fn pre_seal_file_names(miner: &str) -> (String, String) {
    (format!("pre-seal-{miner}.json"), format!("pre-seal-{miner}.key"))
}

/// Reads a manifest file.
pub fn read_manifest(path: &Path) -> Result<PreSealManifest, GenesisFileError> {
    let bytes = std::fs::read(path).map_err(|error| GenesisFileError::Io { path: path.into(), error })?;
    serde_json::from_slice(&bytes).map_err(|e| GenesisFileError::Invalid { path: path.into(), reason: e.to_string() })
}

/// Reads a key file.
pub fn read_key_file(path: &Path) -> Result<KeyInfo, GenesisFileError> {
    let text = std::fs::read_to_string(path).map_err(|error| GenesisFileError::Io { path: path.into(), error })?;
    decode_key_file(&text).map_err(|reason| GenesisFileError::Invalid { path: path.into(), reason })
}

/// Writes a miner's manifest and key into `dir` under `lotus-seed`'s names; returns the manifest's path.
pub fn write_pre_seal_files(dir: &Path, miner: &GenesisMiner, key: &KeyInfo) -> Result<PathBuf, GenesisFileError> {
    let address = miner.id.to_string();
    let (manifest_name, key_name) = pre_seal_file_names(&address);
    let manifest: PreSealManifest = BTreeMap::from([(address, miner.clone())]);
    let manifest_path = dir.join(manifest_name);
    let json = serde_json::to_vec_pretty(&manifest).expect("a manifest always encodes");
    std::fs::write(&manifest_path, json)
        .map_err(|error| GenesisFileError::Io { path: manifest_path.clone(), error })?;
    let key_path = dir.join(key_name);
    std::fs::write(&key_path, encode_key_file(key)).map_err(|error| GenesisFileError::Io { path: key_path, error })?;
    Ok(manifest_path)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    /// A manifest as `lotus-seed pre-seal --miner f01000 --sector-size 2KiB --num-sectors 1` writes it (with
    /// its deal); the addresses and commitments are made up but well-formed.
    const LOTUS_SEED_MANIFEST: &str = r#"{
  "f01000": {
    "ID": "f01000",
    "Owner": "f3aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypsaijcemsckjrhfausukzmfuxc7xayzmkq",
    "Worker": "f3aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypsaijcemsckjrhfausukzmfuxc7xayzmkq",
    "PeerId": "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf",
    "MarketBalance": "0",
    "PowerBalance": "0",
    "SectorSize": 2048,
    "Sectors": [
      {
        "CommR": {"/": "bagboea4b5abcbmvmmvwiq55tk2dk4qmq5msqnov4j6ky2hulmtaksatrny6jonhl"},
        "CommD": {"/": "baga6ea4seaqmyiqy56dht4vpdhdfhmhbd3oengcegdxdyl4ln25mobcblrqleey"},
        "SectorID": 0,
        "Deal": {
          "PieceCID": {"/": "baga6ea4seaqmyiqy56dht4vpdhdfhmhbd3oengcegdxdyl4ln25mobcblrqleey"},
          "PieceSize": 2048,
          "VerifiedDeal": false,
          "Client": "f3aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypsaijcemsckjrhfausukzmfuxc7xayzmkq",
          "Provider": "f01000",
          "Label": "0",
          "StartEpoch": 0,
          "EndEpoch": 9001,
          "StoragePricePerEpoch": "0",
          "ProviderCollateral": "0",
          "ClientCollateral": "0"
        },
        "DealClientKey": {"Type": "bls", "PrivateKey": "Ynl0ZSBhcnJheQ=="},
        "ProofType": 5
      }
    ]
  }
}"#;

    #[test]
    fn a_lotus_seed_manifest_round_trips() {
        let value: serde_json::Value = serde_json::from_str(LOTUS_SEED_MANIFEST).unwrap();
        let manifest: PreSealManifest = serde_json::from_value(value.clone()).unwrap();
        let miner = &manifest["f01000"];
        assert_eq!(miner.id.id().unwrap(), 1000);
        assert_eq!(miner.owner, miner.worker);
        assert_eq!(miner.sectors[0].proof_type, 5);
        assert_eq!(miner.sectors[0].deal.as_ref().unwrap().end_epoch, 9001);
        assert_eq!(serde_json::to_value(&manifest).unwrap(), value);
    }

    #[test]
    fn a_committed_capacity_sector_has_null_deal_fields() {
        let mut manifest: PreSealManifest = serde_json::from_str(LOTUS_SEED_MANIFEST).unwrap();
        let sector = &mut manifest.get_mut("f01000").unwrap().sectors[0];
        sector.deal = None;
        sector.deal_client_key = None;
        let value = serde_json::to_value(&manifest).unwrap();
        assert!(value["f01000"]["Sectors"][0]["Deal"].is_null());
        let back: PreSealManifest = serde_json::from_value(value).unwrap();
        assert_eq!(back, manifest);
        // Fields left out read as null too.
        let sector: PreSeal = serde_json::from_value(serde_json::json!({
            "CommR": {"/": "bagboea4b5abcbmvmmvwiq55tk2dk4qmq5msqnov4j6ky2hulmtaksatrny6jonhl"},
            "CommD": {"/": "baga6ea4seaqmyiqy56dht4vpdhdfhmhbd3oengcegdxdyl4ln25mobcblrqleey"},
            "SectorID": 3,
            "ProofType": 5
        }))
        .unwrap();
        assert!(sector.deal.is_none() && sector.deal_client_key.is_none());
    }

    #[test]
    fn key_files_are_hex_of_the_key_info_json() {
        let key = KeyInfo { key_type: "bls".into(), private_key: vec![7; 32] };
        let text = encode_key_file(&key);
        let json = String::from_utf8(
            (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect(),
        )
        .unwrap();
        assert_eq!(json, format!(r#"{{"Type":"bls","PrivateKey":"{}"}}"#, BASE64.encode([7u8; 32])));
        assert_eq!(decode_key_file(&format!("{text}\n")).unwrap(), key);
        assert!(decode_key_file("7b0").unwrap_err().contains("odd length"));
        assert!(decode_key_file("zz").unwrap_err().contains("not hex"));
        assert!(decode_key_file("7b7d").unwrap_err().contains("does not hold a key info"));
    }

    #[test]
    fn files_are_written_under_lotus_seed_names_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest: PreSealManifest = serde_json::from_str(LOTUS_SEED_MANIFEST).unwrap();
        let miner = manifest.remove("f01000").unwrap();
        let key = KeyInfo { key_type: "bls".into(), private_key: vec![1; 32] };
        let path = write_pre_seal_files(dir.path(), &miner, &key).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("pre-seal-") && name.ends_with("01000.json"), "{name}");
        let read = read_manifest(&path).unwrap();
        assert_eq!(read.values().next().unwrap(), &miner);
        assert_eq!(read_key_file(&key_file_beside(&path)).unwrap(), key);
        let missing = read_manifest(&dir.path().join("nope.json")).unwrap_err().to_string();
        assert!(missing.contains("nope.json"), "{missing}");
    }
}
