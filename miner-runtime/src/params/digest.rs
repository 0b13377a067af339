//! The parameter digest: BLAKE2b-512, truncated to its first 16 bytes, as lowercase hex.
//!
//! go-paramfetch (`blake2b.New512`, `hex(sum[:16])`) and rust-fil-proofs (`blake2b_simd::State::new()`,
//! `to_hex()[..32]`) both truncate the 512-bit digest; that differs from BLAKE2b with a 16-byte output.

use std::io::Read;
use std::path::Path;

/// An incremental digest, fed while a file is downloaded or read.
#[derive(Clone, Default)]
pub struct ParamDigest {
    state: blake2b_simd::State,
}

impl ParamDigest {
    /// A digest of nothing yet.
    pub fn new() -> Self {
        Self { state: blake2b_simd::State::new() }
    }

    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.state.update(bytes);
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u128 {
        self.state.count()
    }

    /// Whether nothing was hashed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The manifest form: 32 hex characters.
    pub fn hex(&self) -> String {
        self.state.finalize().to_hex()[..32].to_owned()
    }
}

/// Hashes a whole file, returning the digest state (to continue a resumed download) and its length.
pub fn hash_file(path: &Path) -> std::io::Result<ParamDigest> {
    let mut digest = ParamDigest::new();
    for_each_chunk(path, |chunk| digest.update(chunk))?;
    Ok(digest)
}

/// Reads a file from start to end in 1 MiB chunks, handing each to `consume`.
pub fn for_each_chunk(path: &Path, mut consume: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        consume(&buffer[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_the_truncated_512_bit_blake2b() {
        // BLAKE2b-512("abc") from RFC 7693 appendix A begins ba80a53f981c4d0d6a2797b69f12f6e9.
        let mut digest = ParamDigest::new();
        digest.update(b"a");
        digest.update(b"bc");
        assert_eq!(digest.hex(), "ba80a53f981c4d0d6a2797b69f12f6e9");
        assert_eq!(digest.len(), 3);
    }
}
