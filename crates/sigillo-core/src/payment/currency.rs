//! ISO 4217 currencies and their minor units.
//!
//! Codes are read strictly: exactly three upper-case ASCII letters, as ISO 4217 writes
//! them. `eur` is refused rather than upper-cased: the currency is part of what the
//! customer approves (P5), and the API should send the code it means, not something the
//! server has to guess from.

use super::PaymentError;
use std::fmt;

/// The active codes of ISO 4217 list one ("current currency & funds") with their minor
/// units (the number of decimals); `None` where the list says "N.A." (precious metals,
/// bond-market units, XDR, XSU, XUA, the Arab Accounting Dinar XAD, the testing code
/// XTS and "no currency" XXX).
///
/// Source: ISO 4217 list one as published by SIX, the maintenance agency, dated
/// 2025-05-12 (`Pblshd="2025-05-12"`): XCG has replaced ANG (from 2025-03-31), ZWG is
/// in, and ZWL, HRK and SLL are gone. A new amendment means editing this table and its
/// tests; nothing else depends on its contents. One row per code, sorted, with the fund codes that have minor
/// units (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW) included: they are list-one codes
/// with decimals, and a bank that does not use them simply never asks for them.
const LIST_ONE: &[(&str, Option<u8>)] = &[
    ("AED", Some(2)),
    ("AFN", Some(2)),
    ("ALL", Some(2)),
    ("AMD", Some(2)),
    ("AOA", Some(2)),
    ("ARS", Some(2)),
    ("AUD", Some(2)),
    ("AWG", Some(2)),
    ("AZN", Some(2)),
    ("BAM", Some(2)),
    ("BBD", Some(2)),
    ("BDT", Some(2)),
    ("BGN", Some(2)),
    ("BHD", Some(3)),
    ("BIF", Some(0)),
    ("BMD", Some(2)),
    ("BND", Some(2)),
    ("BOB", Some(2)),
    ("BOV", Some(2)),
    ("BRL", Some(2)),
    ("BSD", Some(2)),
    ("BTN", Some(2)),
    ("BWP", Some(2)),
    ("BYN", Some(2)),
    ("BZD", Some(2)),
    ("CAD", Some(2)),
    ("CDF", Some(2)),
    ("CHE", Some(2)),
    ("CHF", Some(2)),
    ("CHW", Some(2)),
    ("CLF", Some(4)),
    ("CLP", Some(0)),
    ("CNY", Some(2)),
    ("COP", Some(2)),
    ("COU", Some(2)),
    ("CRC", Some(2)),
    ("CUP", Some(2)),
    ("CVE", Some(2)),
    ("CZK", Some(2)),
    ("DJF", Some(0)),
    ("DKK", Some(2)),
    ("DOP", Some(2)),
    ("DZD", Some(2)),
    ("EGP", Some(2)),
    ("ERN", Some(2)),
    ("ETB", Some(2)),
    ("EUR", Some(2)),
    ("FJD", Some(2)),
    ("FKP", Some(2)),
    ("GBP", Some(2)),
    ("GEL", Some(2)),
    ("GHS", Some(2)),
    ("GIP", Some(2)),
    ("GMD", Some(2)),
    ("GNF", Some(0)),
    ("GTQ", Some(2)),
    ("GYD", Some(2)),
    ("HKD", Some(2)),
    ("HNL", Some(2)),
    ("HTG", Some(2)),
    ("HUF", Some(2)),
    ("IDR", Some(2)),
    ("ILS", Some(2)),
    ("INR", Some(2)),
    ("IQD", Some(3)),
    ("IRR", Some(2)),
    ("ISK", Some(0)),
    ("JMD", Some(2)),
    ("JOD", Some(3)),
    ("JPY", Some(0)),
    ("KES", Some(2)),
    ("KGS", Some(2)),
    ("KHR", Some(2)),
    ("KMF", Some(0)),
    ("KPW", Some(2)),
    ("KRW", Some(0)),
    ("KWD", Some(3)),
    ("KYD", Some(2)),
    ("KZT", Some(2)),
    ("LAK", Some(2)),
    ("LBP", Some(2)),
    ("LKR", Some(2)),
    ("LRD", Some(2)),
    ("LSL", Some(2)),
    ("LYD", Some(3)),
    ("MAD", Some(2)),
    ("MDL", Some(2)),
    ("MGA", Some(2)),
    ("MKD", Some(2)),
    ("MMK", Some(2)),
    ("MNT", Some(2)),
    ("MOP", Some(2)),
    ("MRU", Some(2)),
    ("MUR", Some(2)),
    ("MVR", Some(2)),
    ("MWK", Some(2)),
    ("MXN", Some(2)),
    ("MXV", Some(2)),
    ("MYR", Some(2)),
    ("MZN", Some(2)),
    ("NAD", Some(2)),
    ("NGN", Some(2)),
    ("NIO", Some(2)),
    ("NOK", Some(2)),
    ("NPR", Some(2)),
    ("NZD", Some(2)),
    ("OMR", Some(3)),
    ("PAB", Some(2)),
    ("PEN", Some(2)),
    ("PGK", Some(2)),
    ("PHP", Some(2)),
    ("PKR", Some(2)),
    ("PLN", Some(2)),
    ("PYG", Some(0)),
    ("QAR", Some(2)),
    ("RON", Some(2)),
    ("RSD", Some(2)),
    ("RUB", Some(2)),
    ("RWF", Some(0)),
    ("SAR", Some(2)),
    ("SBD", Some(2)),
    ("SCR", Some(2)),
    ("SDG", Some(2)),
    ("SEK", Some(2)),
    ("SGD", Some(2)),
    ("SHP", Some(2)),
    ("SLE", Some(2)),
    ("SOS", Some(2)),
    ("SRD", Some(2)),
    ("SSP", Some(2)),
    ("STN", Some(2)),
    ("SVC", Some(2)),
    ("SYP", Some(2)),
    ("SZL", Some(2)),
    ("THB", Some(2)),
    ("TJS", Some(2)),
    ("TMT", Some(2)),
    ("TND", Some(3)),
    ("TOP", Some(2)),
    ("TRY", Some(2)),
    ("TTD", Some(2)),
    ("TWD", Some(2)),
    ("TZS", Some(2)),
    ("UAH", Some(2)),
    ("UGX", Some(0)),
    ("USD", Some(2)),
    ("USN", Some(2)),
    ("UYI", Some(0)),
    ("UYU", Some(2)),
    ("UYW", Some(4)),
    ("UZS", Some(2)),
    ("VED", Some(2)),
    ("VES", Some(2)),
    ("VND", Some(0)),
    ("VUV", Some(0)),
    ("WST", Some(2)),
    ("XAD", None),
    ("XAF", Some(0)),
    ("XAG", None),
    ("XAU", None),
    ("XBA", None),
    ("XBB", None),
    ("XBC", None),
    ("XBD", None),
    ("XCD", Some(2)),
    ("XCG", Some(2)),
    ("XDR", None),
    ("XOF", Some(0)),
    ("XPD", None),
    ("XPF", Some(0)),
    ("XPT", None),
    ("XSU", None),
    ("XTS", None),
    ("XUA", None),
    ("XXX", None),
    ("YER", Some(2)),
    ("ZAR", Some(2)),
    ("ZMW", Some(2)),
    ("ZWG", Some(2)),
];

