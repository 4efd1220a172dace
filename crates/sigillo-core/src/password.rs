//! Password policies and Argon2id hashing (P7).
//!
//! The bank's default policy is the one its customers know: at least 8 digits, digits
//! only, nothing trivially guessable. A NIST SP 800-63B §5.1.1.2 style policy (length
//! over composition, a blocklist of common choices) can be configured instead.
//! Hashing is CPU-bound by design: callers on an async runtime must run it on a
//! blocking thread.

use crate::{Csprng, random_digits};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// Digits only, no runs or repeats: what the bank's customers have always used.
    Numeric,
    /// NIST SP 800-63B: any characters, length matters, common passwords refused.
    Nist,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub kind: PolicyKind,
    pub min_length: usize,
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { kind: PolicyKind::Numeric, min_length: 8, max_length: 32 }
    }
}

/// Why a new password was refused. Each has a stable code the surfaces translate.
#[derive(Debug, Error, PartialEq, Eq, Clone, Copy)]
pub enum PasswordError {
    #[error("the password is too short")]
    TooShort,
    #[error("the password is too long")]
    TooLong,
    #[error("the password must contain digits only")]
    NotNumeric,
    #[error("the password is too easy to guess (repeated digits, a run or a pattern)")]
    Trivial,
    #[error("the password is too common")]
    Common,
    #[error("the password must not contain your user code or alias")]
    ContainsIdentity,
}

impl PasswordError {
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "password_too_short",
            Self::TooLong => "password_too_long",
            Self::NotNumeric => "password_not_numeric",
            Self::Trivial => "password_trivial",
            Self::Common => "password_common",
            Self::ContainsIdentity => "password_contains_identity",
        }
    }
}

/// A few of the most used passwords of public breach corpora; NIST asks for a blocklist,
/// the length and pattern rules catch the rest.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "passw0rd",
    "qwertyuiop",
    "iloveyou",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "trustno1",
    "superman",
    "starwars",
    "whatever",
    "dragon123",
    "monkey123",
    "letmein1",
    "abc12345",
    "qwerty123",
    "1q2w3e4r",
    "zaq12wsx",
    "password123",
    "forzainter",
    "forzamilan",
    "forzajuve",
    "juventus",
    "ciaociao",
];

impl PasswordPolicy {
    /// Checks a new password. `identity` holds the user code and alias, which a password may not contain.
    pub fn check(&self, password: &str, identity: &[&str]) -> Result<(), PasswordError> {
        let len = password.chars().count();
        if len < self.min_length {
            return Err(PasswordError::TooShort);
        }
        if len > self.max_length {
            return Err(PasswordError::TooLong);
        }
        if self.kind == PolicyKind::Numeric && !password.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PasswordError::NotNumeric);
        }
        if is_trivial(password) {
            return Err(PasswordError::Trivial);
        }
        let lower = password.to_lowercase();
        if COMMON.contains(&lower.as_str()) {
            return Err(PasswordError::Common);
        }
        if identity.iter().any(|id| id.chars().count() >= 3 && lower.contains(&id.to_lowercase())) {
            return Err(PasswordError::ContainsIdentity);
        }
        Ok(())
    }

    /// A random initial password for the branch envelope that this policy accepts.
    pub fn generate_initial(&self, rng: &mut impl Csprng) -> String {
        let len = self.min_length.clamp(8, self.max_length.max(8));
        loop {
            let candidate = random_digits(rng, len);
            if self.check(&candidate, &[]).is_ok() {
                return candidate;
            }
        }
    }
}

/// One character repeated, a straight run up or down ("12345678", "87654321", "abcdefgh",
/// wrapping "90123456" too) or a short block repeated ("12121212", "123123123").
fn is_trivial(password: &str) -> bool {
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < 2 {
        return true;
    }
    let step = |a: char, b: char| (b as i64) - (a as i64);
    let digits = chars.iter().all(char::is_ascii_digit);
    let straight = |dir: i64| {
        chars.windows(2).all(|w| {
            let d = step(w[0], w[1]);
            d == dir || (digits && d == -9 * dir)
        })
    };
    if straight(1) || straight(-1) {
        return true;
    }
    (1..=chars.len() / 2).any(|period| chars.len() % period == 0 && chars.chunks(period).all(|c| c == &chars[..period]))
}

/// Argon2id cost parameters (RFC 9106). The defaults are OWASP's first recommended set
/// (19 MiB, 2 passes, 1 lane).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 }
    }
}

#[derive(Debug, Error)]
#[error("argon2: {0}")]
pub struct HashError(String);

impl HashParams {
    fn argon2(&self) -> Result<argon2::Argon2<'static>, HashError> {
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| HashError(e.to_string()))?;
        Ok(argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
    }

    /// Hashes a secret into a PHC string (`$argon2id$v=19$m=…`) with a fresh 16-byte salt.
    pub fn hash(&self, secret: &str, rng: &mut impl Csprng) -> Result<String, HashError> {
        let salt = SaltString::generate(rng);
        self.argon2()?
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    }
}

