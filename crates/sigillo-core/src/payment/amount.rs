//! Amounts: a whole number of minor units of one currency, read from and written as a
//! plain decimal.
//!
//! The accepted text is deliberately narrow, because the canonical text is what the
//! customer sees and signs (P5) and every other spelling of the same number would be a
//! second reading of it:
//! - digits, optionally followed by `.` and 1 to `minor_units` digits;
//! - no sign, no exponent, no spaces, no thousands separators, no `,` as decimal
//!   separator, no leading zeros (`0.50` is fine, `00.50` and `012` are not);
//! - greater than zero;
//! - at most [`MAX_INTEGER_DIGITS`] digits before the separator.
//!
//! Fewer decimals than the currency has are fine on input (`12.5` EUR is 1250 cents);
//! more are refused, even zeros (`12.500` EUR): the server never rounds an amount.

use super::PaymentError;
use super::currency::Currency;
use std::fmt;

/// The largest number of integer digits accepted: 10^15 − 1 major units. Far above any
/// retail payment, and with 4 minor digits (CLF) still below `u64::MAX` ≈ 1.8·10^19.
pub const MAX_INTEGER_DIGITS: usize = 15;

/// A positive amount in a currency, held in minor units (cents for EUR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Amount {
    minor: u64,
    currency: Currency,
}

impl Amount {
    /// Reads `text` (e.g. `12.50`) as an amount in `currency`. See the module
    /// documentation for the accepted syntax.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, PaymentError> {
        let (integer, fraction) = match text.split_once('.') {
            Some((integer, fraction)) => (integer, Some(fraction)),
            None => (text, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(integer) || fraction.is_some_and(|f| !all_digits(f)) {
            return Err(PaymentError::AmountSyntax);
        }
        if integer.len() > 1 && integer.starts_with('0') {
            return Err(PaymentError::AmountLeadingZeros);
        }
        if integer.len() > MAX_INTEGER_DIGITS {
            return Err(PaymentError::AmountTooLarge);
        }
        let decimals = usize::from(currency.minor_units());
        let fraction = fraction.unwrap_or_default();
        if fraction.len() > decimals {
            return Err(PaymentError::AmountDecimals { currency: currency.code(), max: currency.minor_units() });
        }
        // Integer digits, then the fraction padded with zeros to `decimals` digits.
        let digits =
            integer.bytes().chain(fraction.bytes()).chain(std::iter::repeat_n(b'0', decimals - fraction.len()));
        let mut minor = 0u64;
        for digit in digits {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(digit - b'0')))
                .ok_or(PaymentError::AmountTooLarge)?;
        }
        if minor == 0 {
            return Err(PaymentError::AmountZero);
        }
        Ok(Self { minor, currency })
    }

    /// The canonical text: always exactly the currency's decimals, no separator when it
    /// has none (`12.50` EUR, `1200` JPY, `1.500` BHD). [`parse`](Self::parse) reads it
    /// back to the same amount.
    pub fn canonical(&self) -> String {
        let decimals = u32::from(self.currency.minor_units());
        if decimals == 0 {
            return self.minor.to_string();
        }
        let scale = 10u64.pow(decimals);
        format!("{}.{:0width$}", self.minor / scale, self.minor % scale, width = decimals as usize)
    }

    /// The amount in minor units: 1250 for 12.50 EUR.
    pub fn minor_units(&self) -> u64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }
}

/// `12.50 EUR`: for logs and messages, never for what is signed (that is [`Amount::canonical`]
/// and the currency as separate fields).
impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.canonical(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn reads_plain_decimals_into_minor_units() {
        let eur = cur("EUR");
        for (text, minor, canonical) in [
            ("12.5", 1250, "12.50"),
            ("12.50", 1250, "12.50"),
            ("12", 1200, "12.00"),
            ("0.01", 1, "0.01"),
            ("0.1", 10, "0.10"),
            ("999999999999999.99", 99_999_999_999_999_999, "999999999999999.99"),
        ] {
            let amount = Amount::parse(text, eur).unwrap();
            assert_eq!((amount.minor_units(), amount.canonical().as_str()), (minor, canonical), "{text}");
            assert_eq!(Amount::parse(&amount.canonical(), eur).unwrap(), amount);
        }
        assert_eq!(Amount::parse("1200", cur("JPY")).unwrap().canonical(), "1200");
        assert_eq!(Amount::parse("1.5", cur("BHD")).unwrap().canonical(), "1.500");
        assert_eq!(Amount::parse("0.0001", cur("CLF")).unwrap().minor_units(), 1);
        let largest = Amount::parse("999999999999999.9999", cur("CLF")).unwrap();
        assert_eq!(largest.minor_units(), 9_999_999_999_999_999_999);
        assert_eq!(largest.canonical(), "999999999999999.9999");
        assert_eq!(largest.to_string(), "999999999999999.9999 CLF");
    }

    #[test]
    fn refuses_every_other_spelling() {
        use PaymentError as E;
        let eur = cur("EUR");
        for (text, error) in [
            ("", E::AmountSyntax),
            (".", E::AmountSyntax),
            (".5", E::AmountSyntax),
            ("12.", E::AmountSyntax),
            ("12..5", E::AmountSyntax),
            ("1.2.3", E::AmountSyntax),
            ("-12.50", E::AmountSyntax),
            ("+12.50", E::AmountSyntax),
            ("1e3", E::AmountSyntax),
            ("12,50", E::AmountSyntax),
            ("1,000.00", E::AmountSyntax),
            ("1 000", E::AmountSyntax),
            (" 12", E::AmountSyntax),
            ("12 ", E::AmountSyntax),
            ("１２", E::AmountSyntax),
            ("٣", E::AmountSyntax),
            ("0x10", E::AmountSyntax),
            ("NaN", E::AmountSyntax),
            ("012", E::AmountLeadingZeros),
            ("00.50", E::AmountLeadingZeros),
            ("0", E::AmountZero),
            ("0.0", E::AmountZero),
            ("0.00", E::AmountZero),
            ("12.505", E::AmountDecimals { currency: "EUR", max: 2 }),
            ("12.500", E::AmountDecimals { currency: "EUR", max: 2 }),
            ("1000000000000000", E::AmountTooLarge),
            ("99999999999999999999999", E::AmountTooLarge),
        ] {
            assert_eq!(Amount::parse(text, eur), Err(error), "{text:?}");
        }
        assert_eq!(Amount::parse("12.5", cur("JPY")), Err(E::AmountDecimals { currency: "JPY", max: 0 }));
        assert_eq!(Amount::parse("12.0", cur("JPY")), Err(E::AmountDecimals { currency: "JPY", max: 0 }));
        assert_eq!(Amount::parse("1.2345", cur("BHD")), Err(E::AmountDecimals { currency: "BHD", max: 3 }));
        assert_eq!(E::AmountZero.field(), "amount");
    }
}
