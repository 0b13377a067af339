//! The small digests the operator computes: hex of bytes (content digests in names and annotations) and the
//! in-memory hash its trigger predicates compare.

use std::hash::{DefaultHasher, Hash, Hasher};

/// `bytes` in lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash a trigger predicate compares (`predicate_filter` passes an object when it changes).
pub fn hash(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_and_two_digits_a_byte() {
        assert_eq!(super::hex(&[0, 0xab, 7]), "00ab07");
    }
}
