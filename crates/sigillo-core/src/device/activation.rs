//! Activation codes and QR payloads (PROTOCOL.md §3).
//!
//! A code is 20 characters of Crockford's base32 in four groups of five, e.g.
//! `7JFJM-YR1TK-M5Z49-61Z2B`: 40 bits that find the activation, 40 secret bits that the
//! server checks (at most 5 wrong tries), then 20 check bits (a CRC-16/XMODEM of the 80
//! bits above, zero-extended). The CRC catches every single mistyped character and every
//! swap of two neighbours before any server call: both change at most 10 adjacent bits,
//! and a CRC-16 detects every burst of up to 16.
//!
//! The QR carries the code and its expiry, signed with the server's master key, so the
//! app can refuse a QR that someone else printed (P6).

use super::canonical::Canon;
use super::keys::{self, MasterKey};
use super::{b64, unb64};
use crate::Csprng;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);
const QR_PREFIX: &str = "SIGILLO1";
const QR_DOMAIN: &str = "sigillo/activation-qr/v1";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodeError {
    #[error("an activation code has 20 characters")]
    Length,
    #[error("an activation code has only digits and the letters A-Z without I, L, O and U")]
    Character,
    #[error("the activation code has a typo: check it and type it again")]
    Checksum,
    #[error("this is not a sigillo activation QR code")]
    QrFormat,
    #[error("the QR code's signature does not verify: it was not made by this bank's server")]
    QrSignature,
}

/// A parsed activation code: `id` finds it, `secret` proves it.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode {
    pub id: [u8; 5],
    secret: [u8; 5],
}

impl std::fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActivationCode({}…)", hex::encode(self.id))
    }
}

impl ActivationCode {
    pub fn generate(rng: &mut impl Csprng) -> Self {
        let mut id = [0u8; 5];
        let mut secret = [0u8; 5];
        rng.fill_bytes(&mut id);
        rng.fill_bytes(&mut secret);
        Self { id, secret }
    }

    /// A code from its two halves (tests and tools; codes are normally generated).
    pub fn from_parts(id: [u8; 5], secret: [u8; 5]) -> Self {
        Self { id, secret }
    }

    /// The store's key for the activation.
    pub fn lookup_id(&self) -> String {
        hex::encode(self.id)
    }

    /// What the store keeps of the secret half: HMAC-SHA-256 under a server key, so a
    /// database copy alone cannot rebuild a code.
    pub fn secret_digest(&self, key: &[u8; 32]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(b"sigillo/activation-secret/v1");
        mac.update(&self.id);
        mac.update(&self.secret);
        mac.finalize().into_bytes().to_vec()
    }

