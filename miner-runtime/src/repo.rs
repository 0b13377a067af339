//! The miner repository (`SEALSTACK_MINER_PATH`, like `LOTUS_MINER_PATH`): the libp2p identity, the on-chain
//! identity once `init` finished, and the journals of chain messages so a rerun never sends one twice.
//!
//! Layout: `keystore/libp2p-host` (protobuf-encoded Ed25519 key, 0600), `init.json` (the creation record,
//! written before and after every push), `miner.json` (actor, owner, worker, sector size: present once
//! initialised), `actor-messages.json` (the set-addrs / set-peer-id journal).

use std::io::Write;
use std::path::{Path, PathBuf};

use libp2p_identity::Keypair;
use sealstack_chain::ChainError;
use sealstack_chain::push::Journal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// What `miner.json` records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinerIdentity {
    /// The miner actor's ID address.
    pub actor: String,
    /// The owner address.
    pub owner: String,
    /// The worker address.
    pub worker: String,
    /// Sector size in bytes.
    pub sector_size: u64,
}

/// A miner repository folder.
#[derive(Clone, Debug)]
pub struct MinerRepo {
    dir: PathBuf,
}

impl MinerRepo {
    /// The repo at `dir` (not created yet).
    pub fn at(dir: &Path) -> Self {
        MinerRepo { dir: dir.to_path_buf() }
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A file in it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The on-chain identity, once initialised.
    pub fn identity(&self) -> anyhow::Result<Option<MinerIdentity>> {
        read_json(&self.file("miner.json"))
    }

    /// The identity, or an error telling the user to run `init`.
    pub fn require_identity(&self) -> anyhow::Result<MinerIdentity> {
        self.identity()?.ok_or_else(|| {
            anyhow::anyhow!("miner repo {} is not initialised: run `sealstack-miner init` first", self.dir.display())
        })
    }

    /// Records the on-chain identity: the repo is initialised from then on.
    pub fn write_identity(&self, identity: &MinerIdentity) -> anyhow::Result<()> {
        write_json(&self.file("miner.json"), identity)
    }

    /// The libp2p key, made on first use.
    pub fn libp2p_key(&self) -> anyhow::Result<Keypair> {
        let path = self.dir.join("keystore").join("libp2p-host");
        if let Ok(bytes) = std::fs::read(&path) {
            return Keypair::from_protobuf_encoding(&bytes)
                .map_err(|e| anyhow::anyhow!("invalid libp2p key {}: {e}", path.display()));
        }
        std::fs::create_dir_all(self.dir.join("keystore"))?;
        let key = Keypair::generate_ed25519();
        write_atomically(&path, &key.to_protobuf_encoding()?, true)?;
        Ok(key)
    }
}

/// A JSON file as a [`Journal`]: each save replaces it atomically and durably.
pub struct FileJournal {
    path: PathBuf,
}

impl FileJournal {
    /// A journal at `path`.
    pub fn new(path: PathBuf) -> Self {
        FileJournal { path }
    }

    /// The saved record, if any.
    pub fn load<T: DeserializeOwned>(&self) -> anyhow::Result<Option<T>> {
        read_json(&self.path)
    }
}

impl<T: Serialize + Sync> Journal<T> for FileJournal {
    async fn save(&mut self, record: &T) -> Result<(), ChainError> {
        crash_point(record);
        write_json(&self.path, record)
            .map_err(|e| ChainError::Client(format!("cannot save {}: {e:#}", self.path.display())))
    }
}

/// Fault injection for crash tests: with `SEALSTACK_CRASH_BEFORE_SAVING=<step>`, the process aborts when a
/// journal is about to save the CID of that step's message, i.e. right after the node accepted the push.
pub(crate) fn crash_point<T: Serialize>(record: &T) {
    let Some(step) = std::env::var_os("SEALSTACK_CRASH_BEFORE_SAVING") else { return };
    let value = serde_json::to_value(record).unwrap_or_default();
    let messages = value.get("messages").unwrap_or(&value);
    if messages.get(step.to_string_lossy().as_ref()).and_then(|m| m.get("cid")).is_some() {
        eprintln!("injected crash: {} pushed, its CID not saved", step.to_string_lossy());
        std::process::abort();
    }
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> anyhow::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).map_err(|e| anyhow::anyhow!("invalid {}: {e}", path.display()))?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Every `*.json` record in `dir` (none when `dir` does not exist), in no particular order.
pub(crate) fn read_json_dir<T: DeserializeOwned>(dir: &Path) -> anyhow::Result<Vec<T>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", dir.display())),
    };
    let mut records = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            records.extend(read_json(&path)?);
        }
    }
    Ok(records)
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_atomically(path, &serde_json::to_vec_pretty(value)?, false)
}

/// Temporary file, fsync, rename, fsync of the folder.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mode = if private { 0o600 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(mode).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_key_persist() {
        let dir = tempfile::tempdir().unwrap();
        let repo = MinerRepo::at(dir.path());
        assert!(repo.identity().unwrap().is_none());
        assert!(repo.require_identity().unwrap_err().to_string().contains("run `sealstack-miner init`"));
        let key = repo.libp2p_key().unwrap();
        assert_eq!(repo.libp2p_key().unwrap().public(), key.public(), "the key is made once");
        let identity =
            MinerIdentity { actor: "t01000".into(), owner: "t0100".into(), worker: "t01001".into(), sector_size: 2048 };
        repo.write_identity(&identity).unwrap();
        assert_eq!(repo.identity().unwrap(), Some(identity));
    }
}
