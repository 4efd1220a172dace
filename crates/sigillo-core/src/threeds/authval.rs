//! The authentication value and the ECI that a `Y` (or `A`) outcome carries.
//!
//! EMV 3DS 2.2.0 `authenticationValue` is 20 bytes, sent base64-encoded (28 characters) in the
//! ARes (frictionless) or the RReq (after a challenge); the merchant forwards it in the
//! authorisation, where the issuer checks it. The real schemes' layouts (Visa CAVV, Mastercard
//! AAV/SPA2) are scheme-proprietary and are not reproduced here: this is **sigillo's own keyed
//! value**, HMAC-SHA-256 (RFC 2104) over a canonical encoding of the transaction, truncated to
//! 20 bytes (RFC 2104 §5 allows truncation to the leftmost bits). Whoever holds the brand's key
//! (the issuer's authorisation host) recomputes and compares it; without the key it can be
//! neither forged nor tied to another transaction, amount or merchant.
//!
//! The ECI ("Electronic Commerce Indicator") values are the schemes' published ones:
//! Visa 05/06/07, Mastercard 02/01/00.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The card scheme. Keys and ECI values are per brand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Brand {
    Visa,
    Mastercard,
}

impl Brand {
    /// One byte that separates the brands' values in the MAC input (domain separation on top
    /// of the per-brand keys, so a key shared by mistake still gives different values).
    fn tag(self) -> u8 {
        match self {
            Self::Visa => b'V',
            Self::Mastercard => b'M',
        }
    }
}

/// What the authentication achieved, as far as the ECI is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EciOutcome {
    /// `transStatus` Y: the cardholder was authenticated (frictionless or challenged).
    Authenticated,
    /// `transStatus` A: attempts processing (authentication was attempted, not performed).
    Attempted,
    /// `transStatus` N, U or R: no authentication.
    NotAuthenticated,
}

/// The ECI for `brand` and `outcome`: Visa 05 / 06 / 07, Mastercard 02 / 01 / 00.
pub fn eci(brand: Brand, outcome: EciOutcome) -> &'static str {
    match (brand, outcome) {
        (Brand::Visa, EciOutcome::Authenticated) => "05",
        (Brand::Visa, EciOutcome::Attempted) => "06",
        (Brand::Visa, EciOutcome::NotAuthenticated) => "07",
        (Brand::Mastercard, EciOutcome::Authenticated) => "02",
        (Brand::Mastercard, EciOutcome::Attempted) => "01",
        (Brand::Mastercard, EciOutcome::NotAuthenticated) => "00",
    }
}

/// Length of `authenticationValue` in bytes (EMV 3DS 2.2.0: 28 base64 characters).
pub const AUTH_VALUE_LEN: usize = 20;

/// The transaction fields the authentication value is bound to. Plain fields, so this module
/// does not depend on the message structs; the caller copies them from the AReq and the ACS's
/// own state.
#[derive(Clone, Copy, Debug)]
pub struct AuthValueInput<'a> {
    /// `acsTransID` (a UUID in its canonical text form).
    pub acs_trans_id: &'a str,
    /// `dsTransID`.
    pub ds_trans_id: &'a str,
    /// A 32-byte digest of the PAN (sigillo passes the card's keyed look-up hash), so the
    /// full PAN never has to reach this function.
    pub pan_digest: &'a [u8; 32],
    /// `purchaseAmount` in minor units of `currency`.
    pub amount_minor: u64,
    /// `purchaseCurrency`, ISO 4217 numeric (978 = EUR).
    pub currency: u16,
    /// `merchantName` as received.
    pub merchant_name: &'a str,
    /// `purchaseDate` as received (`YYYYMMDDHHMMSS`, UTC).
    pub purchase_date: &'a str,
    /// The `transStatus` the value is issued with (`"Y"` or `"A"`).
    pub trans_status: &'a str,
}

/// Version and purpose of the encoding, first in the MAC input: a later layout gets a new tag,
/// and no other MAC in sigillo can collide with this one.
const DOMAIN_TAG: &[u8] = b"sigillo/3ds/authentication-value/v1";

