//! Connections to Lotus full nodes, shared by the reconciles that use the same API info. A connection is
//! checked (`Version`) when made and reused for a while after: a thousand Miners on one node make one
//! client, not one per reconcile. A rotated token or moved node is other API info, hence another
//! connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sealstack_chain::{ApiInfo, ChainError, ConnectOptions, Node};

/// How long a checked connection is reused before it is made and checked again.
const REUSE_FOR: Duration = Duration::from_secs(60);

/// A full node's endpoint and token.
type Endpoint = (String, Option<String>);

/// The operator's full-node connections, by API info, with when each was made.
#[derive(Default)]
pub struct FullNodes {
    by_info: Mutex<HashMap<Endpoint, (Instant, Arc<Node>)>>,
}

impl FullNodes {
    /// A connection for `info`: a recent one, or a new one (checked with `Version`).
    pub async fn connect(&self, info: &ApiInfo) -> Result<Arc<Node>, ChainError> {
        let key = (info.base_url.clone(), info.token.clone());
        if let Some((made, node)) = self.by_info.lock().expect("not poisoned").get(&key)
            && made.elapsed() < REUSE_FOR
        {
            return Ok(node.clone());
        }
        let node = Arc::new(Node::connect(info, &ConnectOptions::default()).await?);
        let mut by_info = self.by_info.lock().expect("not poisoned");
        by_info.retain(|_, (made, _)| made.elapsed() < REUSE_FOR);
        by_info.insert(key, (Instant::now(), node.clone()));
        Ok(node)
    }
}
