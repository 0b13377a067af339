//! The devnet's wallet: secp256k1 and BLS keys that sign exactly as a Lotus wallet does.
//!
//! - secp256k1: the private key is a 32-byte big-endian scalar; the public key is the 65-byte
//!   uncompressed point; the address is `f1`/`t1` over that point; a signature is ECDSA over the
//!   blake2b-256 digest of the data, 65 bytes `r || s || v` with the recovery id `v` (0 or 1) last.
//! - BLS (BLS12-381, G1 public keys): the private key is the 32-byte little-endian scalar that
//!   `bls-signatures` (and so filecoin-ffi) serialises; the public key is the 48-byte compressed G1
//!   point; the address is `f3`/`t3` over it; a signature is the 96-byte G2 point over the raw data.
//!
//! Keys travel as Lotus `KeyInfo` JSON: `{"Type":"bls","PrivateKey":"<standard padded base64>"}`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bls_signatures::Serialize as _;
use fvm_shared::address::{Address, Network, Protocol};
use fvm_shared::crypto::signature::{BLS_PUB_LEN, BLS_SIG_LEN, SECP_PUB_LEN, SECP_SIG_LEN, Signature, SignatureType};
use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Errors from key handling, signing and verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// The wallet holds no key for this address.
    #[error("key not found for {0}")]
    KeyNotFound(Address),
    /// A key type name that is neither `secp256k1` nor `bls`.
    #[error("unknown key type {0:?} (expected \"secp256k1\" or \"bls\")")]
    UnknownKeyType(String),
    /// Private key bytes that do not make a key of the given type.
    #[error("invalid {key_type} private key: {reason}")]
    InvalidPrivateKey {
        /// The type the key claimed to be.
        key_type: KeyType,
        /// Why it was rejected.
        reason: String,
    },
    /// A signature that the claimed signer did not make over the data, or that is malformed.
    #[error("invalid signature by {signer}: {reason}")]
    InvalidSignature {
        /// The address that supposedly signed.
        signer: Address,
        /// Why the check failed.
        reason: String,
    },
}

/// The kind of a wallet key, named as Lotus names it (`WalletNew`, `KeyInfo.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// ECDSA over secp256k1; `f1`/`t1` addresses.
    Secp256k1,
    /// BLS12-381 with G1 public keys; `f3`/`t3` addresses.
    Bls,
}

impl KeyType {
    /// The Lotus name: `"secp256k1"` or `"bls"`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Secp256k1 => "secp256k1",
            KeyType::Bls => "bls",
        }
    }

    /// The signature type that keys of this type produce.
    pub fn signature_type(self) -> SignatureType {
        match self {
            KeyType::Secp256k1 => SignatureType::Secp256k1,
            KeyType::Bls => SignatureType::BLS,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = WalletError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "secp256k1" => Ok(KeyType::Secp256k1),
            "bls" => Ok(KeyType::Bls),
            other => Err(WalletError::UnknownKeyType(other.to_owned())),
        }
    }
}

impl Serialize for KeyType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KeyType {
    /// Accepts the names, and also the legacy numeric signature types that Lotus still reads
    /// (1 = secp256k1, 2 = BLS).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Name(String),
            SigType(u8),
        }
        match Repr::deserialize(deserializer)? {
            Repr::Name(name) => name.parse().map_err(serde::de::Error::custom),
            Repr::SigType(1) => Ok(KeyType::Secp256k1),
            Repr::SigType(2) => Ok(KeyType::Bls),
            Repr::SigType(n) => Err(serde::de::Error::custom(format!("unknown signature type {n} (expected 1 or 2)"))),
        }
    }
}

/// A private key and its type, as Lotus exports and imports it (`WalletExport`, `WalletImport`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The key's type.
    #[serde(rename = "Type")]
    pub key_type: KeyType,
    /// The private key bytes (standard padded base64 in JSON).
    #[serde(rename = "PrivateKey", with = "base64_bytes")]
    pub private_key: Vec<u8>,
}

impl KeyInfo {
    /// A key info from its parts (not checked: [`Key::from_key_info`] checks it).
    pub fn new(key_type: KeyType, private_key: Vec<u8>) -> Self {
        Self { key_type, private_key }
    }
}

impl fmt::Debug for KeyInfo {
    /// Keeps the private key out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyInfo").field("key_type", &self.key_type).field("private_key", &"<redacted>").finish()
    }
}

mod base64_bytes {
    use super::BASE64;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        BASE64.decode(text.as_bytes()).map_err(|e| serde::de::Error::custom(format!("PrivateKey is not base64: {e}")))
    }
}

