//! The long-term stores' metrics (prefix `sealstack_miner`), read on each scrape: bytes by kind and sectors per
//! store, and whether a store is missing.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::StoreState;

/// `store` label: the store's directory (one per attached store).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabels {
    /// The store's directory.
    pub store: String,
}

/// `store` and `kind` labels of the byte gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreBytesLabels {
    /// The store's directory.
    pub store: String,
    /// `used` (its sectors' files), `capacity` and `available` (its file system), `room` (what it may still take).
    pub kind: &'static str,
}

/// The stores' metrics.
#[derive(Clone, Default)]
pub struct StorageMetrics {
    bytes: Family<StoreBytesLabels, Gauge>,
    sectors: Family<StoreLabels, Gauge>,
    missing: Family<StoreLabels, Gauge>,
}

impl StorageMetrics {
    /// The metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = StorageMetrics::default();
        registry.register(
            "store_bytes",
            "Long-term stores' bytes by kind (used by sectors, capacity, available, room left within the limit)",
            metrics.bytes.clone(),
        );
        registry.register("store_sectors", "Sectors held by each long-term store", metrics.sectors.clone());
        registry.register(
            "store_missing",
            "1 when a long-term store's directory is gone (its sectors are not readable)",
            metrics.missing.clone(),
        );
        metrics
    }

    /// Sets the gauges from the stores' state.
    pub fn record(&self, stores: &[StoreState]) {
        for state in stores {
            let stat = state.stat();
            let store = stat.path.clone();
            for (kind, value) in
                [("used", stat.used), ("capacity", stat.capacity), ("available", stat.available), ("room", stat.room)]
            {
                let labels = StoreBytesLabels { store: store.clone(), kind };
                self.bytes.get_or_create(&labels).set(i64::try_from(value).unwrap_or(i64::MAX));
            }
            self.sectors.get_or_create(&StoreLabels { store: store.clone() }).set(stat.sectors as i64);
            self.missing.get_or_create(&StoreLabels { store }).set(i64::from(stat.missing));
        }
    }
}
