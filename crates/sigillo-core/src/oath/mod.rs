//! The OATH one-time codes of the offline path (issue 4, P4): HOTP (RFC 4226), TOTP
//! (RFC 6238) and OCRA (RFC 6287), on RustCrypto's `hmac`, `sha1` and `sha2`.
//!
//! - [`hotp`]: a code from a key and a counter.
//! - [`totp`]: a code from a key and the time step of `now`; the login OTP ([`totp::LOGIN`])
//!   and a constant-time window check that tells which step matched (P8).
//! - [`ocra`]: OCRASuite parsing, the RFC 6287 DataInput, and sigillo's transaction OTP
//!   ([`ocra::TRANSACTION_SUITE`]), whose challenge is the SHA-256 of the canonical
//!   operation bytes (P5).
//!
//! Like the rest of the core, nothing here reads a clock: callers pass `now`. Keys are
//! borrowed, never stored; the intermediate HMAC values and DataInputs (which may carry a
//! PIN hash) are wiped when dropped. Every check compares in constant time and computes
//! every candidate it could accept, so its timing tells neither whether nor where a code
//! matched. ADR 0007 says why these are implemented here and how they are verified.

pub mod hotp;
pub mod ocra;
pub mod totp;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Digest;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use thiserror::Error;
use zeroize::Zeroizing;

/// The hash function under the HMAC (and, for OCRA, of the PIN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Hash {
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
    #[serde(rename = "SHA512")]
    Sha512,
}

impl Hash {
    /// The name the RFCs use: `SHA1`, `SHA256`, `SHA512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// The inverse of [`Hash::name`] (exact, upper case).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            "SHA512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Output length in bytes: 20, 32 or 64.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// HMAC of `message` under `key` (any length, RFC 2104).
    pub fn hmac(self, key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
        match self {
            Self::Sha1 => mac_with::<Hmac<sha1::Sha1>>(key, message),
            Self::Sha256 => mac_with::<Hmac<sha2::Sha256>>(key, message),
            Self::Sha512 => mac_with::<Hmac<sha2::Sha512>>(key, message),
        }
    }

    /// The plain hash of `data` (OCRA's `P`: the hash of the PIN).
    pub fn digest(self, data: &[u8]) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            Self::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        })
    }
}

impl std::fmt::Display for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn mac_with<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut mac = <M as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(message);
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

/// Why a HOTP or TOTP parameter was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum OathError {
    #[error("HOTP and TOTP codes have 6, 7 or 8 digits, not {0}")]
    Digits(u32),
    #[error("the TOTP time step must be 1 to 86400 seconds, not {0}")]
    Step(u64),
    #[error("the TOTP window reaches at most {max} steps either side of now, not {0}", max = totp::MAX_WINDOW)]
    Window(u32),
}

/// Dynamic truncation (RFC 4226 §5.3): the low nibble of the last byte picks an offset
/// 0..=15, and the 31 bits at that offset are the value. `None` if `mac` is shorter than the
/// 20 bytes of the shortest HMAC.
///
/// The offset depends on the key, so instead of indexing with it this reads the four bytes
/// at every one of the 16 offsets and keeps the chosen one with a constant-time select:
/// no memory access depends on a secret.
pub fn truncate(mac: &[u8]) -> Option<u32> {
    if mac.len() < 20 {
        return None;
    }
    let offset = mac[mac.len() - 1] & 0x0f;
    let mut value = 0u32;
    for (i, window) in (0u8..16).zip(mac.windows(4)) {
        let candidate = u32::from_be_bytes([window[0], window[1], window[2], window[3]]);
        value.conditional_assign(&candidate, i.ct_eq(&offset));
    }
    Some(value & 0x7fff_ffff)
}

/// `truncate` for the HMACs this module makes, which are always long enough.
pub(crate) fn truncate_mac(mac: &[u8]) -> u32 {
    truncate(mac).unwrap_or_else(|| unreachable!("every HMAC here is at least 20 bytes"))
}

/// The code: the truncated value modulo 10^digits, zero-padded (RFC 4226 §5.3 step 3).
/// `digits` is at most 10 (checked by the callers).
pub(crate) fn decimal_code(value: u32, digits: u32) -> String {
    let modulus = 10u64.pow(digits);
    format!("{:0width$}", u64::from(value) % modulus, width = digits as usize)
}

/// Constant-time comparison of an expected code with a typed one (surrounding whitespace
/// ignored). Codes of different lengths never match.
pub(crate) fn code_matches(expected: &str, typed: &str) -> Choice {
    expected.as_bytes().ct_eq(typed.trim().as_bytes())
}
