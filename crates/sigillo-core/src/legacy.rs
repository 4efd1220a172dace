//! Legacy credentials of acquired banks (DESIGN flow 10, issue 6): the password hashes
//! their systems kept, as the import file carries them, checked once when the customer
//! activates new credentials.
//!
//! Accepted formats (docs/PROTOCOL.md §19):
//! - **bcrypt**: `$2a$`, `$2b$`, `$2y$` modular crypt strings (the `bcrypt` crate).
//! - **PBKDF2-HMAC-SHA256**: the PHC string `$pbkdf2-sha256$i=ROUNDS,l=LEN$SALT$HASH` (standard
//!   base64 without padding), and passlib's `$pbkdf2-sha256$ROUNDS$SALT$HASH` (passlib's
//!   "adapted" base64: `.` for `+`, no padding).
//! - **Argon2** (`argon2id`, `argon2i`, `argon2d`) PHC strings (the `argon2` crate).
//! - **salted SHA-256**: `$sha256-salted$SALT_HEX$DIGEST_HEX`, where the digest is
//!   SHA-256(salt bytes ‖ password as UTF-8): what older in-house systems stored.
//!
//! Parameters are bounded so that a crafted import file cannot make one verification cost
//! seconds or gigabytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// PBKDF2 rounds accepted at most (OWASP's 2023 advice is 600,000).
pub const MAX_PBKDF2_ROUNDS: u32 = 5_000_000;
/// bcrypt cost accepted at most (2^15 rounds: about 2 s on a server core).
pub const MAX_BCRYPT_COST: u32 = 15;
/// Argon2 memory accepted at most, in KiB (256 MiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LegacyHashError {
    #[error("unknown password hash format")]
    UnknownFormat,
    #[error("malformed {0} hash")]
    Malformed(&'static str),
    #[error("{0} parameters beyond what sigillo accepts")]
    TooCostly(&'static str),
}

impl LegacyHashError {
    /// A stable code for reports (`sigillo admin legacy import`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownFormat => "hash_format_unknown",
            Self::Malformed(_) => "hash_malformed",
            Self::TooCostly(_) => "hash_too_costly",
        }
    }
}

/// A checked legacy hash. The string is kept as imported; [`LegacyHash::verify`] parses
/// the parts it needs again (cheap next to the hashing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyHash {
    scheme: Scheme,
    encoded: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Bcrypt,
    Pbkdf2Sha256,
    Argon2,
    SaltedSha256,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bcrypt => "bcrypt",
            Self::Pbkdf2Sha256 => "pbkdf2-sha256",
            Self::Argon2 => "argon2",
            Self::SaltedSha256 => "sha256-salted",
        }
    }
}

