//! International Bank Account Numbers (ISO 13616-1) with their check digits
//! (ISO 7064 MOD 97-10).
//!
//! What is checked, in this order:
//! 1. only ASCII letters, digits and spaces (U+0020); spaces anywhere are dropped (the
//!    print form groups of four), letters are upper-cased;
//! 2. two letters (the country code), two digits (the check digits), then the BBAN,
//!    which is alphanumeric;
//! 3. the country is in the SWIFT IBAN registry and the IBAN has exactly its length;
//! 4. the check digits are 02–98 (ISO 13616-1: the computation never gives 00, 01 or 99);
//! 5. MOD 97-10 of the rearranged IBAN is 1.
//!
//! What MOD 97-10 catches, with letters counted as two digits (A = 10 … Z = 35), as
//! `tests/payment.rs` asserts on every possible such mistake in ~200 IBANs:
//! - every substitution of a digit for another digit or a letter for another letter;
//! - every swap of two adjacent characters, except the pairs B1, M2 and X3 (either
//!   order): `1B` and `B1` both expand to `111`;
//! - but a digit typed as a letter, or the reverse, only about 96 times in 97: it changes
//!   the length of the number the remainder is taken of.
//!
//! The national BBAN structure (which positions are digits, which letters) would catch
//! most of the last kind; it is *not* checked here, nor are the national check digits
//! some countries add: they vary by country and change with registry releases, and the
//! bank's payment system checks them anyway. python-stdnum does check the structure;
//! `tests/vectors/payment.json` lists the differences (`stdnum_stricter`).

use super::PaymentError;
use std::fmt;

/// The countries of the SWIFT IBAN registry (the ISO 13616 registration authority) and
/// the total length of their IBANs, country code and check digits included.
///
/// Source: SWIFT IBAN Registry, release 101 (`iban-registry-v101.txt`), the release
/// python-stdnum 2.2 ships in `stdnum/iban.dat`; `tests/vectors/payment_crosscheck.py`
/// compares every row with it. Only the registry's own entries are listed: territories
/// that use another country's IBAN (Åland with FI, Guadeloupe with FR, Jersey with GB …)
/// have no prefix of their own.
const REGISTRY: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HN", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

/// The registry's IBAN length for `country` (two upper-case letters), if it is listed.
pub fn registry_length(country: &str) -> Option<usize> {
    REGISTRY.binary_search_by(|(cc, _)| (*cc).cmp(country)).ok().and_then(|i| REGISTRY.get(i)).map(|(_, len)| *len)
}

/// Every registry country with its IBAN length, in alphabetical order.
pub fn registry() -> impl Iterator<Item = (&'static str, usize)> {
    REGISTRY.iter().copied()
}

/// A valid IBAN in its electronic form: upper case, no spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Iban(String);

impl Iban {
    /// Parses an IBAN typed or pasted in either form (`GB82 WEST 1234 5698 7654 32`,
    /// `gb82west12345698765432`). See the module documentation for what is checked.
    pub fn parse(text: &str) -> Result<Self, PaymentError> {
        let mut electronic = String::with_capacity(34);
        for c in text.chars() {
            match c {
                ' ' => {}
                'A'..='Z' | '0'..='9' => electronic.push(c),
                'a'..='z' => electronic.push(c.to_ascii_uppercase()),
                _ => return Err(PaymentError::IbanCharacter),
            }
            // Longer than any IBAN (ISO 13616-1: at most 34 characters): stop reading.
            if electronic.len() > 34 {
                return Err(PaymentError::IbanFormat);
            }
        }
        // Two letters, two digits, then the BBAN (already known to be alphanumeric).
        let check = match electronic.as_bytes() {
            [a, b, c, d, ..] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => [*c, *d],
            _ => return Err(PaymentError::IbanFormat),
        };
        let country = electronic.get(..2).ok_or(PaymentError::IbanFormat)?;
        let expected = registry_length(country).ok_or_else(|| PaymentError::IbanCountry(country.to_owned()))?;
        if electronic.len() != expected {
            return Err(PaymentError::IbanLength { country: country.to_owned(), expected, found: electronic.len() });
        }
        let [tens @ b'0'..=b'9', units @ b'0'..=b'9'] = check else {
            return Err(PaymentError::IbanFormat);
        };
        if !(2..=98).contains(&((tens - b'0') * 10 + (units - b'0'))) {
            return Err(PaymentError::IbanCheckDigits);
        }
        if mod97(&electronic) != 1 {
            return Err(PaymentError::IbanChecksum);
        }
        Ok(Self(electronic))
    }

