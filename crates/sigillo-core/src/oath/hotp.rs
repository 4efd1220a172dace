//! HOTP (RFC 4226): `Truncate(HMAC(K, C)) mod 10^digits`, with `C` the counter as 8 bytes
//! big-endian, over SHA-1 as in the RFC or SHA-256/SHA-512 as RFC 6238 allows.

use super::{Hash, OathError, code_matches, decimal_code, truncate_mac};
use zeroize::Zeroizing;

/// Fewest digits accepted. RFC 4226 §5.3 requires at least 6 (R4).
pub const MIN_DIGITS: u32 = 6;
/// Most digits accepted. 8 is the most RFC 6238 uses; more would add no entropy worth the
/// typing (the truncated value has 31 bits).
pub const MAX_DIGITS: u32 = 8;

/// Refuses digit counts outside 6..=8.
pub fn check_digits(digits: u32) -> Result<(), OathError> {
    if (MIN_DIGITS..=MAX_DIGITS).contains(&digits) { Ok(()) } else { Err(OathError::Digits(digits)) }
}

/// Step 1 of RFC 4226 §5.3: `HMAC(K, C)`, exposed for the RFC's intermediate values.
pub fn hmac(key: &[u8], counter: u64, hash: Hash) -> Zeroizing<Vec<u8>> {
    hash.hmac(key, &counter.to_be_bytes())
}

/// Steps 1 and 2: the 31-bit dynamically truncated value `Sbits` as a number `Snum`.
pub fn truncated_value(key: &[u8], counter: u64, hash: Hash) -> u32 {
    truncate_mac(&hmac(key, counter, hash))
}

/// The HOTP code for `counter`, `digits` long (zero-padded).
pub fn code(key: &[u8], counter: u64, digits: u32, hash: Hash) -> Result<String, OathError> {
    check_digits(digits)?;
    Ok(decimal_code(truncated_value(key, counter, hash), digits))
}

/// Whether `typed` is the code for exactly `counter`, compared in constant time. Looking
/// ahead of the counter, and remembering which counters were used, is the caller's.
pub fn verify(key: &[u8], counter: u64, digits: u32, hash: Hash, typed: &str) -> Result<bool, OathError> {
    let expected = code(key, counter, digits, hash)?;
    Ok(code_matches(&expected, typed).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4226 Appendix D, count 0, spot-checked here; tests/oath.rs runs them all.
    #[test]
    fn first_rfc_value_and_digit_limits() {
        let key = b"12345678901234567890";
        assert_eq!(code(key, 0, 6, Hash::Sha1).unwrap(), "755224");
        assert_eq!(code(key, 0, 8, Hash::Sha1).unwrap(), "84755224");
        assert_eq!(code(key, 0, 5, Hash::Sha1), Err(OathError::Digits(5)));
        assert_eq!(code(key, 0, 9, Hash::Sha1), Err(OathError::Digits(9)));
        assert!(verify(key, 0, 6, Hash::Sha1, " 755224 ").unwrap());
        assert!(!verify(key, 1, 6, Hash::Sha1, "755224").unwrap());
        assert!(!verify(key, 0, 6, Hash::Sha1, "7552240").unwrap());
    }
}
