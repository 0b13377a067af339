//! The API files of a Lotus repo (full node or miner), shared by every server that writes them (the devnet, the
//! miner daemon): `keystore/MF2XI2BNNJ3XILLQOJUXMYLUMU` (the JWT secret as a Lotus KeyInfo of type
//! `jwt-hmac-secret`, lotus node/repo/fsrepo.go), `token` (an admin JWT) and `api` (the listen multiaddr), which
//! [`crate::ApiInfo::from_repo`] reads back.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::auth::{Permission, create_token};

/// Lotus's keystore name of the JWT secret, `auth-jwt-private`, in base32.
pub const JWT_KEY_FILE: &str = "MF2XI2BNNJ3XILLQOJUXMYLUMU";

#[derive(Serialize, Deserialize)]
struct KeyInfo {
    #[serde(rename = "Type")]
    key_type: String,
    #[serde(rename = "PrivateKey")]
    private_key: String,
}

/// The repo's JWT secret, made (32 random bytes) on first use.
pub fn jwt_secret(repo: &Path) -> std::io::Result<Vec<u8>> {
    let path = repo.join("keystore").join(JWT_KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let info: KeyInfo = serde_json::from_str(&text)?;
        return BASE64.decode(info.private_key).map_err(std::io::Error::other);
    }
    std::fs::create_dir_all(repo.join("keystore"))?;
    let mut secret = vec![0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let info = KeyInfo { key_type: "jwt-hmac-secret".into(), private_key: BASE64.encode(&secret) };
    write_private(&path, serde_json::to_string(&info)?.as_bytes())?;
    Ok(secret)
}

/// Writes the `token` (admin) and `api` files of a server listening on `addr` (an unspecified address is written
/// as loopback, where local clients reach it), returning the token.
pub fn write_api_files(repo: &Path, addr: SocketAddr, secret: &[u8]) -> std::io::Result<String> {
    let token = create_token(secret, &Permission::ALL);
    write_private(&repo.join("token"), token.as_bytes())?;
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "/ip4/127.0.0.1".to_string(),
        std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => "/ip6/::1".to_string(),
        std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
    };
    write_private(&repo.join("api"), format!("{ip}/tcp/{}/http", addr.port()).as_bytes())?;
    Ok(token)
}

/// Replaces a file atomically (temporary file, fsync, rename), readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_files_round_trip_through_api_info() {
        let dir = std::env::temp_dir().join(format!("sealstack-repo-files-{}", std::process::id()));
        let secret = jwt_secret(&dir).unwrap();
        assert_eq!(jwt_secret(&dir).unwrap(), secret, "made once");
        let token = write_api_files(&dir, "0.0.0.0:2345".parse().unwrap(), &secret).unwrap();
        let info = crate::ApiInfo::from_repo(&dir).unwrap();
        assert_eq!(info.token.as_deref(), Some(token.as_str()));
        assert_eq!(info.http_url(), "http://127.0.0.1:2345/rpc/v1");
        assert_eq!(crate::auth::verify_token(&secret, &token).unwrap(), Permission::ALL);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