/// Argon2 working memory kept between verifications. Allocating and faulting in 19 MiB
/// for every login costs a third as much as the hash itself; a verifying thread that owns
/// one of these pays it once.
#[derive(Default)]
pub struct Workspace {
    blocks: Vec<argon2::Block>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Workspace({} blocks)", self.blocks.len())
    }
}

/// [`verify`] in a reused [`Workspace`]. Same answers, same constant-time comparison;
/// only Argon2id hashes are accepted (all sigillo writes).
pub fn verify_in(ws: &mut Workspace, phc: &str, secret: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Ok(hash) = PasswordHash::new(phc) else { return false };
    if hash.algorithm != argon2::ARGON2ID_IDENT {
        return false;
    }
    let (Ok(params), Some(salt), Some(expected)) = (argon2::Params::try_from(&hash), hash.salt, hash.hash) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from) {
        None => argon2::Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let blocks = params.block_count();
    if ws.blocks.len() < blocks {
        ws.blocks.resize(blocks, argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, version, params);
    if argon.hash_password_into_with_memory(secret.as_bytes(), salt, &mut out, &mut ws.blocks[..blocks]).is_err() {
        return false;
    }
    out.ct_eq(expected.as_bytes()).into()
}

/// Verifies a secret against a PHC string. The parameters come from the string, so
/// hashes made before a cost change keep verifying. Comparison is constant-time
/// (the `password-hash` crate compares outputs with `subtle`).
pub fn verify(phc: &str, secret: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2::Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn numeric() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    #[test]
    fn numeric_policy_refuses_what_the_bank_refuses() {
        let p = numeric();
        assert_eq!(p.check("5830164", &[]), Err(PasswordError::TooShort));
        assert_eq!(p.check("5830164a", &[]), Err(PasswordError::NotNumeric));
        for trivial in ["11111111", "12345678", "87654321", "90123456", "12121212", "123123123", "10987654"] {
            assert_eq!(p.check(trivial, &[]), Err(PasswordError::Trivial), "{trivial}");
        }
        assert_eq!(p.check("4815162342", &["48151623"]), Err(PasswordError::ContainsIdentity));
        assert!(p.check("58301649", &["12345670"]).is_ok());
        assert_eq!(p.check(&"58301649".repeat(5), &[]), Err(PasswordError::TooLong));
    }

    #[test]
    fn nist_policy_allows_passphrases_but_not_common_ones() {
        let p = PasswordPolicy { kind: PolicyKind::Nist, min_length: 8, max_length: 64 };
        assert!(p.check("correct horse battery staple", &[]).is_ok());
        assert_eq!(p.check("Password1", &[]), Err(PasswordError::Common));
        assert_eq!(p.check("abcdefgh", &[]), Err(PasswordError::Trivial));
        assert_eq!(p.check("mario.rossi-2024", &["mario.rossi"]), Err(PasswordError::ContainsIdentity));
        assert_eq!(p.check(&"x".repeat(65), &[]), Err(PasswordError::TooLong));
    }

    /// R42: the envelope's initial passwords are random and pass the policy.
    #[test]
    fn initial_passwords_pass_their_policy() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for policy in [numeric(), PasswordPolicy { kind: PolicyKind::Nist, min_length: 12, max_length: 64 }] {
            for _ in 0..200 {
                let pw = policy.generate_initial(&mut rng);
                assert!(policy.check(&pw, &[]).is_ok(), "{pw}");
                assert!(pw.len() >= policy.min_length);
            }
        }
    }

    /// R40, P7: secrets are stored as salted Argon2id hashes.
    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let params = HashParams { memory_kib: 64, iterations: 1, parallelism: 1 };
        let a = params.hash("58301649", &mut rng).unwrap();
        let b = params.hash("58301649", &mut rng).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_ne!(a, b, "salts differ");
        assert!(verify(&a, "58301649"));
        assert!(!verify(&a, "58301648"));
        assert!(!verify("not a hash", "58301649"));
        // The reused workspace gives the same answers, across parameter changes too.
        let mut ws = Workspace::default();
        let bigger = HashParams { memory_kib: 256, iterations: 2, parallelism: 2 }.hash("73920518", &mut rng).unwrap();
        for _ in 0..2 {
            assert!(verify_in(&mut ws, &a, "58301649"));
            assert!(!verify_in(&mut ws, &a, "58301648"));
            assert!(verify_in(&mut ws, &bigger, "73920518"));
            assert!(!verify_in(&mut ws, &bigger, "58301649"));
        }
        assert!(!verify_in(&mut ws, "not a hash", "58301649"));
        assert!(!verify_in(&mut ws, &a.replace("argon2id", "argon2i"), "58301649"), "argon2id only");
    }
}
