//! Server-generated one-time codes sent by SMS to the certified phone.
//!
//! The code is 6 digits from the CSPRNG. Only a keyed digest is stored, bound to the
//! flow it was issued for, so a copy of the database neither reveals a live code nor
//! lets a code from one flow be replayed in another (P8).

use crate::Csprng;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

pub const DIGITS: usize = 6;

/// A fresh code. Zeroized when dropped.
pub fn generate(rng: &mut impl Csprng) -> Zeroizing<String> {
    Zeroizing::new(crate::random_digits(rng, DIGITS))
}

/// HMAC-SHA-256 of the code under the server's OTP key, bound to `flow_id`.
pub fn digest(key: &[u8; 32], flow_id: &str, code: &str) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"sigillo/sms-otp/v1\0");
    mac.update(flow_id.as_bytes());
    mac.update(b"\0");
    mac.update(code.trim().as_bytes());
    mac.finalize().into_bytes().into()
}

/// Constant-time check of a typed code against the stored digest.
pub fn matches(key: &[u8; 32], flow_id: &str, typed: &str, stored: &[u8]) -> bool {
    digest(key, flow_id, typed).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// R6, R8, R13, R40: a random code, kept only as a keyed digest bound to its flow.
    #[test]
    fn codes_are_six_digits_and_digests_bind_the_flow() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let key = [9u8; 32];
        let code = generate(&mut rng);
        assert_eq!(code.len(), DIGITS);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let stored = digest(&key, "flow-a", &code);
        assert!(matches(&key, "flow-a", &code, &stored));
        assert!(!matches(&key, "flow-b", &code, &stored), "bound to its flow");
        assert!(!matches(&[8u8; 32], "flow-a", &code, &stored), "bound to the key");
        let mut wrong = code.to_string();
        let last = wrong.pop().unwrap();
        wrong.push(if last == '9' { '0' } else { char::from(last as u8 + 1) });
        assert!(!matches(&key, "flow-a", &wrong, &stored));
        assert!(!matches(&key, "flow-a", &code, &stored[..31]), "length mismatch never matches");
    }

    /// R7: the code's digits are uniform CSPRNG output.
    #[test]
    fn digits_are_uniform_enough() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            for b in generate(&mut rng).bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        // 60,000 digits: each should be near 6,000.
        assert!(counts.iter().all(|&c| (5_600..6_400).contains(&c)), "{counts:?}");
    }
}
