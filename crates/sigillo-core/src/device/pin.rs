//! The Smart PIN (PROTOCOL.md §5, P1): five digits that never leave the phone.
//!
//! The phone keeps the knowledge key only as a 32-byte seed XOR-ed with a pad derived
//! from the PIN (HKDF-SHA-256, a fresh random salt per wrapping, the binding id as
//! context). Every PIN therefore unwraps to *some* seed, every seed gives a valid P-256
//! key ([`KeyPair::from_seed`]), and the phone stores nothing — no PIN hash, no MAC, no
//! knowledge public key — that tells the right one from the other 99,999: only the
//! server, which counts every failure, can (P2).
//!
//! A seed is wrapped once: changing the PIN makes a new knowledge key, so two copies of
//! the phone's storage taken before and after a change share no seed to correlate.

use super::keys::KeyPair;
use crate::Csprng;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;
use zeroize::Zeroizing;

pub const PIN_LEN: usize = 5;
const KNOWLEDGE_LABEL: &str = "sigillo/knowledge-key/v1";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PinError {
    #[error("the PIN has exactly 5 digits")]
    Format,
    #[error("the PIN is too easy to guess: no five equal digits and no runs like 12345 or 54321")]
    Trivial,
}

/// A PIN as typed: five ASCII digits. Any such string can be tried.
fn digits(pin: &str) -> Result<&[u8], PinError> {
    let bytes = pin.as_bytes();
    if bytes.len() == PIN_LEN && bytes.iter().all(u8::is_ascii_digit) { Ok(bytes) } else { Err(PinError::Format) }
}

/// The rule for a *new* PIN: five digits, not all equal, not a straight run up or down
/// (also across 9→0, as on a keypad's wheel: 78901).
pub fn check_new(pin: &str) -> Result<(), PinError> {
    let d = digits(pin)?;
    let steps: Vec<u8> = d.windows(2).map(|w| (10 + w[1] - w[0]) % 10).collect();
    if steps.iter().all(|&s| s == 0) || steps.iter().all(|&s| s == 1) || steps.iter().all(|&s| s == 9) {
        return Err(PinError::Trivial);
    }
    Ok(())
}

/// The knowledge key's seed as the phone stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedSeed {
    #[serde(with = "hex::serde")]
    pub salt: [u8; 32],
    #[serde(with = "hex::serde")]
    pub wrapped: [u8; 32],
}

fn pad(pin: &[u8], salt: &[u8; 32], binding: &str) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    let info = super::canonical::Canon::new("sigillo/pin-pad/v1").str(binding).finish();
    Hkdf::<Sha256>::new(Some(salt), pin)
        .expand(&info, out.as_mut())
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid length"));
    out
}

/// A fresh knowledge seed (32 random bytes): the phone makes one per PIN.
pub fn new_seed(rng: &mut impl Csprng) -> Zeroizing<[u8; 32]> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(seed.as_mut());
    seed
}

/// The knowledge key pair a seed stands for. Its public half goes to the server and is
/// then forgotten by the phone.
pub fn key_from_seed(seed: &[u8; 32]) -> KeyPair {
    KeyPair::from_seed(seed, KNOWLEDGE_LABEL)
}

/// Wraps a seed under a *new* PIN (which must pass [`check_new`]) for `binding`.
pub fn wrap(seed: &[u8; 32], pin: &str, binding: &str, rng: &mut impl Csprng) -> Result<WrappedSeed, PinError> {
    check_new(pin)?;
    let mut salt = [0u8; 32];
    rng.fill_bytes(&mut salt);
    let pad = pad(digits(pin)?, &salt, binding);
    let mut wrapped = [0u8; 32];
    for (i, w) in wrapped.iter_mut().enumerate() {
        *w = seed[i] ^ pad[i];
    }
    Ok(WrappedSeed { salt, wrapped })
}

/// A fresh knowledge key under `pin`: what the phone stores, and the key pair.
pub fn new_knowledge_key(pin: &str, binding: &str, rng: &mut impl Csprng) -> Result<(WrappedSeed, KeyPair), PinError> {
    check_new(pin)?;
    let seed = new_seed(rng);
    Ok((wrap(&seed, pin, binding, rng)?, key_from_seed(&seed)))
}

/// The knowledge key that `pin` unwraps: the right one for the right PIN, a different
/// but equally valid one for any other.
pub fn knowledge_key(stored: &WrappedSeed, pin: &str, binding: &str) -> Result<KeyPair, PinError> {
    Ok(key_from_seed(&*candidate_seed(stored, pin, binding)?))
}

/// The seed `pin` unwraps to (exposed for the P1 test, which inspects all 100,000).
pub fn candidate_seed(stored: &WrappedSeed, pin: &str, binding: &str) -> Result<Zeroizing<[u8; 32]>, PinError> {
    let pad = pad(digits(pin)?, &stored.salt, binding);
    let mut seed = Zeroizing::new([0u8; 32]);
    for (i, s) in seed.iter_mut().enumerate() {
        *s = stored.wrapped[i] ^ pad[i];
    }
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn trivial_pins_are_refused() {
        for pin in ["00000", "77777", "12345", "54321", "01234", "43210", "78901", "10987"] {
            assert_eq!(check_new(pin), Err(PinError::Trivial), "{pin}");
        }
        for pin in ["1234", "123456", "1234a", "１２３４５", ""] {
            assert_eq!(check_new(pin), Err(PinError::Format), "{pin}");
        }
        for pin in ["13579", "24680", "11112", "90210", "12346"] {
            check_new(pin).unwrap();
        }
    }

    #[test]
    fn the_right_pin_gives_the_registered_key_and_others_do_not() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let (stored, key) = new_knowledge_key("24680", "b1", &mut rng).unwrap();
        assert_eq!(knowledge_key(&stored, "24680", "b1").unwrap().public_key(), key.public_key());
        assert_ne!(knowledge_key(&stored, "24681", "b1").unwrap().public_key(), key.public_key());
        // The binding is part of the pad: a seed copied to another binding is useless.
        assert_ne!(knowledge_key(&stored, "24680", "b2").unwrap().public_key(), key.public_key());
    }
}
