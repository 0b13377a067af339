//! Reading Secrets from the operator's watches (see [`crate::stores`]) instead of a GET per reconcile.
//!
//! A Secret the operator made is in [`Stores::owned_secrets`], data included. Any other Secret (a full node's
//! API info) is known to [`Stores::secret_versions`] by name and resource version only; its data is read
//! with one GET the first time and whenever that version changes, and kept in [`SecretData`]. At rest a
//! reconcile reads no Secret from the API server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client};

use crate::error::Result;
use crate::stores::{Stores, lookup};

/// Data of the Secrets read from the API server, each as it was at the resource version it carries.
#[derive(Debug, Default)]
pub struct SecretData {
    secrets: Mutex<HashMap<ObjectRef<Secret>, Arc<Secret>>>,
}

impl SecretData {
    /// The copy of `secret`, when it is the version `version` (from the metadata watch).
    fn current(&self, secret: &ObjectRef<Secret>, version: &str) -> Option<Arc<Secret>> {
        let secrets = self.secrets.lock().expect("not poisoned");
        secrets.get(secret).filter(|copy| copy.metadata.resource_version.as_deref() == Some(version)).cloned()
    }

    /// Keeps `read` (what a GET of `secret` returned) as the copy of `secret`; `None` forgets it.
    fn keep(&self, secret: ObjectRef<Secret>, read: Option<Arc<Secret>>) {
        let mut secrets = self.secrets.lock().expect("not poisoned");
        match read {
            Some(read) => secrets.insert(secret, read),
            None => secrets.remove(&secret),
        };
    }

    /// How many Secrets have a copy.
    pub fn len(&self) -> usize {
        self.secrets.lock().expect("not poisoned").len()
    }

    /// Whether no Secret has a copy.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The Secret `name` in `namespace`, from the watches where they hold it: the operator's own Secrets whole,
/// any other one from the copy read at its current resource version. The API server is asked only when
/// neither has it: a Secret not seen yet (created a moment ago), or one that changed since it was read.
pub async fn read(stores: &Stores, client: &Client, namespace: &str, name: &str) -> Result<Option<Arc<Secret>>> {
    if let Some(owned) = lookup(&stores.owned_secrets, namespace, name).await? {
        return Ok(Some(owned));
    }
    let secret = ObjectRef::new(name).within(namespace);
    let version = lookup(&stores.secret_versions, namespace, name).await?;
    if let Some(copy) =
        version.and_then(|v| stores.secret_data.current(&secret, v.metadata.resource_version.as_deref()?))
    {
        return Ok(Some(copy));
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let read = api.get_opt(name).await?.map(|mut read| {
        read.metadata.managed_fields = None;
        Arc::new(read)
    });
    stores.secret_data.keep(secret, read.clone());
    Ok(read)
}

#[cfg(test)]
mod tests {
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
        feeds.owned_secrets.put(named("m1-p2p-identity", "3"));
        feeds.secret_versions.put(named("lotus", "7").metadata.into_request_partial());

        // The operator's own Secret: from its watch.
        let identity = read(&stores, &client, "sp", "m1-p2p-identity").await.unwrap();
        assert_eq!((version(&identity), gets()), (Some("3"), 0));

        // The API info Secret: fetched once, then from the copy while its version stays.
        assert_eq!(version(&read(&stores, &client, "sp", "lotus").await.unwrap()), Some("7"));
        assert_eq!(version(&read(&stores, &client, "sp", "lotus").await.unwrap()), Some("7"));
        assert_eq!(gets(), 1, "one GET for two reads of an unchanged Secret");

        // Rotated: the metadata watch sees a new version, and the next read fetches it.
        served.lock().unwrap().insert("lotus".into(), named("lotus", "9"));
        feeds.secret_versions.put(named("lotus", "9").metadata.into_request_partial());
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

    fn secret(version: &str) -> Arc<Secret> {
        let mut secret = Secret::default();
        secret.metadata.name = Some("lotus".into());
        secret.metadata.namespace = Some("sp".into());
        secret.metadata.resource_version = Some(version.into());
        Arc::new(secret)
    }

    #[test]
    fn a_copy_counts_only_at_the_version_it_was_read() {
        let data = SecretData::default();
        let lotus = ObjectRef::new("lotus").within("sp");
        assert!(data.current(&lotus, "7").is_none(), "nothing read yet");
        data.keep(lotus.clone(), Some(secret("7")));
        assert_eq!(data.current(&lotus, "7").unwrap().metadata.resource_version.as_deref(), Some("7"));
        assert!(data.current(&lotus, "8").is_none(), "the Secret changed since: read it again");
        assert!(data.current(&ObjectRef::new("lotus").within("other"), "7").is_none(), "per namespace");
        data.keep(lotus.clone(), Some(secret("8")));
        assert!(data.current(&lotus, "8").is_some() && data.len() == 1);
        data.keep(lotus.clone(), None);
        assert!(data.current(&lotus, "8").is_none() && data.is_empty(), "a Secret found gone is forgotten");
    }
}
