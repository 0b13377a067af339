//! Lotus's JSON encodings of Filecoin values, which differ from their CBOR forms: addresses as `f`/`t`
//! strings, token amounts as decimal attoFIL strings, CIDs as `{"/": "bafy..."}`, bytes as padded base64.
//!
//! [`LotusJson<T>`] wraps a value from `fvm_shared`/`cid` and gives it the Lotus JSON form, so API types
//! keep the well-kept upstream types inside and the wire format outside.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cid::Cid;
use fvm_shared::address::{Address, Network};
use fvm_shared::econ::TokenAmount;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value in its Lotus JSON form; `Deref`s to the value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct LotusJson<T>(pub T);

impl<T> LotusJson<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for LotusJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for LotusJson<T> {
    fn from(value: T) -> Self {
        LotusJson(value)
    }
}

/// An amount as Lotus prints one (`types.FIL`'s String): FIL with no trailing zeros, and the unit
/// (`5 FIL`, `0.5 FIL`, `0.000000000000000001 FIL`).
pub fn format_fil(amount: &TokenAmount) -> String {
    let text = amount.to_string();
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { text.as_str() };
    format!("{text} FIL")
}

/// Parses an address in either network's text form (`f...` or `t...`), as go-address does.
pub fn parse_address(text: &str) -> Result<Address, fvm_shared::address::Error> {
    Network::Testnet.parse_address(text).or_else(|_| Network::Mainnet.parse_address(text))
}

/// Formats an address with the prefix of `network` (Lotus devnets and test networks use `t`).
pub fn format_address(address: &Address, network: Network) -> String {
    let text = address.to_string();
    let prefix = match network {
        Network::Mainnet => "f",
        Network::Testnet => "t",
    };
    format!("{prefix}{}", &text[1..])
}

impl Serialize for LotusJson<Address> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for LotusJson<Address> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_address(&text).map(LotusJson).map_err(|e| D::Error::custom(format!("invalid address {text:?}: {e}")))
    }
}

impl Serialize for LotusJson<TokenAmount> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.atto().to_string())
    }
}

impl<'de> Deserialize<'de> for LotusJson<TokenAmount> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        fvm_shared::bigint::BigInt::from_str(&text)
            .map(|atto| LotusJson(TokenAmount::from_atto(atto)))
            .map_err(|e| D::Error::custom(format!("invalid attoFIL amount {text:?}: {e}")))
    }
}

/// The `{"/": "..."}` object Lotus uses for a CID.
#[derive(Serialize, Deserialize)]
struct CidLink {
    #[serde(rename = "/")]
    link: String,
}

impl Serialize for LotusJson<Cid> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CidLink { link: self.0.to_string() }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for LotusJson<Cid> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let CidLink { link } = CidLink::deserialize(d)?;
        Cid::try_from(link.as_str()).map(LotusJson).map_err(|e| D::Error::custom(format!("invalid CID {link:?}: {e}")))
    }
}

/// Bytes: padded standard base64; Go's nil slice is `null`, read back as empty.
impl Serialize for LotusJson<Vec<u8>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_empty() { s.serialize_none() } else { s.serialize_str(&BASE64.encode(&self.0)) }
    }
}

impl<'de> Deserialize<'de> for LotusJson<Vec<u8>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(LotusJson(Vec::new())),
            Some(text) => {
                BASE64.decode(&text).map(LotusJson).map_err(|e| D::Error::custom(format!("invalid base64: {e}")))
            }
        }
    }
}

impl fmt::Display for LotusJson<Address> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An address field that Go holds as a plain `address.Address` (not a pointer), such as `MinerInfo.NewWorker`:
/// without a value it is `address.Undef`, which go-address writes as `"<empty>"` (`UndefAddressString`), not
/// `null`. For `#[serde(with = "undef_address")]` on an `Option<LotusJson<Address>>`: `"<empty>"` (or `null`)
/// reads as `None`, and `None` is written as `"<empty>"`, as Lotus does.
pub mod undef_address {
    use super::*;

