//! Filecoin sector sizes, parsed the way Lotus parses them.

use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One of the five sector sizes the Filecoin proofs support.
///
/// Parsing follows Lotus (`units.RAMInBytes`, then a check against the supported sizes): a number with an
/// optional binary unit, case-insensitive, so `2KiB`, `2k`, `2 kib` and `2048` all mean 2 KiB. Written back
/// in its canonical form (`2KiB`, `32GiB`), which is also the only form the CRD schema accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SectorSize {
    /// 2 KiB: devnets and tests only.
    KiB2,
    /// 8 MiB: devnets and tests only.
    MiB8,
    /// 512 MiB: test networks.
    MiB512,
    /// 32 GiB: mainnet.
    GiB32,
    /// 64 GiB: mainnet.
    GiB64,
}

/// Why a string is not a sector size.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SectorSizeError {
    /// Not a size at all.
    #[error("invalid sector size {0:?}: expected a size such as 2KiB or 32GiB")]
    Malformed(String),
    /// A size, but not one Filecoin supports.
    #[error("unsupported sector size {0:?}: supported sizes are 2KiB, 8MiB, 512MiB, 32GiB and 64GiB")]
    Unsupported(String),
}

impl SectorSize {
    /// All supported sizes, smallest first.
    pub const ALL: [SectorSize; 5] = [Self::KiB2, Self::MiB8, Self::MiB512, Self::GiB32, Self::GiB64];

    /// The size in bytes.
    pub const fn bytes(self) -> u64 {
        match self {
            Self::KiB2 => 2 << 10,
            Self::MiB8 => 8 << 20,
            Self::MiB512 => 512 << 20,
            Self::GiB32 => 32 << 30,
            Self::GiB64 => 64 << 30,
        }
    }

    /// The canonical spelling, as Lotus prints it (`2KiB`, `32GiB`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::KiB2 => "2KiB",
            Self::MiB8 => "8MiB",
            Self::MiB512 => "512MiB",
            Self::GiB32 => "32GiB",
            Self::GiB64 => "64GiB",
        }
    }

    /// The supported size with exactly this many bytes.
    pub fn from_bytes(bytes: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.bytes() == bytes)
    }
}

/// Parses `<number>[ ]<k|m|g|t|p>[i][b]` (case-insensitive, binary multiples) into bytes, as go-units'
/// `RAMInBytes` does for Lotus. Fractions are accepted when they give a whole number of bytes.
fn parse_ram_in_bytes(input: &str) -> Option<u64> {
    let s = input.trim();
    let digits_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') || number.matches('.').count() > 1 {
        return None;
    }
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u64 = whole.parse().ok()?;
    let mut bytes = whole.checked_shl(shift).filter(|b| b >> shift == whole)?;
    if !fraction.is_empty() {
        let numerator: u64 = fraction.parse().ok()?;
        let denominator = 10u64.checked_pow(u32::try_from(fraction.len()).ok()?)?;
        let scaled = u128::from(numerator) << shift;
        if scaled % u128::from(denominator) != 0 {
            return None;
        }
        bytes = bytes.checked_add(u64::try_from(scaled / u128::from(denominator)).ok()?)?;
    }
    Some(bytes)
}

impl FromStr for SectorSize {
    type Err = SectorSizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = parse_ram_in_bytes(s).ok_or_else(|| SectorSizeError::Malformed(s.to_owned()))?;
        Self::from_bytes(bytes).ok_or_else(|| SectorSizeError::Unsupported(s.to_owned()))
    }
}

impl fmt::Display for SectorSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SectorSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SectorSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for SectorSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SectorSize".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Sector size: one of 2KiB, 8MiB (devnets), 512MiB, 32GiB, 64GiB.",
            "enum": Self::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lotus_spellings_parse_to_the_same_size() {
        for s in ["2KiB", "2kib", "2k", "2KB", "2 KiB", "2048", "0.001953125MiB"] {
            assert_eq!(s.parse::<SectorSize>(), Ok(SectorSize::KiB2), "{s}");
        }
        for s in ["32GiB", "32G", "32gib", "34359738368", "0.03125TiB"] {
            assert_eq!(s.parse::<SectorSize>(), Ok(SectorSize::GiB32), "{s}");
        }
        assert_eq!("512MiB".parse::<SectorSize>(), Ok(SectorSize::MiB512));
        assert_eq!("8MiB".parse::<SectorSize>(), Ok(SectorSize::MiB8));
        assert_eq!("64GiB".parse::<SectorSize>(), Ok(SectorSize::GiB64));
    }

    #[test]
    fn unsupported_and_malformed_sizes_are_told_apart() {
        assert_eq!("3GiB".parse::<SectorSize>(), Err(SectorSizeError::Unsupported("3GiB".into())));
        assert_eq!("1024".parse::<SectorSize>(), Err(SectorSizeError::Unsupported("1024".into())));
        for s in ["", "GiB", "32XiB", "32GiBs", "-2KiB", "1.2.3k", ".5k", "2.k", "99999999999999999999P"] {
            assert_eq!(s.parse::<SectorSize>(), Err(SectorSizeError::Malformed(s.into())), "{s:?}");
        }
        let message = "3GiB".parse::<SectorSize>().unwrap_err().to_string();
        assert!(message.contains("32GiB"), "the error lists the supported sizes: {message}");
    }

    #[test]
    fn bytes_and_canonical_names_round_trip() {
        assert_eq!(SectorSize::KiB2.bytes(), 2048);
        assert_eq!(SectorSize::GiB64.bytes(), 68_719_476_736);
        for size in SectorSize::ALL {
            assert_eq!(size.as_str().parse::<SectorSize>(), Ok(size));
            assert_eq!(SectorSize::from_bytes(size.bytes()), Some(size));
            let json = serde_json::to_string(&size).unwrap();
            assert_eq!(json, format!("\"{size}\""));
            assert_eq!(serde_json::from_str::<SectorSize>(&json).unwrap(), size);
        }
        assert!(serde_json::from_str::<SectorSize>("\"3GiB\"").is_err());
    }
}
