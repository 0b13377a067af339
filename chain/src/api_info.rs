//! Where a Lotus node's API is and how to authenticate: `FULLNODE_API_INFO` (lotus cli/util/apiinfo.go).
//!
//! The value is `TOKEN:MULTIADDR` (`eyJ...:/ip4/127.0.0.1/tcp/1234/http`), or `TOKEN:URL`, or just the address
//! for read-only use. A node's repo holds the same two parts in its `api` and `token` files.

use std::path::Path;

use multiaddr::{Multiaddr, Protocol};

/// A node's API endpoint and optional bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiInfo {
    /// Base URL without the RPC path, e.g. `http://127.0.0.1:1234`.
    pub base_url: String,
    /// The JWT, if any.
    pub token: Option<String>,
}

impl std::fmt::Debug for ApiInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("ApiInfo")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

/// An API info string that does not parse.
#[derive(Debug, thiserror::Error)]
pub enum ApiInfoError {
    /// The address part is neither a multiaddr nor an http(s)/ws(s) URL.
    #[error("invalid API address {0:?}: expected a multiaddr like /ip4/127.0.0.1/tcp/1234/http or a URL")]
    Address(String),
    /// A repo file could not be read.
    #[error("cannot read {path}: {source}")]
    Repo {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl ApiInfo {
    /// Parses `TOKEN:ADDRESS` or `ADDRESS`.
    pub fn parse(text: &str) -> Result<Self, ApiInfoError> {
        let text = text.trim();
        let (token, address) = match text.split_once(':') {
            // A bare URL also contains ':'; a token never starts with '/' and a URL scheme is short.
            Some((token, address)) if !token.is_empty() && !is_url_scheme(token) && !token.starts_with('/') => {
                (Some(token.to_string()), address)
            }
            _ => (None, text),
        };
        Ok(ApiInfo { base_url: base_url(address)?, token })
    }

    /// Reads a node repo's `api` and `token` files.
    pub fn from_repo(repo: &Path) -> Result<Self, ApiInfoError> {
        let read = |name: &str| {
            let path = repo.join(name);
            std::fs::read_to_string(&path)
                .map_err(|source| ApiInfoError::Repo { path: path.display().to_string(), source })
        };
        let address = read("api")?;
        let token = read("token")?;
        Ok(ApiInfo { base_url: base_url(address.trim())?, token: Some(token.trim().to_string()) })
    }

    /// The HTTP endpoint of API v1.
    pub fn http_url(&self) -> String {
        format!("{}/rpc/v1", self.base_url)
    }

    /// The WebSocket endpoint of API v1.
    pub fn ws_url(&self) -> String {
        let rest = self.base_url.strip_prefix("http").unwrap_or(&self.base_url);
        format!("ws{rest}/rpc/v1")
    }

    /// `TOKEN:MULTIADDR`-style text for `FULLNODE_API_INFO` (the address as a URL, which Lotus also reads).
    pub fn to_env_value(&self) -> String {
        match &self.token {
            Some(token) => format!("{token}:{}", self.base_url),
            None => self.base_url.clone(),
        }
    }
}

fn is_url_scheme(part: &str) -> bool {
    matches!(part, "http" | "https" | "ws" | "wss")
}

/// The base URL (`http(s)://host:port`) of a multiaddr or URL.
fn base_url(address: &str) -> Result<String, ApiInfoError> {
    let address = address.trim();
    if let Some((scheme, rest)) = address.split_once("://") {
        let secure = matches!(scheme, "https" | "wss");
        if !is_url_scheme(scheme) || rest.is_empty() {
            return Err(ApiInfoError::Address(address.to_string()));
        }
        let host_port = rest.split('/').next().unwrap_or_default();
        return Ok(format!("{}://{host_port}", if secure { "https" } else { "http" }));
    }
    let multiaddr: Multiaddr = address.parse().map_err(|_| ApiInfoError::Address(address.to_string()))?;
    let (mut host, mut port, mut secure) = (None, None, false);
    for protocol in multiaddr.iter() {
        match protocol {
            Protocol::Ip4(ip) => host = Some(ip.to_string()),
            Protocol::Ip6(ip) => host = Some(format!("[{ip}]")),
            Protocol::Dns(name) | Protocol::Dns4(name) | Protocol::Dns6(name) => host = Some(name.to_string()),
            Protocol::Tcp(p) => port = Some(p),
            Protocol::Https | Protocol::Wss(_) | Protocol::Tls => secure = true,
            _ => {}
        }
    }
    match (host, port) {
        (Some(host), Some(port)) => Ok(format!("{}://{host}:{port}", if secure { "https" } else { "http" })),
        _ => Err(ApiInfoError::Address(address.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lotus_forms() {
        let info = ApiInfo::parse("eyJhbGc.eyJBbGxvdyI.sig:/ip4/127.0.0.1/tcp/1234/http").unwrap();
        assert_eq!(info.token.as_deref(), Some("eyJhbGc.eyJBbGxvdyI.sig"));
        assert_eq!(info.http_url(), "http://127.0.0.1:1234/rpc/v1");
        assert_eq!(info.ws_url(), "ws://127.0.0.1:1234/rpc/v1");

        let dns = ApiInfo::parse("tok:/dns/lotus.filecoin.svc/tcp/1234/http").unwrap();
        assert_eq!(dns.base_url, "http://lotus.filecoin.svc:1234");

        let url = ApiInfo::parse("tok:https://api.node.glif.io/rpc/v1").unwrap();
        assert_eq!(url.base_url, "https://api.node.glif.io");
        assert_eq!(url.ws_url(), "wss://api.node.glif.io/rpc/v1");

        let bare = ApiInfo::parse("http://127.0.0.1:1234").unwrap();
        assert_eq!(bare.token, None);
        let bare_ma = ApiInfo::parse("/ip4/10.0.0.1/tcp/1234").unwrap();
        assert_eq!(bare_ma.token, None);
        assert_eq!(bare_ma.base_url, "http://10.0.0.1:1234");
    }

    #[test]
    fn rejects_garbage_with_the_address_named() {
        let err = ApiInfo::parse("tok:/ip4/127.0.0.1").unwrap_err().to_string();
        assert!(err.contains("/ip4/127.0.0.1"), "{err}");
        assert!(ApiInfo::parse("tok:nonsense").is_err());
    }

    #[test]
    fn debug_hides_the_token() {
        let info = ApiInfo::parse("secret-token:/ip4/127.0.0.1/tcp/1234/http").unwrap();
        assert!(!format!("{info:?}").contains("secret-token"));
    }
}
