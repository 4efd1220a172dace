//! Keys (PROTOCOL.md §4): ECDSA P-256 key pairs for each factor, ECDH with the server's
//! binding key for the offline OTP keys, and the binding fingerprint.
//!
//! Signing and key agreement use RustCrypto's `p256` (deterministic RFC 6979 nonces, no
//! RNG at signing time); verification uses `ring`, about five times faster on the
//! server and an independent implementation of the same standard, so every signature
//! the tests make with one is checked by the other.

use super::canonical::Canon;
use crate::Csprng;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};
use thiserror::Error;
use zeroize::Zeroizing;

/// Length of an uncompressed SEC1 P-256 public key.
pub const PUBLIC_KEY_LEN: usize = 65;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not an uncompressed P-256 public key on the curve")]
    PublicKey,
    #[error("not a P-256 private key")]
    PrivateKey,
}

/// The factors a binding has, each its own key pair (P3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Possession,
    Knowledge,
    Biometry,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Possession => "possession",
            Self::Knowledge => "knowledge",
            Self::Biometry => "biometry",
        }
    }
}

/// A P-256 private key. Its memory is wiped on drop (p256 zeroizes its scalar).
#[derive(Clone)]
pub struct KeyPair(SigningKey);

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPair(…)")
    }
}

impl KeyPair {
    pub fn generate(rng: &mut impl Csprng) -> Self {
        Self(SigningKey::random(rng))
    }

    /// A key derived from 32 secret bytes: every seed gives a valid key (HKDF-SHA-256,
    /// retried with a counter in the 2^-32 case that the output is not a valid scalar).
    /// Used for the knowledge key, whose seed is what the PIN unwraps (P1), and for the
    /// server's master key, whose seed comes from the key-encryption key.
    pub fn from_seed(seed: &[u8; 32], label: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"sigillo/p256-from-seed/v1"), seed);
        for counter in 0u32.. {
            let mut candidate = Zeroizing::new([0u8; 32]);
            let info = Canon::new(label).u64(u64::from(counter)).finish();
            hk.expand(&info, candidate.as_mut()).unwrap_or_else(|_| unreachable!("32 bytes is a valid length"));
            if let Ok(key) = SigningKey::from_slice(candidate.as_ref()) {
                return Self(key);
            }
        }
        unreachable!("a valid scalar turns up long before the counter wraps")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        SigningKey::from_slice(bytes).map(Self).map_err(|_| KeyError::PrivateKey)
    }

    /// The private scalar, for a keystore to keep.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.to_bytes().to_vec())
    }

    /// Uncompressed SEC1 (65 bytes).
    pub fn public_key(&self) -> Vec<u8> {
        self.0.verifying_key().to_encoded_point(false).as_bytes().to_vec()
    }

    /// ECDSA P-256 with SHA-256 over `message`, DER-encoded (what phone keystores produce).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: Signature = self.0.sign(message);
        signature.to_der().as_bytes().to_vec()
    }

    /// ECDH (SEC 1 §3.3.1): the x-coordinate of the shared point.
    pub fn agree(&self, peer_public: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let peer = p256::PublicKey::from_sec1_bytes(peer_public).map_err(|_| KeyError::PublicKey)?;
        let shared = p256::ecdh::diffie_hellman(self.0.as_nonzero_scalar(), peer.as_affine());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(out)
    }
}

/// The server's long-lived signing key: QR payloads, activation answers and operation
/// details carry its signature (P6). Derived from the key-encryption key, so it is never
/// stored anywhere (P7); the app pins its public key.
pub type MasterKey = KeyPair;

impl KeyPair {
    /// The master key from the seed the server derives from its key-encryption key.
    pub fn master_from_seed(seed: &[u8; 32]) -> MasterKey {
        Self::from_seed(seed, "sigillo/master-key/v1")
    }
}

