//! The security code of the branch envelope ("codice di sicurezza"): 20 characters that
//! unlock the user and recover the password. Stored only as an Argon2id hash (P7).

use crate::Csprng;

/// No 0/O, 1/I/L: nothing a customer can misread from paper.
const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const LEN: usize = 20;

/// A fresh security code (31^20, about 99 bits), in its canonical form (no separators).
pub fn generate(rng: &mut impl Csprng) -> String {
    let mut out = String::with_capacity(LEN);
    while out.len() < LEN {
        let mut byte = [0u8; 1];
        rng.fill_bytes(&mut byte);
        // 248 = 8 * 31: rejecting the rest keeps every character equally likely.
        if byte[0] < 248 {
            out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    out
}

/// As printed in the envelope: four groups of five.
pub fn format_grouped(code: &str) -> String {
    code.as_bytes().chunks(5).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
}

/// What the customer typed, in canonical form: case and separators ignored. `None` when
/// it cannot be a security code (the caller still counts it as a failed attempt).
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// R42: security codes are random over an unambiguous alphabet.
    #[test]
    fn codes_use_the_unambiguous_alphabet_and_round_trip() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for _ in 0..500 {
            let code = generate(&mut rng);
            assert_eq!(code.len(), LEN);
            assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
            let printed = format_grouped(&code);
            assert_eq!(printed.len(), 23);
            assert_eq!(normalize(&printed.to_lowercase()).as_deref(), Some(code.as_str()));
        }
        assert_eq!(normalize("too-short"), None);
        assert_eq!(normalize("0000000000OOOOOOOOOO"), None);
    }
}