    /// The electronic form: what is stored, signed and sent to the payment system.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The print form: groups of four separated by one space, the last group shorter.
    pub fn print_form(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + self.0.len() / 4);
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }

    /// The ISO 3166-1 alpha-2 country code of the IBAN registry entry.
    pub fn country(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// ISO 7064 MOD 97-10 of an electronic IBAN (upper-case ASCII letters and digits, at
/// least four characters): the first four characters move to the end, letters become
/// 10–35, and the remainder modulo 97 of that decimal number is computed digit by digit
/// (a 34-character IBAN is a number of up to 68 digits: no big integers needed).
fn mod97(electronic: &str) -> u32 {
    let bytes = electronic.as_bytes();
    let (head, tail) = bytes.split_at(4.min(bytes.len()));
    tail.iter().chain(head).fold(0u32, |rem, &b| match b {
        b'0'..=b'9' => (rem * 10 + u32::from(b - b'0')) % 97,
        // 'A' = 10 … 'Z' = 35: two decimal digits.
        _ => (rem * 100 + u32::from(b - b'A') + 10) % 97,
    })
}

/// The check digits that make `country` + `bban` a valid IBAN (ISO 13616-1 §6):
/// 98 − MOD 97-10 of the IBAN with check digits "00". For tests and tools that build
/// IBANs; `None` if `country` or `bban` contains anything but upper-case ASCII letters
/// and digits.
pub fn check_digits(country: &str, bban: &str) -> Option<String> {
    let all_ok = |s: &str| s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if country.len() != 2 || !all_ok(country) || !all_ok(bban) {
        return None;
    }
    let digits = 98 - mod97(&format!("{country}00{bban}"));
    Some(format!("{digits:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_table_is_sorted_and_plausible() {
        assert!(REGISTRY.windows(2).all(|w| w[0].0 < w[1].0), "sorted for binary search, no repeats");
        assert_eq!(REGISTRY.len(), 89);
        assert!(REGISTRY.iter().all(|(_, len)| (15..=34).contains(len)));
        assert_eq!(registry_length("NO"), Some(15));
        assert_eq!(registry_length("RU"), Some(33));
        assert_eq!(registry_length("US"), None);
    }

    #[test]
    fn mod97_of_the_iso_example_and_its_check_digits() {
        // ISO 13616-1 / registry example for the United Kingdom.
        assert_eq!(mod97("GB82WEST12345698765432"), 1);
        assert_eq!(check_digits("GB", "WEST12345698765432").as_deref(), Some("82"));
        assert_eq!(check_digits("gb", "WEST"), None);
    }

    #[test]
    fn parses_both_forms_and_prints_groups_of_four() {
        let iban = Iban::parse("it60 x054 2811 1010 0000 0123 456").unwrap();
        assert_eq!(iban.as_str(), "IT60X0542811101000000123456");
        assert_eq!(iban.print_form(), "IT60 X054 2811 1010 0000 0123 456");
        assert_eq!(iban.country(), "IT");
        assert_eq!(Iban::parse(&iban.print_form()).unwrap(), iban);
        assert_eq!(Iban::parse("NO9386011117947").unwrap().print_form(), "NO93 8601 1117 947");
    }

    #[test]
    fn refuses_each_kind_of_mistake_with_its_own_reason() {
        use PaymentError as E;
        assert_eq!(Iban::parse("GB82-WEST-1234-5698-7654-32"), Err(E::IbanCharacter));
        assert_eq!(Iban::parse("GB82\tWEST12345698765432"), Err(E::IbanCharacter));
        assert_eq!(Iban::parse("GB82\u{a0}WEST12345698765432"), Err(E::IbanCharacter));
        assert_eq!(Iban::parse(""), Err(E::IbanFormat));
        assert_eq!(Iban::parse("G"), Err(E::IbanFormat));
        assert_eq!(Iban::parse("1282WEST12345698765432"), Err(E::IbanFormat));
        assert_eq!(Iban::parse("US82WEST12345698765432"), Err(E::IbanCountry("US".into())));
        assert_eq!(
            Iban::parse("GB82WEST1234569876543"),
            Err(E::IbanLength { country: "GB".into(), expected: 22, found: 21 })
        );
        assert_eq!(Iban::parse("GBX2WEST12345698765432"), Err(E::IbanFormat));
        assert_eq!(Iban::parse("GB83WEST12345698765432"), Err(E::IbanChecksum));
        assert_eq!(Iban::parse(&"GB82WEST".repeat(10)), Err(E::IbanFormat));
        for e in [E::IbanCharacter, E::IbanFormat, E::IbanChecksum, E::IbanCheckDigits] {
            assert_eq!(e.field(), "iban");
        }
    }

    #[test]
    fn check_digits_00_01_and_99_are_refused_even_when_mod97_agrees() {
        // 00 ≡ 97 and 01 ≡ 98 (mod 97), 99 ≡ 2: find BBANs whose correct check digits are
        // 97, 98 or 02 and swap in the out-of-range twin, which passes MOD 97-10.
        let mut seen = [false; 3];
        for n in 0u64..100_000 {
            let bban = format!("WEST{n:014}");
            let digits = check_digits("GB", &bban).unwrap();
            let twin = match digits.as_str() {
                "97" => ("00", 0),
                "98" => ("01", 1),
                "02" => ("99", 2),
                _ => continue,
            };
            let iban = format!("GB{}{bban}", twin.0);
            assert_eq!(mod97(&iban), 1);
            assert_eq!(Iban::parse(&iban), Err(PaymentError::IbanCheckDigits), "{iban}");
            seen[twin.1] = true;
            if seen.iter().all(|s| *s) {
                return;
            }
        }
        panic!("no BBAN found for every out-of-range twin");
    }
}
