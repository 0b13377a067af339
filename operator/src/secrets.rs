//! Reading Secrets from the operator's watches (see [`crate::stores`]) instead of a GET per reconcile.
//!
//! A Secret the operator made is in [`Stores::owned_secrets`], data included. Any other Secret (a full node's
//! API info) is known to [`Stores::secret_versions`] by name and resource version only; its data is read
//! with one GET the first time and whenever that version changes, and kept in [`SecretData`]. At rest a
//! reconcile reads no Secret from the API server.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::Client;

use crate::copies::{Copies, read_copy};
use crate::error::Result;
use crate::stores::{Stores, lookup};

/// Data of the Secrets read from the API server, each as it was at the resource version it carries.
pub type SecretData = Copies<Secret>;

/// The Secret `name` in `namespace`, from the watches where they hold it: the operator's own Secrets whole,
/// any other one from the copy read at its current resource version. The API server is asked only when
/// neither has it: a Secret not seen yet (created a moment ago), or one that changed since it was read.
pub async fn read(stores: &Stores, client: &Client, namespace: &str, name: &str) -> Result<Option<Arc<Secret>>> {
    if let Some(owned) = lookup(&stores.owned_secrets, namespace, name).await? {
        return Ok(Some(owned));
    }
    read_copy(&stores.secret_versions, &stores.secret_data, client, namespace, name).await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use kube::core::{ObjectMeta, PartialObjectMetaExt};

    use crate::stores::stores;
    use crate::testing;

    fn named(name: &str, version: &str) -> Secret {
        let metadata = ObjectMeta {
            name: Some(name.into()),
            namespace: Some("sp".into()),
            resource_version: Some(version.into()),
            ..ObjectMeta::default()
        };
        Secret { metadata, ..Secret::default() }
    }

    /// A client whose API server holds `served` (Secrets in `sp`).
    fn client(served: Arc<Mutex<HashMap<String, Secret>>>) -> (Client, testing::Requests) {
        testing::client(move |request| {
            assert_eq!(request.method, http::Method::GET, "only reads: {}", request.path);
            let name = request.path.strip_prefix("/api/v1/namespaces/sp/secrets/").expect("a Secret in sp");
            match served.lock().unwrap().get(name) {
                Some(secret) => (200, serde_json::to_value(secret).unwrap()),
                None => testing::not_found(name),
            }
        })
    }

    fn version(secret: &Option<Arc<Secret>>) -> Option<&str> {
        secret.as_ref()?.metadata.resource_version.as_deref()
    }

    #[tokio::test]
    async fn secrets_are_read_from_the_watches_and_fetched_once_per_version() {
        let (stores, mut feeds) = stores();
        let served = Arc::new(Mutex::new(HashMap::from([("lotus".to_string(), named("lotus", "7"))])));
        let (client, requests) = client(served.clone());
        let gets = || requests.lock().unwrap().len();
        feeds.miner.owned_secrets.put(named("m1-p2p-identity", "3"));
        feeds.miner.secret_versions.put(named("lotus", "7").metadata.into_request_partial());

        // The operator's own Secret: from its watch.
        let identity = read(&stores, &client, "sp", "m1-p2p-identity").await.unwrap();
        assert_eq!((version(&identity), gets()), (Some("3"), 0));

        // The API info Secret: fetched once, then from the copy while its version stays.
        assert_eq!(version(&read(&stores, &client, "sp", "lotus").await.unwrap()), Some("7"));
        assert_eq!(version(&read(&stores, &client, "sp", "lotus").await.unwrap()), Some("7"));
        assert_eq!(gets(), 1, "one GET for two reads of an unchanged Secret");

        // Rotated: the metadata watch sees a new version, and the next read fetches it.
        served.lock().unwrap().insert("lotus".into(), named("lotus", "9"));
        feeds.miner.secret_versions.put(named("lotus", "9").metadata.into_request_partial());
        assert_eq!(version(&read(&stores, &client, "sp", "lotus").await.unwrap()), Some("9"));
        assert_eq!(version(&read(&stores, &client, "sp", "lotus").await.unwrap()), Some("9"));
        assert_eq!(gets(), 2);

        // Not in any watch yet (created a moment ago, or not at all): asked for each time.
        served.lock().unwrap().insert("new".into(), named("new", "11"));
        assert_eq!(version(&read(&stores, &client, "sp", "new").await.unwrap()), Some("11"));
        assert!(read(&stores, &client, "sp", "absent").await.unwrap().is_none());
        assert_eq!(gets(), 4);
        assert_eq!(stores.secret_data.len(), 2, "copies of lotus and new; nothing for the absent one");
    }
}