/// The parsed secret of a [`Key`].
#[derive(Clone)]
enum Secret {
    Secp256k1(SigningKey),
    Bls(bls_signatures::PrivateKey),
}

/// A usable wallet key: its [`KeyInfo`] with the public key and address derived from it.
#[derive(Clone)]
pub struct Key {
    info: KeyInfo,
    secret: Secret,
    public_key: Vec<u8>,
    address: Address,
}

impl Key {
    /// A fresh key of the given type from OS randomness.
    pub fn generate(key_type: KeyType) -> Key {
        let private_key = match key_type {
            KeyType::Secp256k1 => SigningKey::random(&mut OsRng).to_bytes().to_vec(),
            KeyType::Bls => bls_signatures::PrivateKey::generate(&mut OsRng).as_bytes(),
        };
        // The bytes above were just serialised by the libraries themselves, so they parse back.
        Key::from_key_info(KeyInfo::new(key_type, private_key)).expect("a freshly generated private key is valid")
    }

    /// Parses a key info and derives the public key and address.
    pub fn from_key_info(info: KeyInfo) -> Result<Key, WalletError> {
        let invalid = |reason: String| WalletError::InvalidPrivateKey { key_type: info.key_type, reason };
        let (secret, public_key, address) = match info.key_type {
            KeyType::Secp256k1 => {
                if info.private_key.len() != 32 {
                    return Err(invalid(format!("expected 32 bytes, got {}", info.private_key.len())));
                }
                let key = SigningKey::from_slice(&info.private_key)
                    .map_err(|_| invalid("not a scalar in [1, n)".to_owned()))?;
                let public_key = key.verifying_key().to_encoded_point(false).as_bytes().to_vec();
                debug_assert_eq!(public_key.len(), SECP_PUB_LEN);
                let address = Address::new_secp256k1(&public_key).map_err(|e| invalid(e.to_string()))?;
                (Secret::Secp256k1(key), public_key, address)
            }
            KeyType::Bls => {
                let key =
                    bls_signatures::PrivateKey::from_bytes(&info.private_key).map_err(|e| invalid(e.to_string()))?;
                if info.private_key.iter().all(|&b| b == 0) {
                    return Err(invalid("the zero key".to_owned()));
                }
                let public_key = key.public_key().as_bytes();
                debug_assert_eq!(public_key.len(), BLS_PUB_LEN);
                let address = Address::new_bls(&public_key).map_err(|e| invalid(e.to_string()))?;
                (Secret::Bls(key), public_key, address)
            }
        };
        Ok(Key { info, secret, public_key, address })
    }

    /// The key's type and private key.
    pub fn key_info(&self) -> &KeyInfo {
        &self.info
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.info.key_type
    }

    /// The key's address (`f1`/`t1` or `f3`/`t3`).
    pub fn address(&self) -> Address {
        self.address
    }

    /// The public key: 65-byte uncompressed secp256k1 point or 48-byte compressed BLS G1 point.
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Signs `data` as Lotus does: secp256k1 over blake2b-256(data), BLS over the data itself.
    pub fn sign(&self, data: &[u8]) -> Signature {
        match &self.secret {
            Secret::Secp256k1(key) => {
                let digest = blake2b_256(data);
                let (signature, recovery_id) = key
                    .sign_prehash_recoverable(&digest)
                    .expect("signing a 32-byte digest with a valid key cannot fail");
                let mut bytes = Vec::with_capacity(SECP_SIG_LEN);
                bytes.extend_from_slice(&signature.to_bytes());
                bytes.push(recovery_id.to_byte());
                Signature::new_secp256k1(bytes)
            }
            Secret::Bls(key) => Signature::new_bls(key.sign(data).as_bytes()),
        }
    }
}

impl PartialEq for Key {
    /// Keys are equal when their key infos are (everything else derives from those).
    fn eq(&self, other: &Self) -> bool {
        self.info == other.info
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    /// Shows the type and address, never the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("key_type", &self.info.key_type)
            .field("address", &self.address.to_string())
            .finish_non_exhaustive()
    }
}

fn blake2b_256(data: &[u8]) -> [u8; 32] {
    let hash = blake2b_simd::Params::new().hash_length(32).to_state().update(data).finalize();
    hash.as_bytes().try_into().expect("blake2b-256 gives 32 bytes")
}