    /// go-address's `UndefAddressString`.
    pub const UNDEF: &str = "<empty>";

    /// Writes `None` as `"<empty>"`.
    pub fn serialize<S: Serializer>(value: &Option<LotusJson<Address>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(address) => address.serialize(s),
            None => s.serialize_str(UNDEF),
        }
    }

    /// Reads `"<empty>"` and `null` as `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LotusJson<Address>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) if text == UNDEF => Ok(None),
            Some(text) => parse_address(&text)
                .map(|a| Some(LotusJson(a)))
                .map_err(|e| D::Error::custom(format!("invalid address {text:?}: {e}"))),
        }
    }
}

/// A tipset key: the CIDs of its blocks. Empty (`[]`, or `null` on input) means the current head.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TipSetKey(#[serde(deserialize_with = "null_as_empty")] pub Vec<LotusJson<Cid>>);

impl TipSetKey {
    /// The empty key, which every state method reads as "at the current head".
    pub fn head() -> Self {
        TipSetKey(Vec::new())
    }
}

impl fmt::Display for TipSetKey {
    /// As Lotus prints a key: `{cid,cid}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cids: Vec<String> = self.0.iter().map(|c| c.0.to_string()).collect();
        write!(f, "{{{}}}", cids.join(","))
    }
}

/// Reads Go's nil slice (`null`) as an empty list (`#[serde(deserialize_with = ...)]`).
pub(crate) fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Writes an absent or empty list as `null`, as Go writes a nil slice (`#[serde(serialize_with = ...)]` on an
/// `Option<Vec<T>>`): Lotus's StateMinerInfo has `"ControlAddresses": null` and `"Multiaddrs": null` for a new
/// miner, not `[]`.
pub(crate) fn empty_as_null<S: Serializer, T: Serialize>(value: &Option<Vec<T>>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(list) if !list.is_empty() => list.serialize(s),
        _ => s.serialize_none(),
    }
}

/// A list that Lotus writes as `null` when it is empty (a Go nil slice), as StateMinerPartitions does for a
/// deadline without partitions: `null` reads as empty and empty is written as `null`. Derefs to the `Vec`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NilVec<T>(pub Vec<T>);

impl<T> Deref for NilVec<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> std::ops::DerefMut for NilVec<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T> From<Vec<T>> for NilVec<T> {
    fn from(list: Vec<T>) -> Self {
        NilVec(list)
    }
}

impl<T> From<NilVec<T>> for Vec<T> {
    fn from(list: NilVec<T>) -> Self {
        list.0
    }
}

impl<T> FromIterator<T> for NilVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        NilVec(iter.into_iter().collect())
    }
}