    /// The code as printed: four groups of five.
    pub fn display(&self) -> String {
        let mut payload = [0u8; 10];
        payload[..5].copy_from_slice(&self.id);
        payload[5..].copy_from_slice(&self.secret);
        let mut chars = to_base32(&payload);
        let check = u32::from(CRC.checksum(&payload));
        for shift in [15, 10, 5, 0] {
            chars.push(char::from(ALPHABET[((check >> shift) & 31) as usize]));
        }
        let mut out = String::with_capacity(23);
        for (i, c) in chars.chars().enumerate() {
            if i > 0 && i % 5 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    /// Parses what a customer typed: case, dashes and spaces do not matter, and the
    /// look-alikes O, I and L read as 0, 1 and 1 (Crockford).
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let mut values = Vec::with_capacity(20);
        for c in text.chars().filter(|c| !matches!(c, '-' | ' ')) {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            let v = ALPHABET.iter().position(|&a| char::from(a) == c).ok_or(CodeError::Character)?;
            values.push(v as u8);
        }
        if values.len() != 20 {
            return Err(CodeError::Length);
        }
        let payload = from_base32(&values[..16]);
        let check = values[16..].iter().fold(0u32, |acc, &v| (acc << 5) | u32::from(v));
        if check != u32::from(CRC.checksum(&payload)) {
            return Err(CodeError::Checksum);
        }
        let mut id = [0u8; 5];
        let mut secret = [0u8; 5];
        id.copy_from_slice(&payload[..5]);
        secret.copy_from_slice(&payload[5..]);
        Ok(Self { id, secret })
    }
}

/// 10 bytes → 16 characters, most significant bits first.
fn to_base32(bytes: &[u8; 10]) -> String {
    let value = bytes.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
    (0..16).rev().map(|i| char::from(ALPHABET[((value >> (i * 5)) & 31) as usize])).collect()
}

fn from_base32(values: &[u8]) -> [u8; 10] {
    let value = values.iter().fold(0u128, |acc, &v| (acc << 5) | u128::from(v));
    let mut out = [0u8; 10];
    for (i, b) in out.iter_mut().enumerate() {
        *b = (value >> (8 * (9 - i))) as u8;
    }
    out
}

/// The signed QR payload: `SIGILLO1:<code>:<expires_at_ms>:<signature>`.
pub fn qr_payload(code: &ActivationCode, expires_at_ms: u64, master: &MasterKey) -> String {
    let display = code.display();
    let signature = master.sign(&qr_message(&display, expires_at_ms));
    format!("{QR_PREFIX}:{display}:{expires_at_ms}:{}", b64(&signature))
}

fn qr_message(display: &str, expires_at_ms: u64) -> Vec<u8> {
    Canon::new(QR_DOMAIN).str(display).u64(expires_at_ms).finish()
}

/// What the app does with a scanned QR: checks the master key's signature, then the code.
pub fn verify_qr(payload: &str, master_public: &[u8]) -> Result<(ActivationCode, u64), CodeError> {
    let mut parts = payload.trim().split(':');
    let (Some(QR_PREFIX), Some(display), Some(expires), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CodeError::QrFormat);
    };
    // Only the canonical decimal form: one text per QR (no sign, no leading zeros).
    let canonical = !expires.is_empty() && expires.bytes().all(|b| b.is_ascii_digit()) && !expires.starts_with('0');
    let expires: u64 = expires.parse().ok().filter(|_| canonical).ok_or(CodeError::QrFormat)?;
    let signature = unb64(signature).ok_or(CodeError::QrFormat)?;
    if !keys::verify(master_public, &qr_message(display, expires), &signature) {
        return Err(CodeError::QrSignature);
    }
    Ok((ActivationCode::parse(display)?, expires))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(11)
    }

    #[test]
    fn codes_round_trip_and_tolerate_case_dashes_and_look_alikes() {
        let mut rng = rng();
        for _ in 0..200 {
            let code = ActivationCode::generate(&mut rng);
            let text = code.display();
            assert_eq!(text.len(), 23);
            assert_eq!(ActivationCode::parse(&text).unwrap(), code);
            assert_eq!(ActivationCode::parse(&text.to_lowercase().replace('-', " ")).unwrap(), code);
            let o_for_zero: String = text.chars().map(|c| if c == '0' { 'o' } else { c }).collect();
            assert_eq!(ActivationCode::parse(&o_for_zero).unwrap(), code);
        }
    }

    /// Issue 3: the checksum catches typos before any server call: every single wrong
    /// character and every swap of two different neighbours, in every position.
    #[test]
    fn every_single_typo_and_neighbour_swap_is_caught() {
        let mut rng = rng();
        for _ in 0..20 {
            let code = ActivationCode::generate(&mut rng);
            let chars: Vec<u8> = code.display().replace('-', "").into_bytes();
            for pos in 0..20 {
                for &other in ALPHABET {
                    if other != chars[pos] {
                        let mut typo = chars.clone();
                        typo[pos] = other;
                        let typo = String::from_utf8(typo).unwrap();
                        assert_eq!(ActivationCode::parse(&typo), Err(CodeError::Checksum), "{typo}");
                    }
                }
                if pos < 19 && chars[pos] != chars[pos + 1] {
                    let mut swapped = chars.clone();
                    swapped.swap(pos, pos + 1);
                    assert_eq!(ActivationCode::parse(&String::from_utf8(swapped).unwrap()), Err(CodeError::Checksum));
                }
            }
        }
        assert_eq!(ActivationCode::parse("ABCDE"), Err(CodeError::Length));
        assert_eq!(ActivationCode::parse("UUUUU-UUUUU-UUUUU-UUUUU"), Err(CodeError::Character));
    }

    /// Issue 3, P6: the app refuses a QR whose signature does not verify.
    #[test]
    fn a_tampered_or_foreign_qr_is_refused() {
        let mut rng = rng();
        let master = MasterKey::master_from_seed(&[7; 32]);
        let code = ActivationCode::generate(&mut rng);
        let qr = qr_payload(&code, 1_800_000_000_000, &master);
        assert_eq!(verify_qr(&qr, &master.public_key()).unwrap(), (code.clone(), 1_800_000_000_000));
        // Another code under the same signature.
        let other = ActivationCode::generate(&mut rng).display();
        let forged = qr.replace(&code.display(), &other);
        assert_eq!(verify_qr(&forged, &master.public_key()), Err(CodeError::QrSignature));
        // A later expiry.
        let later = qr.replace("1800000000000", "1900000000000");
        assert_eq!(verify_qr(&later, &master.public_key()), Err(CodeError::QrSignature));
        // Signed by another server.
        let foreign = qr_payload(&code, 1_800_000_000_000, &MasterKey::master_from_seed(&[8; 32]));
        assert_eq!(verify_qr(&foreign, &master.public_key()), Err(CodeError::QrSignature));
        assert_eq!(verify_qr("hello", &master.public_key()), Err(CodeError::QrFormat));
        for odd in ["+1800000000000", "01800000000000"] {
            assert_eq!(verify_qr(&qr.replace("1800000000000", odd), &master.public_key()), Err(CodeError::QrFormat));
        }
    }
}
