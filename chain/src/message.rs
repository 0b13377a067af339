//! Messages, signatures and their CIDs (lotus chain/types/message.go, signedmessage.go).

use cid::Cid;
use cid::multihash::Multihash;
use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::Address;
use fvm_shared::crypto::signature::{Signature, SignatureType};
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use serde::{Deserialize, Serialize};

use crate::json::LotusJson;

/// Multihash code of BLAKE2b-256, the hash of Filecoin's CIDs.
const BLAKE2B_256: u64 = 0xb220;

/// The CID Filecoin gives to a CBOR object: CIDv1, dag-cbor, BLAKE2b-256.
pub fn cbor_cid(bytes: &[u8]) -> Cid {
    let digest = blake2b_simd::Params::new().hash_length(32).hash(bytes);
    let hash = Multihash::wrap(BLAKE2B_256, digest.as_bytes()).expect("a 32-byte digest fits a multihash");
    Cid::new_v1(fvm_ipld_encoding::DAG_CBOR, hash)
}

/// The CID of an unsigned message: what both secp256k1 and BLS keys sign.
pub fn message_cid(message: &Message) -> Cid {
    cbor_cid(&fvm_ipld_encoding::to_vec(message).expect("a message always encodes"))
}

/// The CID of a signed message: for BLS the unsigned message's CID (the signature is aggregated in the
/// block), for secp256k1 the CID of the CBOR tuple `[message, signature]`.
pub fn signed_message_cid(message: &Message, signature: &Signature) -> Cid {
    match signature.sig_type {
        SignatureType::BLS => message_cid(message),
        _ => cbor_cid(&fvm_ipld_encoding::to_vec(&(message, signature)).expect("a signed message always encodes")),
    }
}

/// A message for MpoolPushMessage to complete: nonce and gas left at 0 for the node to fill in.
pub fn unsigned_message(from: Address, to: Address, value: TokenAmount, method_num: u64, params: RawBytes) -> Message {
    Message {
        version: 0,
        from,
        to,
        sequence: 0,
        value,
        method_num,
        params,
        gas_limit: 0,
        gas_fee_cap: TokenAmount::from_atto(0),
        gas_premium: TokenAmount::from_atto(0),
    }
}

/// Replace-by-fee: a pending message is replaced by one of the same sender and nonce whose premium is at
/// least this percentage of its own, plus one attoFIL (lotus chain/messagepool `ReplaceByFeePercentageMinimum`).
pub const REPLACE_BY_FEE_PERCENT: u64 = 110;

/// The smallest premium that replaces a pending message whose premium is `current` (lotus `ComputeMinRBF`).
/// To replace a message stuck in the pool, as `lotus mpool replace` does: the same message with this premium
/// (or more) and a fee cap over the base fee, signed with WalletSignMessage and sent with MpoolPush
/// (MpoolPushMessage always takes a new nonce).
pub fn min_replacement_premium(current: &TokenAmount) -> TokenAmount {
    (current.clone() * REPLACE_BY_FEE_PERCENT).div_floor(100u64) + TokenAmount::from_atto(1)
}

/// A message in Lotus JSON; `CID` is computed on output and ignored on input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageJson {
    /// Always 0.
    #[serde(rename = "Version")]
    pub version: u64,
    /// The receiver.
    #[serde(rename = "To")]
    pub to: LotusJson<Address>,
    /// The sender.
    #[serde(rename = "From")]
    pub from: LotusJson<Address>,
    /// The sender's nonce (assigned by MpoolPushMessage).
    #[serde(rename = "Nonce")]
    pub nonce: u64,
    /// attoFIL sent with the call.
    #[serde(rename = "Value")]
    pub value: LotusJson<TokenAmount>,
    /// Gas limit; 0 asks MpoolPushMessage to estimate it.
    #[serde(rename = "GasLimit")]
    pub gas_limit: i64,
    /// Fee cap per gas unit.
    #[serde(rename = "GasFeeCap")]
    pub gas_fee_cap: LotusJson<TokenAmount>,
    /// Premium per gas unit.
    #[serde(rename = "GasPremium")]
    pub gas_premium: LotusJson<TokenAmount>,
    /// The method number.
    #[serde(rename = "Method")]
    pub method: u64,
    /// CBOR parameters.
    #[serde(rename = "Params")]
    pub params: LotusJson<Vec<u8>>,
    /// The message CID (output only).
    #[serde(rename = "CID", default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub cid: Option<LotusJson<Cid>>,
}

