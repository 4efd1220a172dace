//! Bearer tokens (sessions, email validation links, login flows): 256 random bits, shown
//! once, stored only as a SHA-256 digest so a database copy cannot be replayed.

use crate::Csprng;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A fresh token, URL-safe base64 of 32 random bytes.
pub fn generate(rng: &mut impl Csprng) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps and looks tokens up by.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// R40: tokens are 256 random bits, kept only as SHA-256 digests.
    #[test]
    fn tokens_are_long_random_and_digest_stably() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let a = generate(&mut rng);
        let b = generate(&mut rng);
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(digest(&a), digest(&a));
        assert_ne!(digest(&a), digest(&b));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(hex::encode(digest("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