/// An ISO 4217 currency that payments may use: in list one and with minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    minor_units: u8,
}

impl Currency {
    /// Parses an alphabetic code such as `EUR`. Lower case, spaces and anything but
    /// three upper-case ASCII letters are refused; so are codes outside list one and the
    /// list-one codes without minor units (XAU, XTS, XXX …), which no customer pays in.
    pub fn parse(code: &str) -> Result<Self, PaymentError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PaymentError::CurrencyFormat);
        }
        let index = LIST_ONE
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .map_err(|_| PaymentError::CurrencyUnknown(code.to_owned()))?;
        match LIST_ONE.get(index) {
            Some(&(code, Some(minor_units))) => Ok(Self { code, minor_units }),
            _ => Err(PaymentError::CurrencyNotForPayments(code.to_owned())),
        }
    }

    /// The alphabetic code, e.g. `EUR`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The number of decimals of the minor unit: EUR 2, JPY 0, BHD 3, CLF 4.
    pub fn minor_units(&self) -> u8 {
        self.minor_units
    }

    /// Every list-one code with its minor units (`None`: "N.A.", refused by [`parse`](Self::parse)).
    pub fn list_one() -> impl Iterator<Item = (&'static str, Option<u8>)> {
        LIST_ONE.iter().copied()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_well_formed() {
        assert!(LIST_ONE.windows(2).all(|w| w[0].0 < w[1].0), "sorted for binary search, no repeats");
        assert!(LIST_ONE.iter().all(|(c, _)| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())));
        assert!(LIST_ONE.iter().all(|(_, m)| m.is_none_or(|m| m <= 4)));
        assert_eq!(LIST_ONE.len(), 179);
    }

    #[test]
    fn minor_units_of_well_known_currencies() {
        for (code, units) in [("EUR", 2), ("USD", 2), ("GBP", 2), ("CHF", 2), ("JPY", 0), ("KRW", 0), ("ISK", 0)]
            .into_iter()
            .chain([("BHD", 3), ("KWD", 3), ("TND", 3), ("CLF", 4), ("UYW", 4), ("XCG", 2), ("ZWG", 2)])
        {
            let currency = Currency::parse(code).unwrap();
            assert_eq!((currency.code(), currency.minor_units()), (code, units));
        }
    }

    #[test]
    fn refuses_lower_case_unknown_withdrawn_and_non_payment_codes() {
        use PaymentError as E;
        for bad in ["eur", "Eur", "EU", "EURO", " EUR", "EUR ", "", "E1R", "ÉUR"] {
            assert_eq!(Currency::parse(bad), Err(E::CurrencyFormat), "{bad:?}");
        }
        for gone in ["HRK", "DEM", "ANG", "SLL", "ZWL", "ABC"] {
            assert_eq!(Currency::parse(gone), Err(E::CurrencyUnknown(gone.into())));
        }
        for metal in ["XAU", "XAG", "XPT", "XPD", "XXX", "XTS", "XDR", "XBA", "XSU", "XUA"] {
            assert_eq!(Currency::parse(metal), Err(E::CurrencyNotForPayments(metal.into())));
        }
        assert_eq!(E::CurrencyFormat.field(), "currency");
    }
}
