//! Who a user is: the 8-digit user code, the optional alias, the certified phone and the
//! email address. Validation rules live here so the web, the API and the operator
//! commands all refuse the same input with the same reason.

use crate::{Csprng, random_digits};
use thiserror::Error;

/// Length of a user code ("codice utente", 8 digits in the seed guides).
pub const USER_CODE_LEN: usize = 8;
/// Length of a card-portal UserID (see [`generate_portal_user_id`]).
pub const PORTAL_USER_ID_LEN: usize = 10;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error("an alias has 3 to 32 characters")]
    AliasLength,
    #[error("an alias may contain only letters, digits, '.', '-' and '_'")]
    AliasCharacters,
    #[error("an alias cannot be made of digits only (it would look like a user code)")]
    AliasAllDigits,
    #[error("a phone number must be in E.164 form, such as +393331234567")]
    Phone,
    #[error("the email address is not valid")]
    Email,
}

/// A fresh user code: 8 random digits, first digit non-zero so it never loses a digit
/// in a spreadsheet. Random, not sequential, so codes do not reveal customer counts or
/// neighbours; the store retries on the (rare) collision.
pub fn generate_user_code(rng: &mut impl Csprng) -> String {
    loop {
        let code = random_digits(rng, USER_CODE_LEN);
        if !code.starts_with('0') {
            return code;
        }
    }
}

/// A fresh card-portal UserID (DESIGN flow 9): 10 random digits, first non-zero. Two
/// digits longer than a user code, so the two login names never meet: web banking looks
/// up 8 digits, the portal 10 (and an alias is never all digits).
pub fn generate_portal_user_id(rng: &mut impl Csprng) -> String {
    loop {
        let id = random_digits(rng, PORTAL_USER_ID_LEN);
        if !id.starts_with('0') {
            return id;
        }
    }
}

/// Whether `s` has the shape of a card-portal UserID.
pub fn looks_like_portal_user_id(s: &str) -> bool {
    s.len() == PORTAL_USER_ID_LEN && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` has the shape of a user code (what a login form's username is when it is not an alias).
pub fn looks_like_user_code(s: &str) -> bool {
    s.len() == USER_CODE_LEN && s.bytes().all(|b| b.is_ascii_digit())
}

/// Validates an alias and returns its normal form, which is what uniqueness is checked
/// on (aliases are unique case-insensitively).
pub fn normalize_alias(alias: &str) -> Result<String, IdentityError> {
    let alias = alias.trim();
    let len = alias.chars().count();
    if !(3..=32).contains(&len) {
        return Err(IdentityError::AliasLength);
    }
    if !alias.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Err(IdentityError::AliasCharacters);
    }
    if alias.chars().all(|c| c.is_ascii_digit()) {
        return Err(IdentityError::AliasAllDigits);
    }
    Ok(alias.to_ascii_lowercase())
}

/// Validates a phone number in E.164 (ITU-T E.164: '+', country code, at most 15 digits)
/// and returns it without spaces.
pub fn normalize_phone(phone: &str) -> Result<String, IdentityError> {
    let compact: String = phone.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = compact.strip_prefix('+').ok_or(IdentityError::Phone)?;
    let ok = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if ok { Ok(compact) } else { Err(IdentityError::Phone) }
}

/// The phone as shown to a customer: only the last 3 digits in clear.
pub fn mask_phone(phone: &str) -> String {
    let keep = phone.len().saturating_sub(3);
    let mut out = String::with_capacity(phone.len());
    for (i, c) in phone.chars().enumerate() {
        out.push(if i == 0 || i >= keep { c } else { '•' });
    }
    out
}

/// A deliberately simple check of an email address: one '@', a non-empty local part,
/// a dotted domain, no spaces, at most 254 characters (RFC 5321 §4.5.3.1.3). The real
/// proof is the validation link the customer has to open.
pub fn normalize_email(email: &str) -> Result<String, IdentityError> {
    let email = email.trim();
    let (local, domain) = email.split_once('@').ok_or(IdentityError::Email)?;
    let ok = email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ','));
    if ok { Ok(format!("{local}@{}", domain.to_ascii_lowercase())) } else { Err(IdentityError::Email) }
}

/// The address as shown to a customer: first character of the local part in clear.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    /// R42: user codes are drawn at random, not issued in sequence.
    #[test]
    fn user_codes_are_eight_digits_and_not_sequential() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let codes: Vec<String> = (0..1000).map(|_| generate_user_code(&mut rng)).collect();
        assert!(codes.iter().all(|c| looks_like_user_code(c) && !c.starts_with('0')));
        let unique: HashSet<_> = codes.iter().collect();
        assert!(unique.len() > 995, "random codes should almost never collide");
        let consecutive =
            codes.windows(2).filter(|w| w[0].parse::<u64>().unwrap() + 1 == w[1].parse::<u64>().unwrap()).count();
        assert_eq!(consecutive, 0);
    }

    /// R42: portal UserIDs are random too, and never have the shape of a user code.
    #[test]
    fn portal_user_ids_are_ten_digits_and_never_user_codes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let ids: Vec<String> = (0..1000).map(|_| generate_portal_user_id(&mut rng)).collect();
        assert!(ids.iter().all(|id| looks_like_portal_user_id(id) && !id.starts_with('0')));
        assert!(ids.iter().all(|id| !looks_like_user_code(id) && normalize_alias(id).is_err()));
        assert!(ids.iter().collect::<HashSet<_>>().len() > 995);
        assert!(!looks_like_portal_user_id("12345678") && !looks_like_portal_user_id("12345678ab"));
    }

    #[test]
    fn alias_rules() {
        assert_eq!(normalize_alias(" Mario.Rossi ").unwrap(), "mario.rossi");
        assert_eq!(normalize_alias("ab"), Err(IdentityError::AliasLength));
        assert_eq!(normalize_alias(&"a".repeat(33)), Err(IdentityError::AliasLength));
        assert_eq!(normalize_alias("12345678"), Err(IdentityError::AliasAllDigits));
        assert_eq!(normalize_alias("mario rossi"), Err(IdentityError::AliasCharacters));
        assert_eq!(normalize_alias("màrio"), Err(IdentityError::AliasCharacters));
        assert!(normalize_alias("m4rio_2").is_ok());
    }

    #[test]
    fn phone_rules() {
        assert_eq!(normalize_phone("+39 333 123 4567").unwrap(), "+393331234567");
        assert!(normalize_phone("3331234567").is_err());
        assert!(normalize_phone("+0333123456").is_err());
        assert!(normalize_phone("+39333").is_err());
        assert!(normalize_phone("+3933312345678901").is_err());
        assert!(normalize_phone("+39333abc4567").is_err());
        assert_eq!(mask_phone("+393331234567"), "+•••••••••567");
    }

    #[test]
    fn email_rules() {
        assert_eq!(normalize_email("Mario@Example.IT").unwrap(), "Mario@example.it");
        for bad in ["mario", "@example.it", "mario@example", "ma rio@example.it", "a@b@c.it", "m@.it", "<m>@x.it"] {
            assert!(normalize_email(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(mask_email("mario@example.it"), "m•••@example.it");
    }
}
