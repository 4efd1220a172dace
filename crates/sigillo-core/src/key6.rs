//! Key6: the static 6-digit code a card holder sets for 3-D Secure, typed with an SMS OTP
//! during a challenge (the customer guides' "Key6").
//!
//! What a new Key6 must be: exactly six digits, and not one of the codes anybody would try
//! first. Six digits give a million codes and five consecutive failures block the card
//! (RTS art. 4(3)(b), P2), so an attacker gets five guesses; what matters is that those five
//! do not include the customer's code. The refused patterns, about 0.1 % of all codes, are:
//! - one digit six times (`111111`);
//! - a two- or three-digit block repeated (`121212`, `123123`);
//! - a straight run up or down, wrapping past 9 or 0 (`123456`, `654321`, `890123`, `210987`);
//! - doubled digits in a run (`112233`, `998877`);
//! - a few keypad and mirror patterns that public analyses of chosen 6-digit PINs rank high
//!   and the rules above miss (`123321`, `159753`, `147258`, …).
//!
//! Not refused (a choice, not an oversight): dates such as birthdays (`150387`). They are
//! guessable only with knowledge of the customer, and refusing every `DDMMYY` would take
//! about 3.6 % of the space and confuse customers more than it protects them.
//!
//! Key6 is stored sealed (P7: it can be shown back to the customer, so it is encrypted, not
//! hashed); [`key6_matches`] compares the opened value with a candidate in constant time.

use thiserror::Error;

/// The length of a Key6.
pub const KEY6_LEN: usize = 6;

/// Why a new Key6 was refused. [`Key6Problem::message_key`] is the surfaces' i18n key.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum Key6Problem {
    #[error("the Key6 must be exactly six digits")]
    NotSixDigits,
    #[error("the Key6 is too easy to guess (repeated digits, a run or a common pattern)")]
    Trivial,
    #[error("the Key6 must not contain the card's last four digits")]
    ContainsCardDigits,
}

impl Key6Problem {
    /// The message key the web, API and card portal translate.
    pub fn message_key(&self) -> &'static str {
        match self {
            Self::NotSixDigits => "key6.not_six_digits",
            Self::Trivial => "key6.trivial",
            Self::ContainsCardDigits => "key6.contains_card_digits",
        }
    }
}

/// Keypad and mirror patterns the rules miss (see the module docs).
const COMMON: &[&str] = &["123321", "159753", "147258", "258369", "147369", "789456", "102030"];

/// Checks a new Key6: six ASCII digits, not trivial (see the module docs).
pub fn check_key6(candidate: &str) -> Result<(), Key6Problem> {
    let digits: Vec<u8> = candidate.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    if digits.len() != KEY6_LEN || digits.iter().any(|&d| d > 9) {
        return Err(Key6Problem::NotSixDigits);
    }
    if is_trivial(&digits) || COMMON.contains(&candidate) {
        return Err(Key6Problem::Trivial);
    }
    Ok(())
}

/// [`check_key6`], and the code must not contain the card's last four digits, the one part of
/// the card number printed on receipts and shown in every page about the card. `last4` that is
/// not four digits is ignored (nothing to compare).
pub fn check_key6_for_card(candidate: &str, last4: &str) -> Result<(), Key6Problem> {
    check_key6(candidate)?;
    let four_digits = last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit());
    if four_digits && candidate.contains(last4) {
        return Err(Key6Problem::ContainsCardDigits);
    }
    Ok(())
}

/// Whether `candidate` is the stored Key6 (the opened, plain digits), compared in constant
/// time (`subtle`, as elsewhere in sigillo). Lengths are not secret: a Key6 is six digits.
pub fn key6_matches(stored: &[u8], candidate: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    stored.ct_eq(candidate.as_bytes()).into()
}