impl MessageJson {
    /// The JSON form of `message`, with its CID.
    pub fn from_message(message: &Message) -> Self {
        MessageJson {
            version: message.version,
            to: LotusJson(message.to),
            from: LotusJson(message.from),
            nonce: message.sequence,
            value: LotusJson(message.value.clone()),
            gas_limit: message.gas_limit as i64,
            gas_fee_cap: LotusJson(message.gas_fee_cap.clone()),
            gas_premium: LotusJson(message.gas_premium.clone()),
            method: message.method_num,
            params: LotusJson(message.params.to_vec()),
            cid: Some(LotusJson(message_cid(message))),
        }
    }

    /// The message itself; a negative gas limit reads as 0 (unset).
    pub fn to_message(&self) -> Message {
        Message {
            version: self.version,
            from: self.from.0,
            to: self.to.0,
            sequence: self.nonce,
            value: self.value.0.clone(),
            method_num: self.method,
            params: RawBytes::new(self.params.0.clone()),
            gas_limit: self.gas_limit.max(0) as u64,
            gas_fee_cap: self.gas_fee_cap.0.clone(),
            gas_premium: self.gas_premium.0.clone(),
        }
    }
}

/// A signature in Lotus JSON: `{"Type": 1 (secp256k1) | 2 (BLS), "Data": base64}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureJson {
    /// 1 = secp256k1, 2 = BLS (Lotus's crypto.SigType).
    #[serde(rename = "Type")]
    pub sig_type: u8,
    /// The signature bytes.
    #[serde(rename = "Data")]
    pub data: LotusJson<Vec<u8>>,
}

impl From<&Signature> for SignatureJson {
    fn from(signature: &Signature) -> Self {
        SignatureJson { sig_type: signature.sig_type as u8, data: LotusJson(signature.bytes.clone()) }
    }
}

impl SignatureJson {
    /// The signature, or `None` for an unknown type.
    pub fn to_signature(&self) -> Option<Signature> {
        let sig_type = match self.sig_type {
            1 => SignatureType::Secp256k1,
            2 => SignatureType::BLS,
            _ => return None,
        };
        Some(Signature { sig_type, bytes: self.data.0.clone() })
    }
}

/// A signed message as MpoolPushMessage returns it; `CID` is what StateWaitMsg takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignedMessageJson {
    /// The message.
    #[serde(rename = "Message")]
    pub message: MessageJson,
    /// The sender's signature of the message CID.
    #[serde(rename = "Signature")]
    pub signature: SignatureJson,
    /// The signed message's CID.
    #[serde(rename = "CID")]
    pub cid: LotusJson<Cid>,
}

/// MpoolPushMessage's second parameter (lotus api.MessageSendSpec). Every field may be left out, as Go's JSON
/// decoding allows: Lotus takes `{"MsgUuid": ...}` alone (a missing field is its zero value).
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageSendSpec {
    /// The most the sender will pay in fees; 0 lets the node choose.
    #[serde(rename = "MaxFee")]
    pub max_fee: LotusJson<TokenAmount>,
    /// Idempotency key: a node that already signed a message with this UUID returns that message instead of
    /// signing a new one (lotus node/impl/full/mpool.go). The all-zero UUID means "none".
    #[serde(rename = "MsgUuid")]
    pub msg_uuid: String,
    /// Spend up to MaxFee on the fee cap.
    #[serde(rename = "MaximizeFeeCap")]
    pub maximize_fee_cap: bool,
}

impl MessageSendSpec {
    /// The nil UUID, which disables deduplication.
    pub const NIL_UUID: &'static str = "00000000-0000-0000-0000-000000000000";

