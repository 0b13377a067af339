//! Lotus's API access rules for a jsonrpsee server (the devnet's full-node API, the miner daemon's API), as two
//! middlewares:
//! - HTTP: `Authorization: Bearer <jwt>` (or `?token=` for WebSockets) is verified; a bad token, or the
//!   header without the `Bearer ` prefix, is HTTP 401; no token at all grants `read` (go-jsonrpc auth).
//! - RPC: each call must have the exact parameter count (`wrong param count`, -32602) and its token the
//!   method's permission (`missing permission to invoke 'X' (need 'y')`), per the server's method table
//!   ([`crate::api::METHODS`] for the full node).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::api::MethodSpec;
use crate::auth::{DEFAULT_PERMISSIONS, Permission, verify_token};
use crate::error::missing_permission_message;
use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use jsonrpsee::types::{ErrorObjectOwned, Request};

/// Finds the spec of a fully qualified method name; a method it does not know is refused as not found (fail
/// closed: a method served but missing from the table is never let through unchecked; [`table_matches`] finds
/// such a table at start).
pub type MethodLookup = fn(&str) -> Option<&'static MethodSpec>;

/// The permissions of the request's token, put in the request's extensions by [`HttpAuth`].
#[derive(Clone, Debug)]
pub struct Granted(pub Vec<Permission>);

/// The HTTP layer: verifies the token.
#[derive(Clone)]
pub struct HttpAuth<S> {
    inner: S,
    secret: Arc<Vec<u8>>,
}

impl<S> HttpAuth<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, secret: Arc<Vec<u8>>) -> Self {
        HttpAuth { inner, secret }
    }
}

fn token_of<B>(request: &HttpRequest<B>) -> Result<Option<String>, ()> {
    if let Some(header) = request.headers().get("authorization") {
        let text = header.to_str().map_err(|_| ())?;
        return text.strip_prefix("Bearer ").map(|t| Some(t.trim().to_string())).ok_or(());
    }
    let query = request.uri().query().unwrap_or_default();
    Ok(query.split('&').find_map(|pair| pair.strip_prefix("token=")).map(str::to_string))
}

impl<S, B> tower::Service<HttpRequest<B>> for HttpAuth<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse<HttpBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest<B>) -> Self::Future {
        let granted = match token_of(&request) {
            Ok(None) => Ok(DEFAULT_PERMISSIONS.to_vec()),
            Ok(Some(token)) => verify_token(&self.secret, &token).map_err(|e| e.to_string()),
            Err(()) => Err("missing Bearer prefix in auth header".to_string()),
        };
        match granted {
            Ok(permissions) => {
                request.extensions_mut().insert(Granted(permissions));
                Box::pin(self.inner.call(request))
            }
            Err(reason) => {
                tracing::info!(%reason, "rejected API request");
                let response =
                    HttpResponse::builder().status(401).body(HttpBody::from(reason)).expect("a static response builds");
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

/// The RPC layer: arity and permission checks against a method table.
#[derive(Clone)]
pub struct RpcAuth<S> {
    inner: S,
    lookup: MethodLookup,
}

impl<S> RpcAuth<S> {
    /// Wraps `inner`, checking calls against the specs `lookup` finds.
    pub fn new(inner: S, lookup: MethodLookup) -> Self {
        RpcAuth { inner, lookup }
    }
}

/// The reason to refuse a call, if any.
fn refusal(lookup: MethodLookup, request: &Request<'_>) -> Option<ErrorObjectOwned> {
    let Some(spec) = lookup(request.method_name()) else {
        let message = format!("method '{}' not found", request.method_name());
        return Some(ErrorObjectOwned::owned::<()>(-32601, message, None));
    };
    let count = match request.params().as_str() {
        None => 0,
        Some(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Array(items)) => items.len(),
            Ok(serde_json::Value::Null) => 0,
            _ => usize::MAX,
        },
    };
    if count != spec.params {
        let message = format!("wrong param count (method '{}'): {} != {}", request.method_name(), count, spec.params);
        return Some(ErrorObjectOwned::owned::<()>(-32602, message, None));
    }
    let granted = request.extensions().get::<Granted>().map(|g| g.0.clone()).unwrap_or_default();
    if !granted.contains(&spec.permission) {
        let message = missing_permission_message(spec.name, spec.permission.as_str());
        return Some(ErrorObjectOwned::owned::<()>(1, message, None));
    }
    None
}

/// Whether a server's method table lists exactly the methods its RPC module serves (`served`: the module's
/// `method_names()`, qualified with the `Filecoin.` namespace). Servers check it before they start: a method
/// served but not listed would be refused on every call, one listed but not served is a stale entry.
pub fn table_matches<'a>(served: impl IntoIterator<Item = &'a str>, table: &[MethodSpec]) -> Result<(), String> {
    let served: std::collections::BTreeSet<&str> = served.into_iter().collect();
    let listed: std::collections::BTreeSet<String> =
        table.iter().map(|m| format!("{}.{}", crate::api::NAMESPACE, m.name)).collect();
    let unlisted: Vec<&&str> = served.iter().filter(|name| !listed.contains(**name)).collect();
    let stale: Vec<&String> = listed.iter().filter(|name| !served.contains(name.as_str())).collect();
    if unlisted.is_empty() && stale.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the method table does not match the served methods: served, not listed {unlisted:?}; listed, not served {stale:?}"
    ))
}

impl<S> RpcServiceT for RpcAuth<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Clone + Send + Sync + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let inner = self.inner.clone();
        let refused = refusal(self.lookup, &request);
        async move {
            match refused {
                Some(error) => MethodResponse::error(request.id().clone(), error),
                None => inner.call(request).await,
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        // Servers using this disable batches (`BatchRequestConfig::Disabled`), so none reach this point
        // unchecked; Lotus clients do not batch.
        self.inner.batch(batch)
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::spec;

    const TABLE: &[MethodSpec] = &[spec("ChainHead", Permission::Read, 0), spec("AuthNew", Permission::Admin, 1)];

    fn lookup(qualified: &str) -> Option<&'static MethodSpec> {
        crate::api::find_method(TABLE, qualified)
    }

    #[test]
    fn a_method_missing_from_the_table_is_refused_as_not_found() {
        let request = |method: &'static str| {
            let mut request = Request::borrowed(method, None, jsonrpsee::types::Id::Number(1));
            request.extensions_mut().insert(Granted(DEFAULT_PERMISSIONS.to_vec()));
            request
        };
        let refused = refusal(lookup, &request("Filecoin.WalletExport")).expect("refused");
        assert_eq!((refused.code(), refused.message()), (-32601, "method 'Filecoin.WalletExport' not found"));
        assert!(refusal(lookup, &request("Filecoin.ChainHead")).is_none(), "listed and granted");
        let admin = refusal(lookup, &request("Filecoin.AuthNew")).expect("refused");
        assert_eq!(admin.code(), -32602, "listed: checked (here its param count)");
    }

    #[test]
    fn the_table_must_list_exactly_the_served_methods() {
        assert_eq!(table_matches(["Filecoin.ChainHead", "Filecoin.AuthNew"], TABLE), Ok(()));
        let unlisted = table_matches(["Filecoin.ChainHead", "Filecoin.AuthNew", "Filecoin.WalletExport"], TABLE);
        assert!(unlisted.unwrap_err().contains("served, not listed [\"Filecoin.WalletExport\"]"));
        let stale = table_matches(["Filecoin.ChainHead"], TABLE).unwrap_err();
        assert!(stale.contains("listed, not served [\"Filecoin.AuthNew\"]"), "{stale}");
    }
}