/// Six digit values (0–9): a repeated block of 1, 2 or 3, a straight run, or a run of pairs.
fn is_trivial(d: &[u8]) -> bool {
    // +1 or −1 modulo 10: 9→0 and 0→9 continue a run.
    let step = |a: u8, b: u8| (b + 10 - a) % 10;
    let run = |xs: &[u8]| {
        let up = xs.windows(2).all(|w| step(w[0], w[1]) == 1);
        let down = xs.windows(2).all(|w| step(w[0], w[1]) == 9);
        up || down
    };
    let repeated = [1, 2, 3].into_iter().any(|period| d.chunks(period).all(|c| c == &d[..period]));
    let pairs = d.chunks(2).all(|p| p[0] == p[1]) && run(&[d[0], d[2], d[4]]);
    repeated || run(d) || pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_six_ascii_digits() {
        for bad in ["", "12345", "1234567", "12345a", "12 456", "١٢٣٤٥٦", "+12345", "-12345", "１２３４５６"]
        {
            assert_eq!(check_key6(bad), Err(Key6Problem::NotSixDigits), "{bad:?}");
        }
    }

    #[test]
    fn trivial_codes_are_refused() {
        let trivial = [
            // One digit.
            "000000", "111111", "999999", // Blocks of two and three.
            "121212", "909090", "123123", "007007", "998998", // Runs, wrapping too.
            "123456", "012345", "456789", "654321", "543210", "987654", "890123", "901234", "789012", "210987",
            "109876", // Runs of pairs.
            "112233", "001122", "998877", "990011", "110099", // The list.
            "123321", "159753", "147258", "258369", "147369", "789456", "102030",
        ];
        for code in trivial {
            assert_eq!(check_key6(code), Err(Key6Problem::Trivial), "{code}");
        }
    }

    #[test]
    fn ordinary_codes_are_accepted() {
        // Near misses of every rule: almost runs, almost repeats, runs of two steps.
        let fine = [
            "102938", "839201", "123457", "023456", "124578", "135791", "246802", "121213", "123124", "112234",
            "111112", "211111", "122333", "150387", "000001", "100000", "918273", "564738",
        ];
        for code in fine {
            assert_eq!(check_key6(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn the_trivial_set_has_the_size_the_rules_give() {
        // 10 single digits + 90 two-digit blocks + 990 three-digit blocks + 20 runs
        // + 20 runs of pairs + 7 listed codes (none of which the rules catch).
        let refused = (0..1_000_000).filter(|n| check_key6(&format!("{n:06}")).is_err()).count();
        assert_eq!(refused, 10 + 90 + 990 + 20 + 20 + COMMON.len());
        for code in COMMON {
            let digits: Vec<u8> = code.bytes().map(|b| b - b'0').collect();
            assert!(!is_trivial(&digits), "{code} is already refused by the rules");
        }
    }

    #[test]
    fn the_card_s_last_four_are_refused() {
        assert_eq!(check_key6_for_card("583016", "5830"), Err(Key6Problem::ContainsCardDigits));
        assert_eq!(check_key6_for_card("958301", "5830"), Err(Key6Problem::ContainsCardDigits));
        assert_eq!(check_key6_for_card("925830", "5830"), Err(Key6Problem::ContainsCardDigits));
        assert_eq!(check_key6_for_card("583916", "5830"), Ok(()));
        assert_eq!(check_key6_for_card("035830", "0358"), Err(Key6Problem::ContainsCardDigits));
        // The generic rules come first; a malformed last4 is not compared.
        assert_eq!(check_key6_for_card("123456", "9999"), Err(Key6Problem::Trivial));
        assert_eq!(check_key6_for_card("583016", "58"), Ok(()));
        assert_eq!(check_key6_for_card("583016", "583a"), Ok(()));
    }

    #[test]
    fn message_keys() {
        assert_eq!(Key6Problem::NotSixDigits.message_key(), "key6.not_six_digits");
        assert_eq!(Key6Problem::Trivial.message_key(), "key6.trivial");
        assert_eq!(Key6Problem::ContainsCardDigits.message_key(), "key6.contains_card_digits");
    }

    #[test]
    fn matching() {
        assert!(key6_matches(b"583916", "583916"));
        assert!(!key6_matches(b"583916", "583917"));
        assert!(!key6_matches(b"583916", "58391"));
        assert!(!key6_matches(b"583916", "5839160"));
        assert!(!key6_matches(b"", "583916"));
    }
}
