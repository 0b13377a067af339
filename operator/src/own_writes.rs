//! Read-your-writes over a watch's store. A reconcile gets its object from the store, which lags behind
//! the operator's own status writes by one watch event: a reconcile triggered right after a write (by the
//! child its last run applied, say) would see the status from before it. Writing that old status again
//! is a wasted write; for a Miner, resuming chain work from it could send a message twice.
//!
//! [`OwnWrites`] keeps, per object, the versions a run of writes started from and made, and the object the
//! API server returned for the last. A later reconcile then takes the newest object it can prove: the
//! store's when the store has caught up, the one written when the store still holds one of those older
//! versions, and a fresh
//! read ([`Fresh::Read`]) when the store holds some other version (someone else wrote in between, or
//! later): resource versions are opaque, so they are compared only for equality.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::api::Api;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

/// The object a reconcile should work from.
#[derive(Debug, PartialEq)]
pub enum Fresh<K> {
    /// This one: the store's, or the last one written.
    Known(Arc<K>),
    /// Neither can be proven newest: read the object from the API server.
    Read,
}

struct Written<K> {
    /// The versions older than `last` that the operator's writes started from or made: the base of the
    /// first write, and each write's result after it. A store at one of them is behind `last`.
    older: Vec<String>,
    /// The version the last write made.
    last: String,
    /// The object as the last write stored it; `None` once the watch showed it (the store has it then, and
    /// a reconcile still holding an older copy reads the object again).
    object: Option<Arc<K>>,
}

/// The last write the operator made to each object of one kind, until the store shows it.
pub struct OwnWrites<K> {
    by_uid: Mutex<HashMap<String, Written<K>>>,
}

impl<K> Default for OwnWrites<K> {
    fn default() -> Self {
        Self { by_uid: Mutex::new(HashMap::new()) }
    }
}

impl<K: Resource> OwnWrites<K> {
    /// Which object to work from, given the store's `stored`.
    pub fn resolve(&self, stored: Arc<K>) -> Fresh<K> {
        let (Some(uid), Some(version)) = (stored.meta().uid.clone(), stored.meta().resource_version.clone()) else {
            return Fresh::Known(stored);
        };
        let mut by_uid = self.by_uid.lock().expect("not poisoned");
        let Some(written) = by_uid.get(&uid) else { return Fresh::Known(stored) };
        if written.last == version {
            // The store has caught up.
            by_uid.remove(&uid);
            Fresh::Known(stored)
        } else if let (true, Some(object)) = (written.older.contains(&version), &written.object) {
            Fresh::Known(object.clone())
        } else {
            by_uid.remove(&uid);
            Fresh::Read
        }
    }

    /// Records that a write starting from `base` (the object the reconcile works from) stored `written`.
    /// Further writes of the same reconcile pass the same `base`; a later reconcile that started from the
    /// last object written continues the same chain.
    pub fn record(&self, base: &K, mut written: K) {
        let (Some(uid), Some(version)) = (base.meta().uid.clone(), base.meta().resource_version.clone()) else {
            return;
        };
        // Kept as the stores keep objects: without the bulk no reconcile reads.
        written.meta_mut().managed_fields = None;
        let mut by_uid = self.by_uid.lock().expect("not poisoned");
        let older = match by_uid.remove(&uid) {
            Some(mut chain) if chain.last == version || chain.older.contains(&version) => {
                chain.older.push(chain.last);
                chain.older
            }
            _ => vec![version],
        };
        let last = written.meta().resource_version.clone().unwrap_or_default();
        by_uid.insert(uid, Written { older, last, object: Some(Arc::new(written)) });
    }

    /// Drops the copy of `seen`'s object once the watch shows the last write (`seen` is that version), so
    /// that no copy outlives the lag it covers. The versions stay: a reconcile that took an older copy from
    /// the store just before is told to read again.
    pub fn observe(&self, seen: &K) {
        let (Some(uid), Some(version)) = (seen.meta().uid.as_ref(), seen.meta().resource_version.as_ref()) else {
            return;
        };
        let mut by_uid = self.by_uid.lock().expect("not poisoned");
        if let Some(written) = by_uid.get_mut(uid).filter(|w| &w.last == version) {
            written.object = None;
        }
    }

    /// Objects whose write the store has not shown yet.
    pub fn pending(&self) -> usize {
        self.by_uid.lock().expect("not poisoned").values().filter(|w| w.object.is_some()).count()
    }
}

