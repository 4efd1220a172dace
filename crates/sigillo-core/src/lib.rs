//! sigillo's pure core: the protocol and domain rules of strong customer authentication.
//!
//! Everything here takes bytes, numbers, `now` and a CSPRNG in, and gives decisions,
//! messages and new state out. No I/O, no async, no clock and no RNG of its own
//! (`clippy.toml` bans them), so every rule can be tested with fixed inputs and
//! reused by the server, the store and the device SDK alike.
//!
//! # Layout
//! - [`time`]: `UnixMillis`, the only notion of time.
//! - [`identity`]: user codes, aliases, certified phones, email addresses.
//! - [`password`]: password policies and Argon2id hashing.
//! - [`security_code`]: the 20-character branch envelope code.
//! - [`key6`]: the card's static 6-digit 3-D Secure code: what may be chosen, how it is compared.
//! - [`sms_otp`]: server-generated one-time codes and their keyed digests.
//! - [`attempts`]: the consecutive-failure rule of RTS art. 4(3)(b).
//! - [`kek`]: the key-encryption key and sealing of server-side secrets (P7).
//! - [`token`]: random bearer tokens and their stored digests.
//! - [`audit`]: the hash chain of the audit trail (P11).
//! - [`device`]: the device binding protocol: activation, keys, the PIN, signed messages.
//! - [`oath`]: the offline codes: HOTP, TOTP (login OTP) and OCRA (transaction OTP) (P4, P5).
//! - [`payment`]: what a customer may be asked to approve: validated payments (IBAN,
//!   ISO 4217 currency, amount) and their canonical operation fields (P5).
//! - [`threeds`]: the EMV 3-D Secure 2.2 ACS's pure parts.
#![forbid(unsafe_code)]

pub mod attempts;
pub mod audit;
pub mod device;
pub mod identity;
pub mod kek;
pub mod key6;
pub mod legacy;
pub mod oath;
pub mod password;
pub mod payment;
pub mod security_code;
pub mod sms_otp;
pub mod threeds;
pub mod time;
pub mod token;

/// The randomness every generator here needs: a cryptographically secure RNG.
pub trait Csprng: rand_core::RngCore + rand_core::CryptoRng {}
impl<T: rand_core::RngCore + rand_core::CryptoRng> Csprng for T {}

/// A uniformly random decimal digit string of `len` digits, by rejection sampling
/// (no modulo bias).
pub(crate) fn random_digits(rng: &mut impl Csprng, len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        // 250 is the largest multiple of 10 below 256: reject the rest.
        if byte[0] < 250 {
            out.push(char::from(b'0' + byte[0] % 10));
        }
    }
    out
}
