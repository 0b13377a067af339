//! Lotus API permissions and JWT tokens (lotus api/permissioned.go, node/modules/core.go).
//!
//! A Lotus token is an HS256 JWT whose payload is `{"Allow": ["read", ...]}`, without expiry. A request
//! without a token gets `read` only. Permissions are not hierarchical: a token must list each one needed.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// One Lotus API permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Read chain and state.
    Read,
    /// Change the node's state (wallet keys, ...).
    Write,
    /// Sign with the node's wallet (MpoolPushMessage).
    Sign,
    /// Administer the node (tokens, shutdown).
    Admin,
}

impl Permission {
    /// Every permission, as `lotus auth create-token --perm admin` grants them.
    pub const ALL: [Permission; 4] = [Permission::Read, Permission::Write, Permission::Sign, Permission::Admin];

    /// The lowercase name Lotus uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Sign => "sign",
            Permission::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request without a token may do (lotus api.DefaultPerms).
pub const DEFAULT_PERMISSIONS: [Permission; 1] = [Permission::Read];

/// The JWT payload of a Lotus token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The permissions granted.
    #[serde(rename = "Allow")]
    pub allow: Vec<Permission>,
}

/// A token that could not be verified.
#[derive(Debug, thiserror::Error)]
#[error("invalid API token: {0}")]
pub struct TokenError(#[from] jsonwebtoken::errors::Error);

/// Signs a token granting `permissions` with the node's HMAC secret.
pub fn create_token(secret: &[u8], permissions: &[Permission]) -> String {
    let claims = TokenClaims { allow: permissions.to_vec() };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))
        .expect("HS256 signing of a small payload cannot fail")
}

/// Verifies a token's signature and returns the permissions it grants.
pub fn verify_token(secret: &[u8], token: &str) -> Result<Vec<Permission>, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    // Lotus tokens carry no `exp`: require no registered claims.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<TokenClaims>(token, &DecodingKey::from_secret(secret), &validation)?;
    Ok(data.claims.allow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn tokens_round_trip_and_carry_lotus_claims() {
        let secret = [7u8; 32];
        let token = create_token(&secret, &Permission::ALL);
        assert_eq!(verify_token(&secret, &token).unwrap(), Permission::ALL.to_vec());
        let payload = token.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
        assert_eq!(String::from_utf8(json).unwrap(), r#"{"Allow":["read","write","sign","admin"]}"#);
        assert!(verify_token(&[8u8; 32], &token).is_err());
        assert!(verify_token(&secret, "not-a-jwt").is_err());
    }

    /// A token in Lotus's format (gbrlsnchs/jwt HS256, header `{"alg":"HS256","typ":"JWT"}`, payload
    /// `{"Allow":["read","write"]}`) for the secret 32 × 0x07, built with python3's hmac module independently
    /// of the jsonwebtoken crate, verifies here.
    #[test]
    fn verifies_an_independently_made_token() {
        let token = include_str!("../tests/vectors/jwt_read_write.txt").trim();
        assert_eq!(verify_token(&[7u8; 32], token).unwrap(), vec![Permission::Read, Permission::Write]);
    }
}