impl<K> OwnWrites<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    /// The object to work from: [`OwnWrites::resolve`], reading it from `api` when needed. `None` when it
    /// is gone.
    pub async fn current(&self, api: &Api<K>, stored: Arc<K>) -> Result<Option<Arc<K>>, kube::Error> {
        Ok(self.current_or_read(api, stored).await?.map(|(object, _)| object))
    }

    /// Like [`OwnWrites::current`], also telling whether the object was just read from the API server (a
    /// quorum read: nothing written before is missing from it).
    pub async fn current_or_read(&self, api: &Api<K>, stored: Arc<K>) -> Result<Option<(Arc<K>, bool)>, kube::Error> {
        match self.resolve(stored.clone()) {
            Fresh::Known(object) => Ok(Some((object, false))),
            Fresh::Read => Ok(api.get_opt(&stored.name_any()).await?.map(|object| (Arc::new(object), true))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use std::collections::BTreeMap;

    fn object(version: &str, value: &str) -> ConfigMap {
        let mut map = ConfigMap::default();
        map.metadata.name = Some("m".into());
        map.metadata.uid = Some("uid".into());
        map.metadata.resource_version = Some(version.into());
        map.data = Some(BTreeMap::from([("k".into(), value.into())]));
        map
    }

    fn known(fresh: Fresh<ConfigMap>) -> ConfigMap {
        match fresh {
            Fresh::Known(object) => (*object).clone(),
            Fresh::Read => panic!("expected a known object"),
        }
    }

    #[test]
    fn without_writes_the_store_is_taken() {
        let writes = OwnWrites::default();
        assert_eq!(known(writes.resolve(Arc::new(object("1", "a")))), object("1", "a"));
    }

    #[test]
    fn a_store_still_at_the_base_gives_the_written_object() {
        let writes = OwnWrites::default();
        writes.record(&object("1", "a"), object("2", "b"));
        assert_eq!(known(writes.resolve(Arc::new(object("1", "a")))), object("2", "b"));
        assert_eq!(writes.pending(), 1);
        // A second write of the same run (the same base) replaces the first.
        writes.record(&object("1", "a"), object("3", "c"));
        assert_eq!(known(writes.resolve(Arc::new(object("1", "a")))), object("3", "c"));
    }

    #[test]
    fn a_store_at_any_version_of_the_chain_of_writes_gives_the_last_one() {
        let writes = OwnWrites::default();
        // A reconcile writes three times from version 1 (a journal), the next one once from version 4.
        writes.record(&object("1", "a"), object("2", "b"));
        writes.record(&object("1", "a"), object("3", "c"));
        writes.record(&object("1", "a"), object("4", "d"));
        writes.record(&object("4", "d"), object("5", "e"));
        for behind in ["1", "2", "3", "4"] {
            assert_eq!(known(writes.resolve(Arc::new(object(behind, "old")))), object("5", "e"), "at {behind}");
        }
        // A write from a version outside the chain starts a new one.
        writes.record(&object("9", "x"), object("10", "y"));
        assert_eq!(writes.resolve(Arc::new(object("4", "d"))), Fresh::Read);
    }

    #[test]
    fn a_store_that_caught_up_is_taken_and_the_record_dropped() {
        let writes = OwnWrites::default();
        writes.record(&object("1", "a"), object("2", "b"));
        assert_eq!(known(writes.resolve(Arc::new(object("2", "b")))), object("2", "b"));
        assert_eq!(writes.pending(), 0);
    }

    #[test]
    fn a_watch_showing_the_last_write_forgets_it() {
        let writes = OwnWrites::default();
        writes.record(&object("1", "a"), object("2", "b"));
        writes.record(&object("1", "a"), object("3", "c"));
        writes.observe(&object("2", "b"));
        assert_eq!(writes.pending(), 1, "an earlier write seen: the last is still ahead of the store");
        writes.observe(&object("3", "c"));
        assert_eq!(writes.pending(), 0);
        // A reconcile that took version 2 from the store just before the watch showed 3 reads again.
        assert_eq!(writes.resolve(Arc::new(object("2", "b"))), Fresh::Read);
        // A store at the last write takes its own object.
        writes.record(&object("1", "a"), object("2", "b"));
        writes.observe(&object("2", "b"));
        assert_eq!(known(writes.resolve(Arc::new(object("2", "b")))), object("2", "b"));
    }

    #[test]
    fn any_other_version_is_read_again() {
        let writes = OwnWrites::default();
        writes.record(&object("1", "a"), object("3", "b"));
        // Version 2 (someone else's write between ours) or 4 (a later one): not provably older or newer.
        assert_eq!(writes.resolve(Arc::new(object("2", "x"))), Fresh::Read);
        assert_eq!(writes.pending(), 0, "the record is dropped with the read");
    }
}