/// The canonical encoding the MAC covers: the domain tag, the brand byte, then every field in
/// a fixed order, variable-length ones prefixed with their length (u32 big-endian) and numbers
/// in fixed-width big-endian, so no two different inputs encode to the same bytes.
fn canonical_encoding(brand: Brand, tx: &AuthValueInput<'_>) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, field: &[u8]) {
        // Fields here are short AReq values; a field longer than 4 GiB cannot reach us, and
        // saturating keeps the function total without a panic path.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field);
    }
    let mut out = Vec::with_capacity(256);
    put(&mut out, DOMAIN_TAG);
    out.push(brand.tag());
    put(&mut out, tx.acs_trans_id.as_bytes());
    put(&mut out, tx.ds_trans_id.as_bytes());
    put(&mut out, tx.pan_digest);
    out.extend_from_slice(&tx.amount_minor.to_be_bytes());
    out.extend_from_slice(&tx.currency.to_be_bytes());
    put(&mut out, tx.merchant_name.as_bytes());
    put(&mut out, tx.purchase_date.as_bytes());
    put(&mut out, tx.trans_status.as_bytes());
    out
}

/// sigillo's authentication value for `tx`: HMAC-SHA-256 under the brand's `key` over the
/// canonical encoding, truncated to the leftmost 20 bytes (RFC 2104 §5).
pub fn authentication_value(key: &[u8; 32], brand: Brand, tx: &AuthValueInput<'_>) -> [u8; AUTH_VALUE_LEN] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(&canonical_encoding(brand, tx));
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; AUTH_VALUE_LEN];
    out.copy_from_slice(&full[..AUTH_VALUE_LEN]);
    out
}

/// Checks `value` against the one computed for `tx`, in constant time.
pub fn verify_authentication_value(key: &[u8; 32], brand: Brand, tx: &AuthValueInput<'_>, value: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    let expected = authentication_value(key, brand, tx);
    value.len() == AUTH_VALUE_LEN && bool::from(expected.ct_eq(value))
}

