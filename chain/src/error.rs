//! Errors talking to a Lotus node, classified so callers can tell users what to fix.

use jsonrpsee::core::ClientError;

/// Why a call to a Lotus node failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Nothing answered at the address (connection refused, DNS, timeout).
    #[error("Lotus node unreachable at {url}: {reason}")]
    Unreachable {
        /// The endpoint tried.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The node refused the token (HTTP 401).
    #[error("Lotus node at {url} rejected the API token (HTTP 401): check FULLNODE_API_INFO or the token secret")]
    Unauthorized {
        /// The endpoint.
        url: String,
    },
    /// The token lacks a permission the method needs.
    #[error("the API token lacks the '{permission}' permission for {method}: create one with --perm {permission}")]
    MissingPermission {
        /// The method called.
        method: String,
        /// The permission needed.
        permission: String,
    },
    /// The node is on another network than expected.
    #[error("Lotus node is on network {actual:?}, expected {expected:?}")]
    WrongNetwork {
        /// The network configured.
        expected: String,
        /// The network the node reports.
        actual: String,
    },
    /// A message executed with a non-zero exit code.
    #[error("message {cid} ({what}) failed on chain with exit code {exit_code}")]
    MessageFailed {
        /// The message CID.
        cid: String,
        /// What the message did.
        what: String,
        /// The exit code.
        exit_code: u32,
    },
    /// The node returned a JSON-RPC error.
    /// HTTP 500 without a readable reason: go-jsonrpc (Lotus) answers a call it cannot dispatch (unknown method,
    /// wrong number or types of parameters: codes -32601, -32602, -32700) with HTTP 500, and the HTTP client does
    /// not read the body of a non-2xx answer. Seen against real Lotus (e2e/lotus); our devnet answers 200.
    #[error(
        "Lotus node at {url} refused the call (HTTP {status}): it answers so for an unknown method or wrong \
         parameters, whose reason only the WebSocket transport shows"
    )]
    Refused {
        /// The endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    #[error("Lotus API error (code {code}): {message}")]
    Rpc {
        /// The JSON-RPC error code (1 for errors returned by Lotus methods).
        code: i32,
        /// The error message.
        message: String,
    },
    /// A result or return value that does not decode.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was decoded.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// Any other client-side failure.
    #[error("Lotus API client error: {0}")]
    Client(String),
}

impl ChainError {
    /// Classifies a jsonrpsee client error for a call to `url`.
    pub fn from_client(url: &str, error: ClientError) -> Self {
        match error {
            ClientError::Call(object) => {
                let message = object.message().to_string();
                if let Some((method, permission)) = parse_missing_permission(&message) {
                    return ChainError::MissingPermission { method, permission };
                }
                ChainError::Rpc { code: object.code(), message }
            }
            ClientError::Transport(inner) => {
                let reason = inner.to_string();
                if reason.contains("401") {
                    ChainError::Unauthorized { url: url.to_string() }
                } else if reason.contains("Request rejected `500`") {
                    ChainError::Refused { url: url.to_string(), status: 500 }
                } else {
                    ChainError::Unreachable { url: url.to_string(), reason }
                }
            }
            ClientError::RequestTimeout => {
                ChainError::Unreachable { url: url.to_string(), reason: "request timed out".to_string() }
            }
            ClientError::RestartNeeded(inner) => {
                ChainError::Unreachable { url: url.to_string(), reason: format!("connection lost: {inner}") }
            }
            ClientError::ParseError(e) => {
                ChainError::Decode { what: "API response".to_string(), reason: e.to_string() }
            }
            other => ChainError::Client(other.to_string()),
        }
    }

    /// A short, stable label for metrics and conditions.
    pub fn label(&self) -> &'static str {
        match self {
            ChainError::Unreachable { .. } => "unreachable",
            ChainError::Unauthorized { .. } => "unauthorized",
            ChainError::MissingPermission { .. } => "missing_permission",
            ChainError::WrongNetwork { .. } => "wrong_network",
            ChainError::MessageFailed { .. } => "message_failed",
            ChainError::Refused { .. } => "refused",
            ChainError::Rpc { .. } => "rpc",
            ChainError::Decode { .. } => "decode",
            ChainError::Client(_) => "client",
        }
    }

    /// Whether retrying later may succeed without a change by the user.
    pub fn is_transient(&self) -> bool {
        // Refused stays transient: a proxy in front of the node may answer 500 while its backend restarts.
        matches!(
            self,
            ChainError::Unreachable { .. }
                | ChainError::Refused { .. }
                | ChainError::Rpc { .. }
                | ChainError::Client(_)
        )
    }
}

/// Lotus's message: `missing permission to invoke 'WalletNew' (need 'write')` (go-jsonrpc auth).
fn parse_missing_permission(message: &str) -> Option<(String, String)> {
    let rest = message.strip_prefix("missing permission to invoke '")?;
    let (method, rest) = rest.split_once("' (need '")?;
    let permission = rest.strip_suffix("')")?;
    Some((method.to_string(), permission.to_string()))
}

/// The exact message Lotus returns for a missing permission.
pub fn missing_permission_message(method: &str, permission: &str) -> String {
    format!("missing permission to invoke '{method}' (need '{permission}')")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonrpsee::types::ErrorObjectOwned;

    #[test]
    fn classifies_lotus_errors() {
        let call =
            ClientError::Call(ErrorObjectOwned::owned::<()>(1, missing_permission_message("WalletNew", "write"), None));
        match ChainError::from_client("http://n", call) {
            ChainError::MissingPermission { method, permission } => {
                assert_eq!((method.as_str(), permission.as_str()), ("WalletNew", "write"))
            }
            other => panic!("{other:?}"),
        }
        let other = ClientError::Call(ErrorObjectOwned::owned::<()>(1, "actor not found", None));
        assert_eq!(ChainError::from_client("http://n", other).label(), "rpc");
        let timeout = ChainError::from_client("http://n", ClientError::RequestTimeout);
        assert!(timeout.to_string().contains("unreachable at http://n"));
        assert!(timeout.is_transient());
    }

    #[tokio::test]
    async fn http_500_is_a_refused_call_not_an_unreachable_node() {
        // What Lotus answers to a call with the wrong parameter count (e2e/lotus): HTTP 500 with the JSON-RPC
        // error in the body, which the HTTP client does not read.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = socket.read(&mut request).await;
            let body = r#"{"error":{"code":-32602,"message":"wrong param count (method 'Filecoin.ChainHead'): 1 != 0"},"id":0,"jsonrpc":"2.0"}"#;
            let answer = format!(
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        let client = jsonrpsee::http_client::HttpClientBuilder::default().build(&url).unwrap();
        let error = jsonrpsee::core::client::ClientT::request::<serde_json::Value, _>(
            &client,
            "Filecoin.ChainHead",
            jsonrpsee::rpc_params![1],
        )
        .await
        .unwrap_err();
        let error = ChainError::from_client(&url, error);
        assert_eq!(error.label(), "refused", "{error:?}");
        assert!(error.to_string().contains("refused the call (HTTP 500)"), "{error}");
    }
}
