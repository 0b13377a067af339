//! The operator's Kubernetes client: the usual one, with every request counted by method in the metrics,
//! so that writes (and writes at rest, which should be none) can be watched.

use std::sync::Arc;

use kube::Client;
use kube::client::{Body, ClientBuilder};

use crate::metrics::Metrics;

/// A client for `config` whose requests are counted in `metrics`.
pub fn instrumented_client(config: kube::Config, metrics: Arc<Metrics>) -> Result<Client, kube::Error> {
    let layer = tower::layer::layer_fn(move |service| {
        let metrics = metrics.clone();
        tower::util::MapRequest::new(service, move |request: http::Request<Body>| {
            metrics.kube_request(request.method().as_str(), request.uri().path());
            request
        })
    });
    Ok(ClientBuilder::try_from(config)?.with_layer(&layer).build())
}