/// Checks a signature by the address that should have made it, as Lotus does: for secp256k1 the
/// public key recovered from the signature must hash to the address; for BLS the public key is
/// the address payload and the signature must verify against it.
///
/// (fvm_shared's own `Signature::verify` sits behind its `crypto` feature, which pulls in
/// filecoin-proofs-api; this is the same check on the same libraries without it.)
pub fn verify(signature: &Signature, signer: &Address, data: &[u8]) -> Result<(), WalletError> {
    let fail = |reason: String| WalletError::InvalidSignature { signer: *signer, reason };
    match (signature.sig_type, signer.protocol()) {
        (SignatureType::Secp256k1, Protocol::Secp256k1) => {
            let bytes = signature.bytes();
            if bytes.len() != SECP_SIG_LEN {
                return Err(fail(format!("secp256k1 signature is {} bytes, expected {SECP_SIG_LEN}", bytes.len())));
            }
            let mut ecdsa =
                EcdsaSignature::from_slice(&bytes[..64]).map_err(|_| fail("malformed secp256k1 r || s".to_owned()))?;
            let mut recovery_byte = bytes[64];
            // A high-s signature is the same signature with the other recovery id.
            if let Some(low_s) = ecdsa.normalize_s() {
                ecdsa = low_s;
                recovery_byte ^= 1;
            }
            let recovery_id =
                RecoveryId::from_byte(recovery_byte).ok_or_else(|| fail(format!("bad recovery id {}", bytes[64])))?;
            let recovered = VerifyingKey::recover_from_prehash(&blake2b_256(data), &ecdsa, recovery_id)
                .map_err(|_| fail("no public key recovers from it".to_owned()))?;
            let recovered = Address::new_secp256k1(recovered.to_encoded_point(false).as_bytes())
                .map_err(|e| fail(e.to_string()))?;
            if &recovered == signer { Ok(()) } else { Err(fail(format!("it was made by {recovered}"))) }
        }
        (SignatureType::BLS, Protocol::BLS) => {
            let bytes = signature.bytes();
            if bytes.len() != BLS_SIG_LEN {
                return Err(fail(format!("BLS signature is {} bytes, expected {BLS_SIG_LEN}", bytes.len())));
            }
            let public_key = bls_signatures::PublicKey::from_bytes(&signer.payload_bytes())
                .map_err(|e| fail(format!("address holds no BLS public key: {e}")))?;
            let bls = bls_signatures::Signature::from_bytes(bytes)
                .map_err(|e| fail(format!("malformed BLS signature: {e}")))?;
            if bls_signatures::verify_messages(&bls, &[data], &[public_key]) {
                Ok(())
            } else {
                Err(fail("BLS signature does not verify".to_owned()))
            }
        }
        (sig_type, protocol) => Err(fail(format!("a {sig_type:?} signature cannot come from a {protocol} address"))),
    }
}

/// Parses an address with either network prefix (`f` or `t`), whatever the global network is.
pub fn parse_address(text: &str) -> Result<Address, fvm_shared::address::Error> {
    Network::Testnet.parse_address(text).or_else(|_| Network::Mainnet.parse_address(text))
}

/// The keys a devnet holds, with a default address. Its serde form holds only the key infos and
/// the default address (as a string); public keys and addresses are re-derived on load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "WalletRepr", try_from = "WalletRepr")]
pub struct Wallet {
    keys: BTreeMap<Address, Key>,
    default: Option<Address>,
}

/// The JSON form of a [`Wallet`].
#[derive(Serialize, Deserialize)]
struct WalletRepr {
    #[serde(rename = "Keys")]
    keys: Vec<KeyInfo>,
    #[serde(rename = "Default")]
    default: Option<String>,
}

impl From<Wallet> for WalletRepr {
    fn from(wallet: Wallet) -> Self {
        WalletRepr {
            keys: wallet.keys.into_values().map(|key| key.info).collect(),
            default: wallet.default.map(|a| a.to_string()),
        }
    }
}

impl TryFrom<WalletRepr> for Wallet {
    type Error = String;

    fn try_from(repr: WalletRepr) -> Result<Self, Self::Error> {
        let mut wallet = Wallet::new();
        for info in repr.keys {
            wallet.import(info).map_err(|e| e.to_string())?;
        }
        if let Some(text) = repr.default {
            let addr = parse_address(&text).map_err(|e| format!("default address {text:?} is invalid: {e}"))?;
            wallet.set_default(addr).map_err(|e| e.to_string())?;
        }
        Ok(wallet)
    }
}

impl Wallet {
    /// An empty wallet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Generates a key of the given type, stores it and returns its address. The first key
    /// generated into a wallet with no default becomes the default (as Lotus `WalletNew` does).
    pub fn generate(&mut self, key_type: KeyType) -> Address {
        let key = Key::generate(key_type);
        let addr = key.address();
        self.keys.insert(addr, key);
        if self.default.is_none() {
            self.default = Some(addr);
        }
        addr
    }

