//! Decimal amounts as people type them ("12.50") to the minor units that `purchaseAmount`
//! carries ("1250"), given the currency's exponent (`purchaseExponent`).

use anyhow::{Context, bail};

/// Parses `text` (digits, optionally a dot and at most `exponent` decimals) into minor units.
pub fn parse_amount(text: &str, exponent: u8) -> anyhow::Result<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        bail!("amount {text:?}: expected digits with an optional decimal point");
    }
    if fraction.len() > usize::from(exponent) {
        bail!("amount {text:?}: at most {exponent} decimals for this currency");
    }
    let padded = format!("{whole}{fraction:0<width$}", width = usize::from(exponent));
    padded.parse::<u64>().with_context(|| format!("amount {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn decimals_become_minor_units() {
        assert_eq!(parse_amount("12.50", 2).unwrap(), 1250);
        assert_eq!(parse_amount("12.5", 2).unwrap(), 1250);
        assert_eq!(parse_amount("12", 2).unwrap(), 1200);
        assert_eq!(parse_amount("0.07", 2).unwrap(), 7);
        assert_eq!(parse_amount("1500", 0).unwrap(), 1500);
    }

    #[test]
    fn malformed_amounts_are_refused() {
        for bad in ["", ".5", "12.505", "-1", "1,50", "12.a", "99999999999999999999"] {
            assert!(parse_amount(bad, 2).is_err(), "{bad:?}");
        }
        assert!(parse_amount("1.5", 0).is_err());
    }
}