/// The value as the ARes/RReq carry it: standard base64 with padding, 28 characters.
pub fn to_base64(value: &[u8; AUTH_VALUE_LEN]) -> String {
    base64::engine::general_purpose::STANDARD.encode(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [0x42; 32];
    const PAN_DIGEST: [u8; 32] = [0x11; 32];

    fn input() -> AuthValueInput<'static> {
        AuthValueInput {
            acs_trans_id: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
            ds_trans_id: "9e7f0b5a-0c2e-4b7a-a4d5-2b1a5d1f0c11",
            pan_digest: &PAN_DIGEST,
            amount_minor: 2_999,
            currency: 978,
            merchant_name: "Libreria Esempio",
            purchase_date: "20240315103000",
            trans_status: "Y",
        }
    }

    #[test]
    fn fixed_vector_visa() {
        // Computed independently with Python's standard library, by hand-building the same
        // encoding (see the module docs):
        //   import hmac, hashlib, struct
        //   def p(b): return struct.pack(">I", len(b)) + b
        //   m = (p(b"sigillo/3ds/authentication-value/v1") + b"V"
        //        + p(b"8a880dc0-d2d2-4067-bcb1-b08d1690b26e")
        //        + p(b"9e7f0b5a-0c2e-4b7a-a4d5-2b1a5d1f0c11") + p(b"\x11" * 32)
        //        + struct.pack(">Q", 2999) + struct.pack(">H", 978)
        //        + p(b"Libreria Esempio") + p(b"20240315103000") + p(b"Y"))
        //   hmac.new(b"\x42" * 32, m, hashlib.sha256).digest()[:20].hex()
        let value = authentication_value(&KEY, Brand::Visa, &input());
        assert_eq!(hex::encode(value), VISA_VECTOR_HEX);
        assert_eq!(to_base64(&value), VISA_VECTOR_B64);
    }

    #[test]
    fn fixed_vector_mastercard() {
        // Same Python one-off with b"M" as the brand byte.
        let value = authentication_value(&KEY, Brand::Mastercard, &input());
        assert_eq!(hex::encode(value), MASTERCARD_VECTOR_HEX);
    }

    // Outputs of the Python one-off above (Python 3, `hmac` and `hashlib`), pasted.
    const VISA_VECTOR_HEX: &str = "9b0993c5ade4caf6645c049642c5038e9718b64b";
    const VISA_VECTOR_B64: &str = "mwmTxa3kyvZkXASWQsUDjpcYtks=";
    const MASTERCARD_VECTOR_HEX: &str = "9052291fb1a3a3ac07ee0ef2a44ad51081d60e5e";

    #[test]
    fn base64_form_is_28_characters() {
        let value = authentication_value(&KEY, Brand::Visa, &input());
        assert_eq!(to_base64(&value).len(), 28);
    }

    // Issue 5, "Done when": the authentication value changes with amount and merchant.
    #[test]
    fn value_changes_with_amount_and_with_merchant() {
        let base = authentication_value(&KEY, Brand::Visa, &input());
        let other_amount = AuthValueInput { amount_minor: 3_000, ..input() };
        let other_merchant = AuthValueInput { merchant_name: "Libreria Esempi", ..input() };
        assert_ne!(base, authentication_value(&KEY, Brand::Visa, &other_amount));
        assert_ne!(base, authentication_value(&KEY, Brand::Visa, &other_merchant));
    }

    #[test]
    fn value_changes_with_every_other_field_key_and_brand() {
        let base = authentication_value(&KEY, Brand::Visa, &input());
        let other_pan = [0x12; 32];
        let variants = [
            AuthValueInput { acs_trans_id: "8a880dc0-d2d2-4067-bcb1-b08d1690b26f", ..input() },
            AuthValueInput { ds_trans_id: "9e7f0b5a-0c2e-4b7a-a4d5-2b1a5d1f0c12", ..input() },
            AuthValueInput { pan_digest: &other_pan, ..input() },
            AuthValueInput { currency: 840, ..input() },
            AuthValueInput { purchase_date: "20240315103001", ..input() },
            AuthValueInput { trans_status: "A", ..input() },
        ];
        for variant in &variants {
            assert_ne!(base, authentication_value(&KEY, Brand::Visa, variant), "{variant:?}");
        }
        assert_ne!(base, authentication_value(&[0x43; 32], Brand::Visa, &input()));
        assert_ne!(base, authentication_value(&KEY, Brand::Mastercard, &input()));
    }

    #[test]
    fn length_prefixes_keep_adjacent_fields_apart() {
        // Moving a character from the merchant name into the purchase date must not give the
        // same bytes (it would without the length prefixes).
        let a = AuthValueInput { merchant_name: "AB", purchase_date: "C", ..input() };
        let b = AuthValueInput { merchant_name: "A", purchase_date: "BC", ..input() };
        assert_ne!(authentication_value(&KEY, Brand::Visa, &a), authentication_value(&KEY, Brand::Visa, &b));
    }

    #[test]
    fn verify_accepts_the_value_and_refuses_others() {
        let value = authentication_value(&KEY, Brand::Visa, &input());
        assert!(verify_authentication_value(&KEY, Brand::Visa, &input(), &value));
        let mut flipped = value;
        flipped[0] ^= 1;
        assert!(!verify_authentication_value(&KEY, Brand::Visa, &input(), &flipped));
        assert!(!verify_authentication_value(&KEY, Brand::Visa, &input(), &value[..19]));
        let other = AuthValueInput { amount_minor: 1, ..input() };
        assert!(!verify_authentication_value(&KEY, Brand::Visa, &other, &value));
    }

    #[test]
    fn eci_per_brand_and_outcome() {
        let table = [
            (Brand::Visa, EciOutcome::Authenticated, "05"),
            (Brand::Visa, EciOutcome::Attempted, "06"),
            (Brand::Visa, EciOutcome::NotAuthenticated, "07"),
            (Brand::Mastercard, EciOutcome::Authenticated, "02"),
            (Brand::Mastercard, EciOutcome::Attempted, "01"),
            (Brand::Mastercard, EciOutcome::NotAuthenticated, "00"),
        ];
        for (brand, outcome, expected) in table {
            assert_eq!(eci(brand, outcome), expected, "{brand:?} {outcome:?}");
        }
    }
}