    /// Stores an existing key and returns its address. Importing a key already held is a no-op
    /// that returns its address. Like Lotus `WalletImport`, this does not set the default.
    pub fn import(&mut self, info: KeyInfo) -> Result<Address, WalletError> {
        let key = Key::from_key_info(info)?;
        let addr = key.address();
        self.keys.entry(addr).or_insert(key);
        Ok(addr)
    }

    /// The default address, if one is set.
    pub fn default_address(&self) -> Option<Address> {
        self.default
    }

    /// Makes `addr` the default; the wallet must hold its key.
    pub fn set_default(&mut self, addr: Address) -> Result<(), WalletError> {
        if !self.has(&addr) {
            return Err(WalletError::KeyNotFound(addr));
        }
        self.default = Some(addr);
        Ok(())
    }

    /// Whether the wallet holds the key for `addr`.
    pub fn has(&self, addr: &Address) -> bool {
        self.keys.contains_key(addr)
    }

    /// The addresses of all keys held, in address byte order.
    pub fn list(&self) -> Vec<Address> {
        self.keys.keys().copied().collect()
    }

    /// The key for `addr`.
    pub fn key(&self, addr: &Address) -> Result<&Key, WalletError> {
        self.keys.get(addr).ok_or(WalletError::KeyNotFound(*addr))
    }

    /// Signs `data` with the key of `signer`.
    pub fn sign(&self, signer: &Address, data: &[u8]) -> Result<Signature, WalletError> {
        Ok(self.key(signer)?.sign(data))
    }

    /// The key info of `addr`, for `WalletExport`.
    pub fn export(&self, addr: &Address) -> Result<KeyInfo, WalletError> {
        Ok(self.key(addr)?.info.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_vectors() {
        let secp = Key::from_key_info(KeyInfo::new(KeyType::Secp256k1, (1..=32).collect())).unwrap();
        println!("secp addr {} pub {:02x?}", secp.address(), secp.public_key());
        let bls = Key::from_key_info(KeyInfo::new(KeyType::Bls, (1..=32).collect())).unwrap();
        println!("bls addr {} pub {}", bls.address(), BASE64.encode(bls.public_key()));
        println!("bls sig {}", BASE64.encode(bls.sign(b"sealstack").bytes()));
        let z = Key::from_key_info(KeyInfo::new(
            KeyType::Secp256k1,
            BASE64.decode("8VcW07ADswS4BV2cxi5rnIadVsyTDDhY1NfDH19T8Uo=").unwrap(),
        ))
        .unwrap();
        println!("zondax secp {}", z.address());
        let z = Key::from_key_info(KeyInfo::new(
            KeyType::Bls,
            BASE64.decode("P2pSgkvsZSgi0LOczuHmSXT1+l/hvSs3fVBb4y8OgVo=").unwrap(),
        ))
        .unwrap();
        println!("zondax bls {}", z.address());
        let z = Key::from_key_info(KeyInfo::new(
            KeyType::Bls,
            BASE64.decode("0x7Y0GGX92MeWBF9mcWuR5EYPxe2dy60r8XIQOD31BI=").unwrap(),
        ))
        .unwrap();
        println!("zondax bls2 pub {:02x?}", z.public_key());
        println!("zondax bls2 sig {:02x?}", z.sign(&[1, 2]).bytes());
        let cbor = hex(
            "8a005501fd1d0f4dfcd7e99afcb99a8326b7dc459d32c628583103ade28c91045e89a0dcdb49d5ed0d62a4f02d78a96dbd406a4f9d37a1cd2fb5c29058def79b01b4d1556ade74ffc079040144000186a01961a8430009c4430009c40040",
        );
        let sig = Signature::new_bls(hex(
            "a0e8380977d2ccc5dd4d5ebd823406ed22fde880a3bd0fa8426c16b34013c487c51107f5e2808031b680ff200aa16f770a12a82022cc0fd2a7b0302baacee87862fed11be087609d3b0daf90869558574e15b94b375a0f34bce9478e975bb02c",
        ));
        let mut cid = vec![0x01, 0x71, 0xa0, 0xe4, 0x02, 0x20];
        cid.extend_from_slice(&blake2b_256(&cbor));
        println!("raw {:?}", verify(&sig, &z.address(), &cbor));
        println!("cid {:?}", verify(&sig, &z.address(), &cid));
        println!("sign cid == {}", z.sign(&cid) == sig);
    }
    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
