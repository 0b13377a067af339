//! The `/remote/...` HTTP endpoints of the long-term storage, on the API port (lotus-miner serves `/remote`
//! likewise), behind the API's token check with `admin`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use sealstack_chain::auth::Permission;
use sealstack_chain::server_auth::Granted;

use super::{Storage, safe_name};

/// The HTTP layer serving `/remote/...` (everything else goes to the JSON-RPC server).
#[derive(Clone)]
pub struct RemoteFiles<S> {
    inner: S,
    storage: Arc<Storage>,
}

impl<S> RemoteFiles<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, storage: Arc<Storage>) -> Self {
        RemoteFiles { inner, storage }
    }
}

fn respond(status: u16, body: impl Into<HttpBody>) -> HttpResponse<HttpBody> {
    HttpResponse::builder().status(status).body(body.into()).expect("a valid response")
}

impl<S, B> tower::Service<HttpRequest<B>> for RemoteFiles<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse<HttpBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let Some(path) = request.uri().path().strip_prefix("/remote/").map(str::to_string) else {
            return Box::pin(self.inner.call(request));
        };
        let admin = request.extensions().get::<Granted>().is_some_and(|g| g.0.contains(&Permission::Admin));
        let storage = self.storage.clone();
        Box::pin(async move {
            if !admin {
                return Ok(respond(401, "the sector file endpoints need a token with 'admin'"));
            }
            let method = request.method().clone();
            Ok(match (method.as_str(), path.split_once('/')) {
                ("PUT", Some(("finalize", rest))) => match rest.split_once('/') {
                    Some((task, part)) if safe_name(task) => {
                        match storage.receive(task, part, request.into_body()).await {
                            Ok(()) => respond(200, ""),
                            Err(error) => respond(400, error),
                        }
                    }
                    _ => respond(400, "expected /remote/finalize/<task>/<part>"),
                },
                ("GET", _) => match storage.stored(&path) {
                    Some(file) => match tokio::fs::read(&file).await {
                        Ok(bytes) => respond(200, bytes),
                        Err(_) => respond(404, format!("no {path}")),
                    },
                    None => respond(400, format!("invalid path {path:?}")),
                },
                _ => respond(405, "GET sealed|cache files, or PUT finalize uploads"),
            })
        })
    }
}
