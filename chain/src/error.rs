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
            ChainError::Rpc { .. } => "rpc",
            ChainError::Decode { .. } => "decode",
            ChainError::Client(_) => "client",
        }
    }

    /// Whether retrying later may succeed without a change by the user.
    pub fn is_transient(&self) -> bool {
        matches!(self, ChainError::Unreachable { .. } | ChainError::Rpc { .. } | ChainError::Client(_))
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
}
