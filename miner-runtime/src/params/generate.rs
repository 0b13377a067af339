//! `params generate`: Groth16 parameters for the small sector sizes, made locally, with a manifest.
//!
//! Devnets use 2KiB or 8MiB sectors, whose official parameters are public but not reachable from every
//! machine; proofs made with locally generated parameters verify only against the same set. This writes the
//! PoRep, WinningPoSt and WindowPoSt `.params` and `.vk` files into a directory together with a
//! `parameters.json` (digests and CIDs), and a devnet aggregation SRS (`v28-fil-inner-product-v1.srs`, the
//! proofs library's own test setup, standing in for Filecoin's trusted setup) listed in `srs-inner-product.json`,
//! so that `params serve` and `fetch-params --manifest` move them exactly as they move the official ones.

use std::path::Path;

use anyhow::Context;
use filecoin_proofs::constants::DefaultPieceHasher;
use filecoin_proofs::parameters::{public_params, window_post_public_params, winning_post_public_params};
use filecoin_proofs::{MerkleTreeTrait, PoRepConfig, PoStConfig};
use filecoin_proofs_api::{RegisteredPoStProof, RegisteredSealProof};
use rand::rngs::OsRng;
use sealstack_crds::SectorSize;
use sha2::{Digest, Sha256};
use storage_proofs_core::compound_proof::CompoundProof;
use storage_proofs_core::parameter_cache::{CacheableParameters, parameter_id, verifying_key_id};
use storage_proofs_porep::stacked::{StackedCircuit, StackedCompound, StackedDrg};
use storage_proofs_post::fallback::{FallbackPoSt, FallbackPoStCircuit, FallbackPoStCompound};

use super::digest::{for_each_chunk, hash_file};
use super::manifest::{Manifest, ManifestEntry};

/// The proof types whose parameters a devnet of this sector size needs.
pub fn proof_types(
    size: SectorSize,
) -> anyhow::Result<(RegisteredSealProof, RegisteredPoStProof, RegisteredPoStProof)> {
    Ok(match size {
        SectorSize::KiB2 => (
            RegisteredSealProof::StackedDrg2KiBV1_1,
            RegisteredPoStProof::StackedDrgWinning2KiBV1,
            RegisteredPoStProof::StackedDrgWindow2KiBV1_2,
        ),
        SectorSize::MiB8 => (
            RegisteredSealProof::StackedDrg8MiBV1_1,
            RegisteredPoStProof::StackedDrgWinning8MiBV1,
            RegisteredPoStProof::StackedDrgWindow8MiBV1_2,
        ),
        other => anyhow::bail!(
            "params generate supports 2KiB and 8MiB: parameters for {other} take far too long to make; fetch the official ones"
        ),
    })
}

/// Generates (or keeps, when present) every parameter file for `size` in `out`, then writes the manifests.
///
/// The proofs library reads its cache directory from `FIL_PROOFS_PARAMETER_CACHE` once per process: the
/// caller must have set it to `out` before any proofs call.
pub fn generate(size: SectorSize, out: &Path) -> anyhow::Result<Manifest> {
    let cache = std::env::var_os("FIL_PROOFS_PARAMETER_CACHE").map(std::path::PathBuf::from);
    anyhow::ensure!(
        cache.as_deref() == Some(out),
        "FIL_PROOFS_PARAMETER_CACHE must be {} before generating (the proofs library writes there)",
        out.display()
    );
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let (seal, winning, window) = proof_types(size)?;
    let mut ids = Vec::new();
    // SectorShape2KiB and SectorShape8MiB are the same tree shape; the configs carry the size.
    type Tree = filecoin_proofs::constants::SectorShapeBase;
    tracing::info!(%size, "generating PoRep parameters (minutes, several GiB of memory)");
    ids.push(porep::<Tree>(&seal.as_v1_config())?);
    tracing::info!(%size, "generating WinningPoSt parameters");
    ids.push(post::<Tree>(&winning.as_v1_config(), true)?);
    tracing::info!(%size, "generating WindowPoSt parameters");
    ids.push(post::<Tree>(&window.as_v1_config(), false)?);

    let mut manifest = existing_manifest(out)?;
    for id in ids {
        for name in [parameter_id(&id), verifying_key_id(&id)] {
            let path = out.join(&name);
            let digest = hash_file(&path).with_context(|| format!("cannot read generated {}", path.display()))?;
            manifest
                .insert(name, ManifestEntry { cid: raw_cid(&path)?, digest: digest.hex(), sector_size: size.bytes() });
        }
    }
    std::fs::write(out.join("parameters.json"), serde_json::to_string_pretty(&manifest)? + "\n")?;
    tracing::info!("generating the devnet aggregation SRS (SnarkPack, up to {AGGREGATION_SRS_PROOFS} proofs)");
    let srs = aggregation_srs::<Tree>(&seal.as_v1_config())?;
    let digest = hash_file(&srs).with_context(|| format!("cannot read generated {}", srs.display()))?;
    let name = srs.file_name().and_then(|n| n.to_str()).context("SRS file name")?.to_owned();
    let srs_manifest =
        Manifest::from([(name, ManifestEntry { cid: raw_cid(&srs)?, digest: digest.hex(), sector_size: 0 })]);
    std::fs::write(out.join("srs-inner-product.json"), serde_json::to_string_pretty(&srs_manifest)? + "\n")?;
    Ok(manifest)
}

