//! Objects the operator reads whole but watches as metadata only (other people's Secrets, a ParamCache's
//! manifest ConfigMap): a metadata watch (see [`crate::stores`]) knows each one's resource version, and
//! [`Copies`] keeps what a GET returned, valid while that version stays. At rest a reconcile reads none of
//! them from the API server; after a change (or the first time) one GET.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::core::{NamespaceResourceScope, PartialObjectMeta};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::stores::{Cache, lookup};

/// Copies of objects read from the API server, each as it was at the resource version it carries.
#[derive(Debug)]
pub struct Copies<K: Resource<DynamicType = ()>> {
    objects: Mutex<HashMap<ObjectRef<K>, Arc<K>>>,
}

impl<K: Resource<DynamicType = ()>> Default for Copies<K> {
    fn default() -> Self {
        Self { objects: Mutex::default() }
    }
}

impl<K: Resource<DynamicType = ()>> Copies<K> {
    /// The copy of `object`, when it is the version `version` (from the metadata watch).
    fn current(&self, object: &ObjectRef<K>, version: &str) -> Option<Arc<K>> {
        let objects = self.objects.lock().expect("not poisoned");
        objects.get(object).filter(|copy| copy.meta().resource_version.as_deref() == Some(version)).cloned()
    }

    /// Keeps `read` (what a GET of `object` returned) as the copy of `object`; `None` forgets it.
    fn keep(&self, object: ObjectRef<K>, read: Option<Arc<K>>) {
        let mut objects = self.objects.lock().expect("not poisoned");
        match read {
            Some(read) => objects.insert(object, read),
            None => objects.remove(&object),
        };
    }

    /// How many objects have a copy.
    pub fn len(&self) -> usize {
        self.objects.lock().expect("not poisoned").len()
    }

    /// Whether no object has a copy.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The object `name` in `namespace`: the copy in `copies` while `versions` (a metadata watch) shows the version
/// it was read at, else read with one GET (and kept). The API server is asked only for an object not seen yet
/// (created a moment ago), or one that changed since it was read.
pub async fn read_copy<K>(
    versions: &Cache<PartialObjectMeta<K>>,
    copies: &Copies<K>,
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Arc<K>>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let object = ObjectRef::new(name).within(namespace);
    let version = lookup(versions, namespace, name).await?;
    if let Some(copy) = version.and_then(|v| copies.current(&object, v.metadata.resource_version.as_deref()?)) {
        return Ok(Some(copy));
    }
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let read = api.get_opt(name).await?.map(|mut read| {
        read.meta_mut().managed_fields = None;
        Arc::new(read)
    });
    copies.keep(object, read.clone());
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;

    type SecretData = Copies<Secret>;

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
