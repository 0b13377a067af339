//! A stand-in for the Kubernetes API server in unit tests: a client whose every request is recorded and
//! answered by a function of it.

use std::sync::{Arc, Mutex};

use http::{Method, Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

/// One request the client made.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// HTTP method.
    pub method: Method,
    /// Path, without the query.
    pub path: String,
    /// Body as JSON (`null` when empty).
    pub body: Value,
}

/// The requests a [`client`] made, in order.
pub type Requests = Arc<Mutex<Vec<Recorded>>>;

/// A client answering each request with `answer`'s status code and JSON body.
pub fn client(answer: impl Fn(&Recorded) -> (u16, Value) + Send + Sync + 'static) -> (Client, Requests) {
    let requests = Requests::default();
    let answer = Arc::new(answer);
    let log = requests.clone();
    let service = tower::service_fn(move |request: Request<Body>| {
        let (answer, log) = (answer.clone(), log.clone());
        async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.expect("a request body");
            let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON") };
            let recorded = Recorded { method: parts.method, path: parts.uri.path().to_owned(), body };
            let (code, reply) = answer(&recorded);
            log.lock().expect("not poisoned").push(recorded);
            let response = Response::builder().status(code).body(Body::from(serde_json::to_vec(&reply).expect("JSON")));
            Ok::<_, std::convert::Infallible>(response.expect("a response"))
        }
    });
    (Client::new(service, "default"), requests)
}

/// The body of a 404 answer.
pub fn not_found(what: &str) -> (u16, Value) {
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
        "message": format!("{what} not found")});
    (404, status)
}

/// The body of a 500 answer.
pub fn failure() -> (u16, Value) {
    (
        500,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "InternalError", "code": 500,
        "message": "the API server failed"}),
    )
}

/// A Miner `m1` in namespace `sp` with the least spec that decodes, `spec`'s fields added over it.
pub fn miner_with(spec: Value) -> sealstack_crds::Miner {
    let mut base = json!({"fullNode": {"apiInfoSecretRef": {"name": "lotus"}}, "sectorSize": "2KiB",
        "paramCacheRef": {"name": "params"}, "storage": {"size": "1Gi"}});
    base.as_object_mut().expect("an object").extend(spec.as_object().expect("an object").clone());
    serde_json::from_value(json!({"apiVersion": "sealstack.io/v1alpha1", "kind": "Miner",
        "metadata": {"name": "m1", "namespace": "sp"}, "spec": base}))
    .expect("a Miner")
}
