//! The devnet's repo folder, laid out like a Lotus node repo: `api` (the listen multiaddr), `token` (an
//! admin JWT), `keystore/MF2XI2BNNJ3XILLQOJUXMYLUMU` (the JWT secret as a Lotus KeyInfo, type
//! `jwt-hmac-secret`), `chain.json` (a snapshot of the devnet's state) and `chain.log` (the changes since it,
//! see [`crate::store`]).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sealstack_chain::repo_files;

/// A devnet repo.
#[derive(Clone, Debug)]
pub struct Repo {
    /// Its folder.
    pub dir: PathBuf,
}

impl Repo {
    /// Opens (creating) a repo folder.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("keystore"))?;
        Ok(Repo { dir: dir.to_path_buf() })
    }

    /// The state's snapshot.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("chain.json")
    }

    /// The log of the state's changes since its snapshot.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("chain.log")
    }

    /// The JWT secret, made on first use.
    pub fn jwt_secret(&self) -> std::io::Result<Vec<u8>> {
        repo_files::jwt_secret(&self.dir)
    }

    /// Writes the `token` (admin) and `api` files for a server listening on `addr`.
    pub fn write_api_files(&self, addr: SocketAddr, secret: &[u8]) -> std::io::Result<String> {
        repo_files::write_api_files(&self.dir, addr, secret)
    }
}

/// Replaces a file atomically: temporary file, fsync, rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}
