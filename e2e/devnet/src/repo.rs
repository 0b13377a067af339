//! The devnet's repo folder, laid out like a Lotus node repo: `api` (the listen multiaddr), `token` (an
//! admin JWT), `keystore/MF2XI2BNNJ3XILLQOJUXMYLUMU` (the JWT secret as a Lotus KeyInfo, type
//! `jwt-hmac-secret`), and `chain.json` (the devnet's state).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use sealstack_chain::auth::{Permission, create_token};
use serde::{Deserialize, Serialize};

/// Lotus's keystore name of the JWT secret, `auth-jwt-private`, in base32 (lotus node/repo/fsrepo.go).
pub const JWT_KEY_FILE: &str = "MF2XI2BNNJ3XILLQOJUXMYLUMU";

/// A devnet repo.
#[derive(Clone, Debug)]
pub struct Repo {
    /// Its folder.
    pub dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct KeyInfo {
    #[serde(rename = "Type")]
    key_type: String,
    #[serde(rename = "PrivateKey")]
    private_key: String,
}

impl Repo {
    /// Opens (creating) a repo folder.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.join("keystore"))?;
        Ok(Repo { dir: dir.to_path_buf() })
    }

    /// The state file.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("chain.json")
    }

    /// The JWT secret, made on first use.
    pub fn jwt_secret(&self) -> std::io::Result<Vec<u8>> {
        let path = self.dir.join("keystore").join(JWT_KEY_FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            let info: KeyInfo = serde_json::from_str(&text)?;
            return BASE64.decode(info.private_key).map_err(std::io::Error::other);
        }
        let mut secret = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let info = KeyInfo { key_type: "jwt-hmac-secret".into(), private_key: BASE64.encode(&secret) };
        write_private(&path, serde_json::to_string(&info)?.as_bytes())?;
        Ok(secret)
    }

    /// Writes the `token` (admin) and `api` files for a server listening on `addr`.
    pub fn write_api_files(&self, addr: SocketAddr, secret: &[u8]) -> std::io::Result<String> {
        let token = create_token(secret, &Permission::ALL);
        write_private(&self.dir.join("token"), token.as_bytes())?;
        let ip = match addr.ip() {
            std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
            std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
        };
        write_atomically(&self.dir.join("api"), format!("{ip}/tcp/{}/http", addr.port()).as_bytes())?;
        Ok(token)
    }
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Replaces a file atomically: temporary file, fsync, rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}