/// Proofs the devnet SRS can aggregate: builtin-actors' most (819), padded to a power of two as
/// `aggregate_seal_commit_proofs` pads them.
pub const AGGREGATION_SRS_PROOFS: usize = 1024;

/// Makes (or keeps) the SnarkPack SRS in the parameter cache with the proofs library's test setup
/// (`setup_fake_srs`: random powers known to this process only, so aggregates verify only against this file);
/// returns its path.
fn aggregation_srs<Tree: 'static + MerkleTreeTrait>(config: &PoRepConfig) -> anyhow::Result<std::path::PathBuf> {
    type Compound<T> = StackedCompound<T, DefaultPieceHasher>;
    let public = public_params::<Tree>(config)?;
    <Compound<Tree> as CompoundProof<StackedDrg<'_, Tree, DefaultPieceHasher>, _>>::srs_key(
        Some(&mut OsRng),
        &public,
        AGGREGATION_SRS_PROOFS,
    )?;
    let id =
        <Compound<Tree> as CacheableParameters<StackedCircuit<Tree, DefaultPieceHasher>, _>>::cache_identifier(&public);
    Ok(storage_proofs_core::parameter_cache::parameter_cache_srs_key_path(&id, AGGREGATION_SRS_PROOFS))
}

/// The manifest already in `out` (another size generated earlier), or an empty one.
fn existing_manifest(out: &Path) -> anyhow::Result<Manifest> {
    let path = out.join("parameters.json");
    if path.exists() { Ok(super::manifest::read(&path)?) } else { Ok(Manifest::new()) }
}

fn porep<Tree: 'static + MerkleTreeTrait>(config: &PoRepConfig) -> anyhow::Result<String> {
    type Compound<T> = StackedCompound<T, DefaultPieceHasher>;
    let public = public_params::<Tree>(config)?;
    <Compound<Tree> as CompoundProof<StackedDrg<'_, Tree, DefaultPieceHasher>, _>>::groth_params(
        Some(&mut OsRng),
        &public,
    )?;
    <Compound<Tree> as CompoundProof<StackedDrg<'_, Tree, DefaultPieceHasher>, _>>::verifying_key(
        Some(&mut OsRng),
        &public,
    )?;
    Ok(<Compound<Tree> as CacheableParameters<StackedCircuit<Tree, DefaultPieceHasher>, _>>::cache_identifier(&public))
}

fn post<Tree: 'static + MerkleTreeTrait>(config: &PoStConfig, winning: bool) -> anyhow::Result<String> {
    let public =
        if winning { winning_post_public_params::<Tree>(config)? } else { window_post_public_params::<Tree>(config)? };
    type Compound<T> = FallbackPoStCompound<T>;
    <Compound<Tree> as CompoundProof<FallbackPoSt<'_, Tree>, FallbackPoStCircuit<Tree>>>::groth_params(
        Some(&mut OsRng),
        &public,
    )?;
    <Compound<Tree> as CompoundProof<FallbackPoSt<'_, Tree>, FallbackPoStCircuit<Tree>>>::verifying_key(
        Some(&mut OsRng),
        &public,
    )?;
    Ok(<Compound<Tree> as CacheableParameters<FallbackPoStCircuit<Tree>, _>>::cache_identifier(&public))
}

/// A CIDv1 (raw codec, sha2-256) of the file's bytes: a real content address, unique per file, that the
/// local gateway resolves through the manifest.
fn raw_cid(path: &Path) -> anyhow::Result<String> {
    let mut hasher = Sha256::new();
    for_each_chunk(path, |chunk| hasher.update(chunk))?;
    const RAW: u64 = 0x55;
    const SHA2_256: u64 = 0x12;
    let hash = cid::multihash::Multihash::<64>::wrap(SHA2_256, &hasher.finalize())?;
    Ok(cid::Cid::new_v1(RAW, hash).to_string())
}