impl<T> IntoIterator for NilVec<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a NilVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Serialize> Serialize for NilVec<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_empty() { s.serialize_none() } else { self.0.serialize(s) }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NilVec<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        null_as_empty(d).map(NilVec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fil_prints_like_lotus() {
        assert_eq!(format_fil(&TokenAmount::from_whole(5)), "5 FIL");
        assert_eq!(format_fil(&TokenAmount::from_nano(500_000_000u64)), "0.5 FIL");
        assert_eq!(format_fil(&TokenAmount::from_atto(1)), "0.000000000000000001 FIL");
        assert_eq!(format_fil(&TokenAmount::from_atto(0)), "0 FIL");
        assert_eq!(format_fil(&-TokenAmount::from_whole(2)), "-2 FIL");
    }
    use serde_json::json;

    #[test]
    fn address_accepts_both_prefixes_and_prints_the_current_network() {
        let f: LotusJson<Address> = serde_json::from_value(json!("f01234")).unwrap();
        let t: LotusJson<Address> = serde_json::from_value(json!("t01234")).unwrap();
        assert_eq!(f, t);
        assert_eq!(f.id().unwrap(), 1234);
        assert_eq!(format_address(&f, Network::Testnet), "t01234");
        assert_eq!(format_address(&f, Network::Mainnet), "f01234");
        let err = serde_json::from_value::<LotusJson<Address>>(json!("x01234")).unwrap_err().to_string();
        assert!(err.contains("invalid address \"x01234\""), "{err}");
    }

    #[test]
    fn token_amounts_are_decimal_attofil_strings() {
        let amount = LotusJson(TokenAmount::from_whole(10_000));
        assert_eq!(serde_json::to_value(&amount).unwrap(), json!("10000000000000000000000"));
        let back: LotusJson<TokenAmount> = serde_json::from_value(json!("5937181320")).unwrap();
        assert_eq!(back.atto().to_string(), "5937181320");
        assert!(serde_json::from_value::<LotusJson<TokenAmount>>(json!("1.5")).is_err());
    }

    #[test]
    fn cids_are_slash_links() {
        // The CID from Lotus's api-methods-v1-stable.md examples.
        let text = "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4";
        let cid: LotusJson<Cid> = serde_json::from_value(json!({ "/": text })).unwrap();
        assert_eq!(cid.codec(), fvm_ipld_encoding::DAG_CBOR);
        assert_eq!(serde_json::to_value(&cid).unwrap(), json!({ "/": text }));
    }

    #[test]
    fn bytes_are_base64_and_nil_is_null() {
        // "Ynl0ZSBhcnJheQ==" is Lotus's doc example for a byte array ("byte array").
        let bytes: LotusJson<Vec<u8>> = serde_json::from_value(json!("Ynl0ZSBhcnJheQ==")).unwrap();
        assert_eq!(bytes.as_slice(), b"byte array");
        assert_eq!(serde_json::to_value(LotusJson(Vec::<u8>::new())).unwrap(), json!(null));
        let empty: LotusJson<Vec<u8>> = serde_json::from_value(json!(null)).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn an_undefined_address_is_empty_in_angle_brackets() {
        #[derive(Serialize, Deserialize)]
        struct Info {
            #[serde(rename = "NewWorker", with = "undef_address")]
            new_worker: Option<LotusJson<Address>>,
        }
        // Lotus v1.36.2's StateMinerInfo of a miner with no pending worker change (seen on e2e/lotus's oracle).
        let none: Info = serde_json::from_value(json!({"NewWorker": "<empty>"})).unwrap();
        assert!(none.new_worker.is_none());
        assert_eq!(serde_json::to_value(&none).unwrap(), json!({"NewWorker": "<empty>"}));
        let null: Info = serde_json::from_value(json!({"NewWorker": null})).unwrap();
        assert!(null.new_worker.is_none());
        let some: Info = serde_json::from_value(json!({"NewWorker": "t01234"})).unwrap();
        assert_eq!(some.new_worker.unwrap().id().unwrap(), 1234);
        assert!(serde_json::from_value::<Info>(json!({"NewWorker": "<nope>"})).is_err());
    }

    #[test]
    fn nil_lists_are_null() {
        let none: NilVec<u64> = serde_json::from_value(json!(null)).unwrap();
        assert!(none.is_empty());
        assert_eq!(serde_json::to_value(&none).unwrap(), json!(null));
        let some: NilVec<u64> = serde_json::from_value(json!([1, 2])).unwrap();
        assert_eq!(some.iter().sum::<u64>(), 3);
        assert_eq!(serde_json::to_value(&some).unwrap(), json!([1, 2]));
        assert_eq!(Vec::from(some).len(), 2);
    }

    #[test]
    fn tipset_key_reads_null_as_head() {
        let key: TipSetKey = serde_json::from_value(json!(null)).unwrap();
        assert_eq!(key, TipSetKey::head());
        assert_eq!(serde_json::to_value(TipSetKey::head()).unwrap(), json!([]));
    }
}