    /// A spec that makes the push idempotent under `uuid`.
    pub fn idempotent(uuid: &str) -> Self {
        MessageSendSpec { msg_uuid: uuid.to_string(), ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_address;

    fn example() -> Message {
        Message {
            version: 0,
            from: parse_address("f01234").unwrap(),
            to: parse_address("f01234").unwrap(),
            sequence: 42,
            value: TokenAmount::from_atto(0),
            method_num: 1,
            params: RawBytes::new(b"byte array".to_vec()),
            gas_limit: 9,
            gas_fee_cap: TokenAmount::from_atto(0),
            gas_premium: TokenAmount::from_atto(0),
        }
    }

    /// The message of Lotus's MpoolPushMessage doc example (api-methods-v1-stable.md): its CBOR is
    /// `8a 00 43 00d209 43 00d209 18 2a 40 09 40 40 01 4a "byte array"` with Version 0, and with the
    /// example's `Version: 42` its CID is the one the generated doc prints.
    #[test]
    fn message_cbor_and_cid() {
        let message = example();
        let cbor = fvm_ipld_encoding::to_vec(&message).unwrap();
        let expected = format!("8a004300d2094300d209182a40094040014a{}", hex(b"byte array"));
        assert_eq!(hex(&cbor), expected);
        let cid = message_cid(&message);
        assert_eq!(cid.codec(), fvm_ipld_encoding::DAG_CBOR);
        assert_eq!(cid.hash().code(), BLAKE2B_256);
        let doc = Message { version: 42, ..example() };
        assert_eq!(message_cid(&doc).to_string(), "bafy2bzacebbpdegvr3i4cosewthysg5xkxpqfn2wfcz6mv2hmoktwbdxkax4s");
    }

    #[test]
    fn lotus_mpool_push_message_example_decodes() {
        let value: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/mpool_push_message.json")).unwrap();
        let signed: SignedMessageJson = serde_json::from_value(value).unwrap();
        assert_eq!(signed.message.to_message().sequence, 42);
        assert_eq!(signed.message.params.as_slice(), b"byte array");
        assert_eq!(signed.signature.to_signature().unwrap().sig_type, SignatureType::BLS);
        // The input side ignores `CID`; the output side recomputes it.
        let again = MessageJson::from_message(&signed.message.to_message());
        assert!(again.cid.is_some());
    }

    /// ChainGetMessage, MpoolPending, MpoolPush and WalletSignMessage examples of Lotus's API reference: each
    /// decodes, and a message re-encoded from its fields gives back the example (with its computed CID).
    #[test]
    fn lotus_message_method_examples_decode() {
        let value: serde_json::Value =
            serde_json::from_str(include_str!("../tests/vectors/chain_get_message.json")).unwrap();
        let message: MessageJson = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(MessageJson::from_message(&message.to_message())).unwrap(), value);

        let pending: Vec<SignedMessageJson> =
            serde_json::from_str(include_str!("../tests/vectors/mpool_pending.json")).unwrap();
        assert_eq!(pending[0].message.to_message().sequence, 42);
        let (pushed,): (SignedMessageJson,) =
            serde_json::from_str(include_str!("../tests/vectors/mpool_push_params.json")).unwrap();
        assert_eq!(pushed.signature.sig_type, 2);
        let cid: LotusJson<Cid> = serde_json::from_str(include_str!("../tests/vectors/mpool_push.json")).unwrap();
        assert_eq!(cid.to_string(), "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4");

        let (signer, unsigned): (LotusJson<Address>, MessageJson) =
            serde_json::from_str(include_str!("../tests/vectors/wallet_sign_message_params.json")).unwrap();
        assert_eq!(signer.to_string(), "f01234");
        let signed: SignedMessageJson =
            serde_json::from_str(include_str!("../tests/vectors/wallet_sign_message.json")).unwrap();
        assert_eq!(signed.message.to_message(), unsigned.to_message());
    }

    #[test]
    fn replacement_needs_ten_percent_more_premium_plus_one() {
        assert_eq!(min_replacement_premium(&TokenAmount::from_atto(100_000)), TokenAmount::from_atto(110_001));
        assert_eq!(min_replacement_premium(&TokenAmount::from_atto(0)), TokenAmount::from_atto(1));
    }

    #[test]
    fn bls_signed_cid_is_the_message_cid_and_secp_differs() {
        let message = example();
        let bls = Signature { sig_type: SignatureType::BLS, bytes: vec![1; 96] };
        let secp = Signature { sig_type: SignatureType::Secp256k1, bytes: vec![1; 65] };
        assert_eq!(signed_message_cid(&message, &bls), message_cid(&message));
        assert_ne!(signed_message_cid(&message, &secp), message_cid(&message));
    }

    #[test]
    fn a_send_spec_may_leave_fields_out() {
        // Lotus accepts a spec with only some fields (e2e/lotus: {"MaxFee": "0", "MsgUuid": ...}).
        let spec: MessageSendSpec =
            serde_json::from_value(serde_json::json!({"MsgUuid": "6f0e3d6e-7b1e-4c55-9a4e-3a7d1d2f5b10"})).unwrap();
        assert_eq!(spec.msg_uuid, "6f0e3d6e-7b1e-4c55-9a4e-3a7d1d2f5b10");
        assert!(!spec.maximize_fee_cap);
        assert_eq!(spec.max_fee.atto().to_string(), "0");
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
