use std::path::{Path, PathBuf};

use bytes::Bytes;
use fvm_shared::sector::RegisteredSealProof;

use super::*;

const MINER: u64 = 1000;
/// A sector size whose finalized estimate (9 bytes) is close to what [`store_sector`] uploads (10 bytes).
const SIZE: u64 = 8;

fn sector(number: u64) -> SectorRef {
    SectorRef { miner: MINER, number, proof: RegisteredSealProof::StackedDRG2KiBV1P1 }
}

fn body(text: &'static str) -> http_body_util::Full<Bytes> {
    http_body_util::Full::new(Bytes::from(text))
}

/// Uploads and finalizes sector `number` (10 bytes of files) through the endpoints' path.
async fn store_sector(storage: &Storage, number: u64) {
    let task = format!("t{number}");
    storage.receive(&task, "sealed", body("replica!")).await.unwrap();
    storage.receive(&task, "cache/p_aux", body("p")).await.unwrap();
    storage.receive(&task, "cache/t_aux", body("t")).await.unwrap();
    storage.finalize(&task, &sector(number)).unwrap();
}

/// Which store (by directory) holds each of `numbers`.
fn holders(storage: &Storage, numbers: std::ops::Range<u64>) -> Vec<PathBuf> {
    numbers.map(|n| storage.files(&sector(n)).sealed.parent().unwrap().parent().unwrap().to_path_buf()).collect()
}

fn attached(path: &Path, weight: u64, max_bytes: u64) -> StoreConfig {
    StoreConfig { path: path.to_path_buf(), weight, max_bytes }
}

#[test]
fn paths_are_confined_to_the_stores() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(MINER, SIZE, dir.path(), &[]).unwrap();
    let root = dir.path();
    assert_eq!(storage.stored("sealed/s-t01000-0"), Some(root.join("sealed/s-t01000-0")));
    assert_eq!(storage.stored("cache/s-t01000-0/p_aux"), Some(root.join("cache/s-t01000-0/p_aux")));
    assert_eq!(storage.stored("cache/../etc/passwd"), None);
    assert_eq!(storage.stored("sealed/.."), None);
    assert_eq!(storage.stored("unsealed/x"), None);
    assert!(kept_in_cache("tree-r-last.dat") && !kept_in_cache("sc-02-data-layer-1.dat"));
}

#[tokio::test]
async fn a_finalize_upload_is_moved_into_place_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(MINER, SIZE, dir.path(), &[]).unwrap();
    storage.receive("t1", "sealed", body("replica")).await.unwrap();
    storage.receive("t1", "cache/p_aux", body("p")).await.unwrap();
    assert!(storage.receive("t1", "cache/../x", body("")).await.is_err());
    assert!(storage.finalize("t1", &sector(3)).unwrap_err().to_string().contains("t_aux"), "incomplete");
    assert!(!storage.holds(&sector(3)));
    storage.receive("t1", "cache/t_aux", body("t")).await.unwrap();
    storage.finalize("t1", &sector(3)).unwrap();
    assert!(storage.holds(&sector(3)));
    assert_eq!(std::fs::read(storage.files(&sector(3)).sealed).unwrap(), b"replica");
    assert!(!dir.path().join("incoming/t1").exists());
}

#[tokio::test]
async fn sectors_spread_over_the_stores_by_weight() {
    let dir = tempfile::tempdir().unwrap();
    let (default, heavy) = (dir.path().join("default"), dir.path().join("heavy"));
    std::fs::create_dir_all(&heavy).unwrap();
    // The default store weighs 10, the attached one 20: of 6 sectors of equal size it takes 4.
    let storage = Storage::open(MINER, SIZE, &default, &[attached(&heavy, 20, 0)]).unwrap();
    for number in 0..6 {
        store_sector(&storage, number).await;
    }
    let held = holders(&storage, 0..6);
    assert_eq!(held.iter().filter(|p| **p == heavy).count(), 4, "{held:?}");
    let stats = storage.stats();
    assert_eq!(stats.iter().map(|s| s.usage.sectors.len()).collect::<Vec<_>>(), [2, 4]);
    assert!(stats.iter().all(|s| s.usage.used > 0 && s.usage.capacity > 0 && !s.usage.missing));
    assert_eq!(stats[1].stat().weight, 20);
    // Opened again (a restart), the index is read from the stores.
    let again = Storage::open(MINER, SIZE, &default, &[attached(&heavy, 20, 0)]).unwrap();
    assert_eq!(holders(&again, 0..6), held);
}

#[tokio::test]
async fn a_full_store_takes_no_sector_and_the_next_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let (default, small) = (dir.path().join("default"), dir.path().join("small"));
    std::fs::create_dir_all(&small).unwrap();
    // The attached store weighs more but may hold one sector's bytes only.
    let one = 15;
    let storage = Storage::open(MINER, SIZE, &default, &[attached(&small, 100, one)]).unwrap();
    store_sector(&storage, 0).await;
    store_sector(&storage, 1).await;
    store_sector(&storage, 2).await;
    assert_eq!(holders(&storage, 0..3), [small.clone(), default.clone(), default.clone()]);
    // With every store full, an upload is refused naming each store's room.
    let storage = Storage::open(MINER, SIZE, &small, &[]).unwrap();
    let limited = Storage { stores: vec![Store::attach(&attached(&small, 10, one)).unwrap()], ..storage };
    let refused = limited.receive("t9", "sealed", body("replica")).await.unwrap_err();
    assert!(refused.contains("no long-term store has room"), "{refused}");
}

#[tokio::test]
async fn a_store_that_disappears_loses_its_sectors_and_takes_no_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (default, gone) = (dir.path().join("default"), dir.path().join("gone"));
    std::fs::create_dir_all(&gone).unwrap();
    let storage = Storage::open(MINER, SIZE, &default, &[attached(&gone, 1000, 0)]).unwrap();
    store_sector(&storage, 0).await;
    assert_eq!(holders(&storage, 0..1), [gone.as_path()]);
    // The volume is unmounted: the sector's files are not readable (the proving check fails it), nothing crashes,
    // and the next sector goes to the default store.
    std::fs::remove_dir_all(&gone).unwrap();
    assert!(!storage.holds(&sector(0)) && !storage.files(&sector(0)).sealed.exists());
    store_sector(&storage, 1).await;
    assert_eq!(holders(&storage, 1..2), [default.as_path()]);
    let stats = storage.redeclare();
    assert!(stats[1].usage.missing && stats[1].usage.sectors.is_empty());
    assert!(!gone.exists(), "a missing store's directory is not made again");
}

#[tokio::test]
async fn redeclare_finds_sectors_moved_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let (default, other) = (dir.path().join("default"), dir.path().join("other"));
    std::fs::create_dir_all(&other).unwrap();
    let storage = Storage::open(MINER, SIZE, &default, &[attached(&other, 1, 0)]).unwrap();
    store_sector(&storage, 0).await;
    assert_eq!(holders(&storage, 0..1), [default.as_path()]);
    let (from, to) = (storage.files(&sector(0)), SectorFiles::new(&other, &sector(0)));
    to.create_dirs().unwrap();
    std::fs::rename(&from.sealed, &to.sealed).unwrap();
    std::fs::rename(&from.cache, &to.cache).unwrap();
    assert!(!storage.holds(&sector(0)), "the index still names the old store");
    storage.redeclare();
    assert!(storage.holds(&sector(0)));
    assert_eq!(holders(&storage, 0..1), [other]);
}
