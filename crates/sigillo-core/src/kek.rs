//! The key-encryption key (P7): the one secret the server gets from its configuration.
//!
//! Server-side secrets (OTP keys, later TOTP/OCRA seeds, Key6 and server private keys)
//! are sealed under it with XChaCha20-Poly1305, the associated data naming what the
//! blob is and whose, so a sealed value cannot be moved to another row. Keys for other
//! purposes are derived from it with HKDF-SHA-256 (RFC 5869) and a label.

use crate::Csprng;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KekError {
    #[error("the key-encryption key must be 32 bytes, base64 encoded")]
    Malformed,
    #[error("sealed data is corrupt, was sealed under another key, or belongs to another record")]
    Open,
}

/// 32 secret bytes, wiped from memory when dropped. Never printed by `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Kek([u8; 32]);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(…)")
    }
}

impl Kek {
    pub fn generate(rng: &mut impl Csprng) -> Self {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        Self(key)
    }

    /// Parses the configuration form: standard base64 of 32 bytes, whitespace ignored.
    pub fn from_base64(text: &str) -> Result<Self, KekError> {
        let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| KekError::Malformed)?);
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KekError::Malformed)?;
        Ok(Self(key))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0))
    }

    /// A 32-byte key for one purpose, e.g. `derive("sigillo/sms-otp-hmac/v1")`.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(b"sigillo kek v1"), &self.0)
            .expand(label.as_bytes(), out.as_mut())
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA-256 output length"));
        out
    }

    /// Seals `plaintext`; `aad` binds it to its context (table, row id, purpose).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8], rng: &mut impl Csprng) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .unwrap_or_else(|_| unreachable!("encryption of in-memory data cannot fail"));
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KekError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(KekError::Open);
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        XChaCha20Poly1305::new((&self.0).into())
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
            .map(Zeroizing::new)
            .map_err(|_| KekError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// R40, R41, P7: sealed data opens only under the same key and context.
    #[test]
    fn seal_and_open_bind_key_and_context() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let kek = Kek::generate(&mut rng);
        let sealed = kek.seal(b"users/42/totp", b"seed bytes", &mut rng);
        assert_eq!(kek.open(b"users/42/totp", &sealed).unwrap().as_slice(), b"seed bytes");
        assert_eq!(kek.open(b"users/43/totp", &sealed), Err(KekError::Open));
        assert_eq!(Kek::generate(&mut rng).open(b"users/42/totp", &sealed), Err(KekError::Open));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(kek.open(b"users/42/totp", &tampered), Err(KekError::Open));
        assert_eq!(kek.open(b"x", &sealed[..10]), Err(KekError::Open));
    }

    /// R40: the key parses from its configuration form and is never printed.
    #[test]
    fn base64_round_trip_and_debug_hides_the_key() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let kek = Kek::generate(&mut rng);
        let text = kek.to_base64();
        let again = Kek::from_base64(&text).unwrap();
        assert_eq!(*kek.derive("a"), *again.derive("a"));
        assert_ne!(*kek.derive("a"), *kek.derive("b"));
        assert_eq!(format!("{kek:?}"), "Kek(…)");
        assert_eq!(Kek::from_base64("c2hvcnQ=").unwrap_err(), KekError::Malformed);
    }

    /// R41, P7: purpose keys come from HKDF-SHA-256 as RFC 5869 specifies.
    #[test]
    fn hkdf_matches_rfc5869_case_1() {
        // RFC 5869 A.1, checked through the same crate call `derive` makes.
        let ikm = [0x0bu8; 22];
        let salt = hex::decode("000102030405060708090a0b0c").unwrap();
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
        let mut okm = [0u8; 42];
        Hkdf::<Sha256>::new(Some(&salt), &ikm).expand(&info, &mut okm).unwrap();
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }
}
