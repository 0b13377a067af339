//! Chain values as they appear in specs: Filecoin addresses, attoFIL amounts and multiaddrs.
//!
//! These are strings on the wire, with a schema pattern so that the API server refuses malformed values.
//! Full decoding (checksums, key types) happens in `sealstack-chain`; the patterns catch what a schema can.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Pattern of a Filecoin address on mainnet (`f`) or a test network (`t`): ID (`f0`), secp256k1 (`f1`),
/// actor (`f2`), BLS (`f3`) or delegated (`f4`), with the lengths the protocols give (base32, no padding).
pub const ADDRESS_PATTERN: &str = "^[ft](0[0-9]{1,20}|[12][a-z2-7]{39}|3[a-z2-7]{84}|4[0-9]{1,20}f[a-z2-7]{1,110})$";

/// Pattern of an attoFIL amount: a non-negative decimal integer (Lotus's BigInt string).
pub const ATTO_FIL_PATTERN: &str = "^(0|[1-9][0-9]{0,39})$";

/// Pattern of a multiaddr a miner can announce: an IP or DNS host and a TCP or UDP port, then any suffix.
pub const MULTIADDR_PATTERN: &str = "^/(ip4/[0-9.]{7,15}|ip6/[0-9a-fA-F:.]{2,45}|dns/[^/]{1,253}|dns4/[^/]{1,253}|dns6/[^/]{1,253})/(tcp|udp)/[0-9]{1,5}(/.*)?$";

macro_rules! pattern_string {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $max:expr, $description:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The value as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "description": $description,
                    "pattern": $pattern,
                    "maxLength": $max,
                })
            }
        }
    };
}

pattern_string!(
    /// A Filecoin address (`f01234`, `t3...`).
    Address,
    ADDRESS_PATTERN,
    140,
    "Filecoin address: f0/t0 ID, f1/t1 secp256k1, f2/t2 actor, f3/t3 BLS or f4/t4 delegated."
);

pattern_string!(
    /// An amount of attoFIL (10^-18 FIL), as a decimal string.
    AttoFil,
    ATTO_FIL_PATTERN,
    40,
    "Amount in attoFIL (10^-18 FIL), a decimal integer string."
);

pattern_string!(
    /// A multiaddr such as `/ip4/203.0.113.7/tcp/24001`.
    Multiaddr,
    MULTIADDR_PATTERN,
    1024,
    "Multiaddr with an ip4, ip6, dns, dns4 or dns6 host and a tcp or udp port, e.g. /ip4/203.0.113.7/tcp/24001."
);

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, value: &str) -> bool {
        // The patterns are plain ECMA/RE2-compatible regexes; test them with the same engine family the
        // API server uses for `pattern` (RE2 semantics; `regex` is RE2-like).
        regex_lite::Regex::new(pattern).unwrap().is_match(value)
    }

    #[test]
    fn address_pattern_accepts_each_protocol() {
        let good = [
            "f01234",
            "t01000",
            "f1ds7epzh26mamivk7ptgpcuvtyu5eoo3i7sy4kwy", // blake2b-160 payload + blake2b-32 checksum, base32
            "f2g4jm5gci7wazfdhm6vswmjjbmnmlmhxpgkldw5y", // shared/notes/lotus-api.md, CreateMinerReturn
            "t3aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypsaijcemsckjrhfausukzmfuxc7xayzmkq", // 48-byte key
            "f410fkkld55ioe7qg24wvt7fu6pbknb56ht7pt4zamxa",
        ];
        for a in good {
            assert!(matches(ADDRESS_PATTERN, a), "{a}");
        }
        let bad = [
            "",
            "f",
            "x01234",
            "F01234",
            "f0",
            "f1abc",
            "f3short",
            "f5abc",
            "f0123a",
            "t1DS7EPZH26MAMIVK7PTGPCUVTYU5EOO3I7SY4KWY",
        ];
        for a in bad {
            assert!(!matches(ADDRESS_PATTERN, a), "{a}");
        }
    }

    #[test]
    fn amount_and_multiaddr_patterns() {
        assert!(matches(ATTO_FIL_PATTERN, "0"));
        assert!(matches(ATTO_FIL_PATTERN, "1000000000000000000"));
        for bad in ["", "-1", "01", "1.5", "1e18", "1 FIL"] {
            assert!(!matches(ATTO_FIL_PATTERN, bad), "{bad}");
        }
        for good in ["/ip4/203.0.113.7/tcp/24001", "/dns4/miner.example.org/tcp/443/wss", "/ip6/::1/udp/24001/quic-v1"]
        {
            assert!(matches(MULTIADDR_PATTERN, good), "{good}");
        }
        for bad in ["203.0.113.7:24001", "/ip4/203.0.113.7", "/unix/tmp/sock", "/ip4/1.2.3.4/sctp/5"] {
            assert!(!matches(MULTIADDR_PATTERN, bad), "{bad}");
        }
    }
}