/// PBKDF2's parts.
struct Pbkdf2Parts {
    rounds: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl LegacyHash {
    /// Checks the format and its parameters.
    pub fn parse(encoded: &str) -> Result<Self, LegacyHashError> {
        let encoded = encoded.trim();
        let scheme = if encoded.starts_with("$2a$") || encoded.starts_with("$2b$") || encoded.starts_with("$2y$") {
            check_bcrypt(encoded)?;
            Scheme::Bcrypt
        } else if encoded.starts_with("$pbkdf2-sha256$") {
            pbkdf2_parts(encoded)?;
            Scheme::Pbkdf2Sha256
        } else if encoded.starts_with("$argon2") {
            check_argon2(encoded)?;
            Scheme::Argon2
        } else if encoded.starts_with("$sha256-salted$") {
            salted_parts(encoded)?;
            Scheme::SaltedSha256
        } else {
            return Err(LegacyHashError::UnknownFormat);
        };
        Ok(Self { scheme, encoded: encoded.to_owned() })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The string as imported (what the store keeps, sealed).
    pub fn as_str(&self) -> &str {
        &self.encoded
    }

    /// Whether `password` is the one this hash was made from (constant-time comparison of
    /// the derived values).
    pub fn verify(&self, password: &str) -> bool {
        match self.scheme {
            Scheme::Bcrypt => bcrypt::verify(password, &self.encoded).unwrap_or(false),
            Scheme::Pbkdf2Sha256 => match pbkdf2_parts(&self.encoded) {
                Ok(p) => {
                    let mut out = vec![0u8; p.hash.len()];
                    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &p.salt, p.rounds, &mut out);
                    bool::from(out.ct_eq(&p.hash))
                }
                Err(_) => false,
            },
            Scheme::Argon2 => {
                use argon2::password_hash::{PasswordHash, PasswordVerifier};
                PasswordHash::new(&self.encoded)
                    .is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            }
            Scheme::SaltedSha256 => match salted_parts(&self.encoded) {
                Ok((salt, digest)) => {
                    let mut h = Sha256::new();
                    h.update(&salt);
                    h.update(password.as_bytes());
                    bool::from(h.finalize().as_slice().ct_eq(&digest))
                }
                Err(_) => false,
            },
        }
    }
}

fn check_bcrypt(encoded: &str) -> Result<(), LegacyHashError> {
    const NAME: &str = "bcrypt";
    // $2b$CC$ + 22 characters of salt + 31 of hash.
    let parts: Vec<&str> = encoded.split('$').collect();
    let [_, _, cost, rest] = parts[..] else { return Err(LegacyHashError::Malformed(NAME)) };
    let cost: u32 = cost.parse().map_err(|_| LegacyHashError::Malformed(NAME))?;
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if cost.to_string().len() > 2 || !(4..=31).contains(&cost) || rest.len() != 53 || !rest.chars().all(alphabet) {
        return Err(LegacyHashError::Malformed(NAME));
    }
    if cost > MAX_BCRYPT_COST {
        return Err(LegacyHashError::TooCostly(NAME));
    }
    Ok(())
}

fn pbkdf2_parts(encoded: &str) -> Result<Pbkdf2Parts, LegacyHashError> {
    const NAME: &str = "pbkdf2-sha256";
    let bad = || LegacyHashError::Malformed(NAME);
    let parts: Vec<&str> = encoded.split('$').collect();
    let [_, _, params, salt, hash] = parts[..] else { return Err(bad()) };
    let (rounds, salt, hash, len) = if let Some(phc) = params.strip_prefix("i=") {
        // PHC: i=ROUNDS[,l=LEN], standard base64 without padding.
        let (rounds, len) = match phc.split_once(",l=") {
            Some((r, l)) => (r, Some(l.parse::<usize>().map_err(|_| bad())?)),
            None => (phc, None),
        };
        let decode = |s: &str| STANDARD_NO_PAD.decode(s).map_err(|_| bad());
        (rounds.parse::<u32>().map_err(|_| bad())?, decode(salt)?, decode(hash)?, len)
    } else {
        // passlib: ROUNDS, adapted base64 ('.' for '+').
        let decode = |s: &str| STANDARD_NO_PAD.decode(s.replace('.', "+")).map_err(|_| bad());
        (params.parse::<u32>().map_err(|_| bad())?, decode(salt)?, decode(hash)?, None)
    };
    if rounds == 0 || salt.len() < 8 || !(16..=64).contains(&hash.len()) || len.is_some_and(|l| l != hash.len()) {
        return Err(bad());
    }
    if rounds > MAX_PBKDF2_ROUNDS {
        return Err(LegacyHashError::TooCostly(NAME));
    }
    Ok(Pbkdf2Parts { rounds, salt, hash })
}

fn check_argon2(encoded: &str) -> Result<(), LegacyHashError> {
    const NAME: &str = "argon2";
    let hash = argon2::password_hash::PasswordHash::new(encoded).map_err(|_| LegacyHashError::Malformed(NAME))?;
    if !matches!(hash.algorithm.as_str(), "argon2id" | "argon2i" | "argon2d") || hash.hash.is_none() {
        return Err(LegacyHashError::Malformed(NAME));
    }
    let params = argon2::Params::try_from(&hash).map_err(|_| LegacyHashError::Malformed(NAME))?;
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB || params.t_cost() > 64 || params.p_cost() > 16 {
        return Err(LegacyHashError::TooCostly(NAME));
    }
    Ok(())
}

fn salted_parts(encoded: &str) -> Result<(Vec<u8>, Vec<u8>), LegacyHashError> {
    const NAME: &str = "sha256-salted";
    let parts: Vec<&str> = encoded.split('$').collect();
    let [_, _, salt, digest] = parts[..] else { return Err(LegacyHashError::Malformed(NAME)) };
    let salt = hex::decode(salt).map_err(|_| LegacyHashError::Malformed(NAME))?;
    let digest = hex::decode(digest).map_err(|_| LegacyHashError::Malformed(NAME))?;
    if salt.len() < 4 || digest.len() != 32 {
        return Err(LegacyHashError::Malformed(NAME));
    }
    Ok((salt, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_malformed_formats_are_refused() {
        assert_eq!(LegacyHash::parse("5f4dcc3b5aa765d61d8327deb882cf99"), Err(LegacyHashError::UnknownFormat));
        assert_eq!(LegacyHash::parse("$1$abc$def"), Err(LegacyHashError::UnknownFormat));
        assert_eq!(LegacyHash::parse("$2b$10$short"), Err(LegacyHashError::Malformed("bcrypt")));
        assert_eq!(LegacyHash::parse("$pbkdf2-sha256$i=x$AAAA$BBBB"), Err(LegacyHashError::Malformed("pbkdf2-sha256")));
        assert_eq!(LegacyHash::parse("$sha256-salted$zz$00"), Err(LegacyHashError::Malformed("sha256-salted")));
        assert_eq!(LegacyHash::parse("$argon2id$v=19$m=64"), Err(LegacyHashError::Malformed("argon2")));
    }

    #[test]
    fn costs_are_bounded() {
        let salt = STANDARD_NO_PAD.encode([7u8; 16]);
        let hash = STANDARD_NO_PAD.encode([9u8; 32]);
        let many = format!("$pbkdf2-sha256$i={},l=32${salt}${hash}", MAX_PBKDF2_ROUNDS + 1);
        assert_eq!(LegacyHash::parse(&many), Err(LegacyHashError::TooCostly("pbkdf2-sha256")));
        let costly = format!("$2b$16${}", "a".repeat(53));
        assert_eq!(LegacyHash::parse(&costly), Err(LegacyHashError::TooCostly("bcrypt")));
        let big = format!("$argon2id$v=19$m={},t=2,p=1${salt}${hash}", MAX_ARGON2_MEMORY_KIB * 2);
        assert_eq!(LegacyHash::parse(&big), Err(LegacyHashError::TooCostly("argon2")));
    }

    #[test]
    fn salted_sha256_is_sha256_of_salt_then_password() {
        let salt = b"pepe";
        let digest = Sha256::digest([salt.as_slice(), b"carige2024"].concat());
        let h = LegacyHash::parse(&format!("$sha256-salted${}${}", hex::encode(salt), hex::encode(digest))).unwrap();
        assert_eq!(h.scheme(), Scheme::SaltedSha256);
        assert!(h.verify("carige2024"));
        assert!(!h.verify("carige2025"));
    }
}
