//! Parameter manifests (`parameters.json`, `srs-inner-product.json`) and the files a sector size needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sealstack_crds::SectorSize;
use serde::{Deserialize, Serialize};

/// One manifest entry, as go-paramfetch's `paramFile` and rust-fil-proofs' `ParameterData` define it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// IPFS CID of the file; appended to the gateway URL.
    pub cid: String,
    /// BLAKE2b-512 of the file, first 16 bytes, lowercase hex.
    pub digest: String,
    /// Sector size the file is for, in bytes (0 for the SRS).
    pub sector_size: u64,
}

/// A parameters.json-style map from file name to entry.
pub type Manifest = BTreeMap<String, ManifestEntry>;

/// A file to fetch: its name and manifest entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamFile {
    /// File name in the cache directory.
    pub name: String,
    /// Where it comes from and what it must hash to.
    pub entry: ManifestEntry,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    Read {
        /// The manifest's path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The JSON is not a manifest.
    #[error("invalid manifest {origin}: {source}")]
    Parse {
        /// Where the JSON came from.
        origin: String,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// Parses manifest JSON; `origin` names it in errors.
pub fn parse(json: &str, origin: &str) -> Result<Manifest, ManifestError> {
    let manifest: Manifest =
        serde_json::from_str(json).map_err(|source| ManifestError::Parse { origin: origin.to_owned(), source })?;
    Ok(manifest)
}

/// Reads a manifest file.
pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ManifestError::Read { path: path.display().to_string(), source })?;
    parse(&text, &path.display().to_string())
}

/// The official parameters.json, as shipped by rust-fil-proofs (the proofs library sealstack links).
pub fn official_parameters() -> Manifest {
    parse(storage_proofs_core::parameter_cache::PARAMETERS_DATA, "built-in parameters.json")
        .expect("the proofs library ships a valid parameters.json")
}

/// The official srs-inner-product.json, as shipped by rust-fil-proofs.
pub fn official_srs() -> Manifest {
    parse(storage_proofs_core::parameter_cache::SRS_PARAMETERS_DATA, "built-in srs-inner-product.json")
        .expect("the proofs library ships a valid srs-inner-product.json")
}

/// The files needed for `sizes`, as go-paramfetch selects them: the `.params` of those sizes, every
/// `.vk` of any size (they are small) and every SRS entry.
pub fn select(parameters: &Manifest, srs: &Manifest, sizes: &[SectorSize]) -> Vec<ParamFile> {
    let wanted: BTreeSet<u64> = sizes.iter().map(|s| s.bytes()).collect();
    let params =
        parameters.iter().filter(|(name, entry)| !name.ends_with(".params") || wanted.contains(&entry.sector_size));
    params.chain(srs.iter()).map(|(name, entry)| ParamFile { name: name.clone(), entry: entry.clone() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_manifests_cover_every_sector_size() {
        let parameters = official_parameters();
        for size in SectorSize::ALL {
            let params = parameters.iter().filter(|(n, e)| n.ends_with(".params") && e.sector_size == size.bytes());
            assert!(params.count() >= 3, "PoRep, WinningPoSt and WindowPoSt params for {size}");
        }
        assert!(parameters.values().all(|e| e.digest.len() == 32 && e.cid.starts_with("Qm")));
        assert!(official_srs().contains_key("v28-fil-inner-product-v1.srs"));
    }

    #[test]
    fn selection_keeps_the_size_params_every_vk_and_the_srs() {
        let parameters = official_parameters();
        let srs = official_srs();
        let files = select(&parameters, &srs, &[SectorSize::KiB2]);
        let vks = parameters.keys().filter(|n| n.ends_with(".vk")).count();
        let params: Vec<_> = files.iter().filter(|f| f.name.ends_with(".params")).collect();
        assert!(params.iter().all(|f| f.entry.sector_size == 2048));
        assert!(!params.is_empty());
        assert_eq!(files.iter().filter(|f| f.name.ends_with(".vk")).count(), vks);
        assert_eq!(files.iter().filter(|f| f.name.ends_with(".srs")).count(), srs.len());

        let both = select(&parameters, &srs, &[SectorSize::KiB2, SectorSize::GiB32]);
        assert!(both.iter().any(|f| f.name.ends_with(".params") && f.entry.sector_size == 32 << 30));
        assert!(both.len() > files.len());
    }

    #[test]
    fn a_broken_manifest_names_its_origin() {
        let error = parse("{\"x\": {\"cid\": 1}}", "custom.json").unwrap_err().to_string();
        assert!(error.starts_with("invalid manifest custom.json:"), "{error}");
    }
}