/// Checks that `bytes` is an uncompressed P-256 point on the curve.
pub fn check_public_key(bytes: &[u8]) -> Result<(), KeyError> {
    if bytes.len() != PUBLIC_KEY_LEN || bytes[0] != 4 {
        return Err(KeyError::PublicKey);
    }
    p256::PublicKey::from_sec1_bytes(bytes).map(|_| ()).map_err(|_| KeyError::PublicKey)
}

/// Verifies a DER ECDSA P-256/SHA-256 signature with `ring`.
pub fn verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public_key)
        .verify(message, signature)
        .is_ok()
}

/// The OTP key of one factor (P4): HKDF-SHA-256 of the ECDH secret between the factor's
/// device key and the server's binding key, salted with the binding id.
pub fn factor_otp_key(shared: &[u8; 32], binding: &str, factor: Factor) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    let info = Canon::new("sigillo/otp-key/v1").str(factor.as_str()).finish();
    Hkdf::<Sha256>::new(Some(binding.as_bytes()), shared)
        .expand(&info, out.as_mut())
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid length"));
    out
}

/// The binding fingerprint both sides show, "1234 5678": 8 digits of SHA-256 over the
/// phone's possession key and the server's binding key. A man in the middle would have to
/// swap one of them and so change it. The knowledge key is deliberately left out: the
/// phone keeps the fingerprint, and a hash over the knowledge public key would let a copy
/// of its storage test PINs offline (P1); the master key's signature on the activation
/// answer covers that key instead.
pub fn fingerprint(possession: &[u8], server: &[u8]) -> String {
    let message = Canon::new("sigillo/fingerprint/v2").bytes(possession).bytes(server).finish();
    let digest = Sha256::digest(message);
    let value = u64::from_be_bytes([0, 0, 0, digest[0], digest[1], digest[2], digest[3], digest[4]]) % 100_000_000;
    let digits = format!("{value:08}");
    format!("{} {}", &digits[..4], &digits[4..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn p256_signatures_verify_with_ring_and_only_for_their_message_and_key() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let key = KeyPair::generate(&mut rng);
        let other = KeyPair::generate(&mut rng);
        let sig = key.sign(b"hello");
        assert!(verify(&key.public_key(), b"hello", &sig));
        assert!(!verify(&key.public_key(), b"hellp", &sig));
        assert!(!verify(&other.public_key(), b"hello", &sig));
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(!verify(&key.public_key(), b"hello", &bad));
        assert!(!verify(&key.public_key(), b"hello", b""));
    }

    #[test]
    fn ecdh_agrees_on_both_sides_and_keys_differ_per_factor() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let device = KeyPair::generate(&mut rng);
        let server = KeyPair::generate(&mut rng);
        let a = device.agree(&server.public_key()).unwrap();
        let b = server.agree(&device.public_key()).unwrap();
        assert_eq!(*a, *b);
        let kp = factor_otp_key(&a, "b1", Factor::Possession);
        assert_ne!(*kp, *factor_otp_key(&a, "b1", Factor::Knowledge));
        assert_ne!(*kp, *factor_otp_key(&a, "b2", Factor::Possession));
        assert_eq!(device.agree(b"\x04nonsense"), Err(KeyError::PublicKey));
    }

    #[test]
    fn seeded_keys_are_deterministic_and_round_trip() {
        let a = KeyPair::from_seed(&[1; 32], "x");
        assert_eq!(a.public_key(), KeyPair::from_seed(&[1; 32], "x").public_key());
        assert_ne!(a.public_key(), KeyPair::from_seed(&[1; 32], "y").public_key());
        assert_eq!(KeyPair::from_bytes(&a.to_bytes()).unwrap().public_key(), a.public_key());
        check_public_key(&a.public_key()).unwrap();
        let mut off_curve = a.public_key();
        off_curve[64] ^= 1;
        assert_eq!(check_public_key(&off_curve), Err(KeyError::PublicKey));
        let f = fingerprint(&a.public_key(), b"s");
        assert_eq!(f.len(), 9);
        assert_ne!(f, fingerprint(&a.public_key(), b"t"));
    }
}
