//! What a bank may ask a customer to approve: validated payments and the canonical
//! fields of their approval (issue 4, P5 dynamic linking).
//!
//! A bank's request ([`PaymentRequest`], loose strings) becomes a [`Payment`] only through
//! [`Payment::validate`]. A payment gives one list of labelled fields in a fixed order
//! ([`Payment::fields`]), which goes into a [`messages::Operation`] (PROTOCOL.md §7.1):
//! those bytes are what the server stores, what the phone shows and signs, and what the
//! transaction OTP is computed over. [`Payment::from_fields`] is the phone's way back: it
//! accepts exactly the fields [`Payment::fields`] makes and nothing else, so one list of
//! bytes has one reading.
//!
//! # Layout
//! - [`iban`]: IBANs, the SWIFT registry lengths and ISO 7064 MOD 97-10.
//! - [`currency`]: ISO 4217 list one and its minor units.
//! - [`amount`]: plain-decimal amounts in minor units.

pub mod amount;
pub mod currency;
pub mod iban;

pub use amount::Amount;
pub use currency::Currency;
pub use iban::Iban;

use crate::device::messages;
use std::fmt;
use thiserror::Error;

/// SEPA's limit for a party name (EPC rulebooks, ISO 20022 `Max70Text`).
pub const MAX_PAYEE_CHARS: usize = 70;
/// SEPA's limit for unstructured remittance information (ISO 20022 `Max140Text`).
pub const MAX_DESCRIPTION_CHARS: usize = 140;
/// ISO 20022 `Max35Text`, the length of references such as `EndToEndIdentification`;
/// bill and payment-notice codes (e.g. an ISO 11649 creditor reference, 25 characters)
/// fit in it.
pub const MAX_BILL_CODE_CHARS: usize = 35;

/// The part of a payment request that an error is about: the `field` of the API's
/// `{"error":"invalid_request","message":…,"field":…}` answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Kind,
    Amount,
    Currency,
    Payee,
    Iban,
    BillCode,
    Description,
}

impl Field {
    /// The request's name for it: `"amount"`, `"bill_code"`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kind => "kind",
            Self::Amount => "amount",
            Self::Currency => "currency",
            Self::Payee => "payee",
            Self::Iban => "iban",
            Self::BillCode => "bill_code",
            Self::Description => "description",
        }
    }

    /// How a message names it.
    fn noun(self) -> &'static str {
        match self {
            Self::Kind => "the payment kind",
            Self::Amount => "the amount",
            Self::Currency => "the currency",
            Self::Payee => "the payee",
            Self::Iban => "the IBAN",
            Self::BillCode => "the bill code",
            Self::Description => "the description",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// Why a payment was refused. [`field`](Self::field) names the request field; the
/// `Display` text is a reason a bank's developer can act on. No variant echoes free text
/// (payee, description), so messages are safe to log.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PaymentError {
    #[error("unknown payment kind: expected \"credit_transfer\" or \"bill\"")]
    UnknownKind,
    #[error("{0} is required for this payment kind")]
    Missing(Field),
    #[error("{0} is not used by this payment kind and must be left out")]
    NotAllowed(Field),

    #[error("the currency must be an ISO 4217 code of exactly three upper-case letters, such as EUR")]
    CurrencyFormat,
    #[error("{0} is not an active ISO 4217 currency")]
    CurrencyUnknown(String),
    #[error(
        "{0} is an ISO 4217 code without minor units (a precious metal, fund or special code), not a payment currency"
    )]
    CurrencyNotForPayments(String),

    #[error(
        "the amount must be a plain decimal number such as 12.50: digits, optionally '.' and decimals, with no sign, exponent, spaces or thousands separators"
    )]
    AmountSyntax,
    #[error("the amount must not start with a zero unless it is below one (0.50)")]
    AmountLeadingZeros,
    #[error("the amount has more decimals than {currency} has ({max}); amounts are never rounded")]
    AmountDecimals { currency: &'static str, max: u8 },
    #[error("the amount must be greater than zero")]
    AmountZero,
    #[error("the amount is too large: at most 15 digits before the decimal point")]
    AmountTooLarge,

    #[error("the IBAN may contain only letters, digits and spaces")]
    IbanCharacter,
    #[error("the IBAN must start with a two-letter country code and two check digits, and have at most 34 characters")]
    IbanFormat,
    #[error("{0} is not a country of the IBAN registry")]
    IbanCountry(String),
    #[error("an IBAN from {country} has {expected} characters, this one has {found}")]
    IbanLength { country: String, expected: usize, found: usize },
    #[error("the IBAN's check digits must be between 02 and 98")]
    IbanCheckDigits,
    #[error("the IBAN's check digits do not match the rest (ISO 7064 MOD 97-10): probably a typing mistake")]
    IbanChecksum,

    #[error("{0} must not be empty")]
    Empty(Field),
    #[error("{field} is too long: at most {max} characters")]
    TooLong { field: Field, max: usize },
    #[error(
        "{field} contains {kind} U+{code_point:04X}, which could make the phone show something other than what is signed"
    )]
    ForbiddenCharacter { field: Field, kind: &'static str, code_point: u32 },
    #[error("the bill code may contain only the letters A-Z and a-z and the digits 0-9")]
    BillCodeCharacter,

    #[error("field {position} of a {kind} operation must be {expected:?}")]
    FieldOrder { kind: &'static str, position: usize, expected: &'static str },
    #[error("a {kind} operation has {expected} fields at most, this one has more")]
    ExtraFields { kind: &'static str, expected: usize },
    #[error("{0} is not written in its canonical form")]
    NotCanonical(Field),
}

impl PaymentError {
    /// The request field the error is about: `"amount"`, `"currency"`, `"payee"`,
    /// `"iban"`, `"bill_code"`, `"description"` or `"kind"`.
    pub fn field(&self) -> &'static str {
        let field = match self {
            Self::UnknownKind | Self::ExtraFields { .. } => Field::Kind,
            Self::Missing(f) | Self::NotAllowed(f) | Self::Empty(f) | Self::NotCanonical(f) => *f,
            Self::TooLong { field, .. } | Self::ForbiddenCharacter { field, .. } => *field,
            Self::CurrencyFormat | Self::CurrencyUnknown(_) | Self::CurrencyNotForPayments(_) => Field::Currency,
            Self::AmountSyntax
            | Self::AmountLeadingZeros
            | Self::AmountDecimals { .. }
            | Self::AmountZero
            | Self::AmountTooLarge => Field::Amount,
            Self::IbanCharacter
            | Self::IbanFormat
            | Self::IbanCountry(_)
            | Self::IbanLength { .. }
            | Self::IbanCheckDigits
            | Self::IbanChecksum => Field::Iban,
            Self::BillCodeCharacter => Field::BillCode,
            Self::FieldOrder { expected, .. } => label_field(expected).unwrap_or(Field::Kind),
        };
        field.as_str()
    }
}

/// A bank's request to have a payment approved, as the API receives it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PaymentRequest<'a> {
    /// `"credit_transfer"` or `"bill"`.
    pub kind: &'a str,
    /// A plain decimal, e.g. `"12.50"` ([`Amount::parse`]).
    pub amount: &'a str,
    /// An ISO 4217 code, e.g. `"EUR"` ([`Currency::parse`]).
    pub currency: &'a str,
    pub payee: &'a str,
    /// Credit transfers only.
    pub iban: Option<&'a str>,
    /// Bill payments only.
    pub bill_code: Option<&'a str>,
    /// Credit transfers only; empty or blank counts as absent (for bills too).
    pub description: Option<&'a str>,
}

/// A validated payment: every value in it is in its canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payment {
    /// A transfer to an account given by its IBAN (a SEPA credit transfer and the like).
    CreditTransfer { amount: Amount, payee: String, iban: Iban, description: Option<String> },
    /// The payment of a bill or payment notice identified by its code.
    BillPayment { amount: Amount, payee: String, bill_code: String },
}

const CREDIT_TRANSFER: &str = "payment.credit_transfer";
const BILL: &str = "payment.bill";
const CREDIT_TRANSFER_LABELS: &[&str] = &["amount", "currency", "payee", "iban", "description"];
const BILL_LABELS: &[&str] = &["amount", "currency", "payee", "bill_code"];

fn label_field(label: &str) -> Option<Field> {
    Some(match label {
        "amount" => Field::Amount,
        "currency" => Field::Currency,
        "payee" => Field::Payee,
        "iban" => Field::Iban,
        "bill_code" => Field::BillCode,
        "description" => Field::Description,
        _ => return None,
    })
}

impl Payment {
    /// Checks a request and builds the payment, or says which field is wrong and why.
    /// Fields are checked in the order currency, amount, payee, IBAN or bill code,
    /// description; the first problem is reported.
    pub fn validate(request: &PaymentRequest) -> Result<Self, PaymentError> {
        let credit_transfer = match request.kind {
            "credit_transfer" => true,
            "bill" => false,
            _ => return Err(PaymentError::UnknownKind),
        };
        let currency = Currency::parse(request.currency)?;
        let amount = Amount::parse(request.amount, currency)?;
        let payee = text(Field::Payee, request.payee, MAX_PAYEE_CHARS)?.ok_or(PaymentError::Empty(Field::Payee))?;
        if credit_transfer {
            if request.bill_code.is_some() {
                return Err(PaymentError::NotAllowed(Field::BillCode));
            }
            let iban = Iban::parse(request.iban.ok_or(PaymentError::Missing(Field::Iban))?)?;
            let description = match request.description {
                Some(d) => text(Field::Description, d, MAX_DESCRIPTION_CHARS)?,
                None => None,
            };
            Ok(Self::CreditTransfer { amount, payee, iban, description })
        } else {
            if request.iban.is_some() {
                return Err(PaymentError::NotAllowed(Field::Iban));
            }
            if request.description.is_some_and(|d| !d.trim().is_empty()) {
                return Err(PaymentError::NotAllowed(Field::Description));
            }
            let bill_code = bill_code(request.bill_code.ok_or(PaymentError::Missing(Field::BillCode))?)?;
            Ok(Self::BillPayment { amount, payee, bill_code })
        }
    }

    /// The operation kind: `"payment.credit_transfer"` or `"payment.bill"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CreditTransfer { .. } => CREDIT_TRANSFER,
            Self::BillPayment { .. } => BILL,
        }
    }

    pub fn amount(&self) -> &Amount {
        match self {
            Self::CreditTransfer { amount, .. } | Self::BillPayment { amount, .. } => amount,
        }
    }

    pub fn payee(&self) -> &str {
        match self {
            Self::CreditTransfer { payee, .. } | Self::BillPayment { payee, .. } => payee,
        }
    }

    /// The labelled fields the phone shows and signs, in this fixed order:
    /// - credit transfer: `amount`, `currency`, `payee`, `iban`, and `description`
    ///   only when there is one;
    /// - bill: `amount`, `currency`, `payee`, `bill_code`.
    ///
    /// `amount` is [`Amount::canonical`] (exactly the currency's decimals), `iban` the
    /// electronic form.
    pub fn fields(&self) -> Vec<(String, String)> {
        let amount = self.amount();
        let mut fields = vec![
            ("amount".to_owned(), amount.canonical()),
            ("currency".to_owned(), amount.currency().code().to_owned()),
            ("payee".to_owned(), self.payee().to_owned()),
        ];
        match self {
            Self::CreditTransfer { iban, description, .. } => {
                fields.push(("iban".to_owned(), iban.as_str().to_owned()));
                if let Some(description) = description {
                    fields.push(("description".to_owned(), description.clone()));
                }
            }
            Self::BillPayment { bill_code, .. } => fields.push(("bill_code".to_owned(), bill_code.clone())),
        }
        fields
    }

    /// Reads a payment back from an operation's kind and fields, as the phone does before
    /// it shows anything (PROTOCOL.md §7.3). Accepts exactly what [`fields`](Self::fields)
    /// makes: unknown, missing, repeated, reordered or extra labels are refused, and so is
    /// any value not in its canonical form (`12.5` for `12.50`, an IBAN with spaces, a
    /// payee with surrounding blanks, an empty description).
    pub fn from_fields(kind: &str, fields: &[(String, String)]) -> Result<Self, PaymentError> {
        let (kind, labels) = match kind {
            CREDIT_TRANSFER => (CREDIT_TRANSFER, CREDIT_TRANSFER_LABELS),
            BILL => (BILL, BILL_LABELS),
            _ => return Err(PaymentError::UnknownKind),
        };
        if fields.len() > labels.len() {
            return Err(PaymentError::ExtraFields { kind, expected: labels.len() });
        }
        // The description is the one optional field, and it comes last.
        let required = if kind == CREDIT_TRANSFER { labels.len() - 1 } else { labels.len() };
        for (position, expected) in labels.iter().enumerate() {
            match fields.get(position) {
                Some((label, _)) if label == expected => {}
                None if position >= required => {}
                _ => return Err(PaymentError::FieldOrder { kind, position: position + 1, expected }),
            }
        }
        let value = |position: usize| fields.get(position).map(|(_, value)| value.as_str());
        let request = PaymentRequest {
            kind: if kind == CREDIT_TRANSFER { "credit_transfer" } else { "bill" },
            amount: value(0).unwrap_or_default(),
            currency: value(1).unwrap_or_default(),
            payee: value(2).unwrap_or_default(),
            iban: if kind == CREDIT_TRANSFER { value(3) } else { None },
            bill_code: if kind == BILL { value(3) } else { None },
            description: if kind == CREDIT_TRANSFER { value(4) } else { None },
        };
        let payment = Self::validate(&request)?;
        // One reading per list of bytes: refuse anything `fields` would write differently.
        let canonical = payment.fields();
        if let Some(((label, _), _)) = fields.iter().zip(&canonical).find(|(given, made)| given != made) {
            return Err(PaymentError::NotCanonical(label_field(label).unwrap_or(Field::Kind)));
        }
        if canonical.len() != fields.len() {
            // Only a blank description disappears in validation.
            return Err(PaymentError::NotCanonical(Field::Description));
        }
        Ok(payment)
    }

    /// [`from_fields`](Self::from_fields) on a decoded operation.
    pub fn from_operation(operation: &messages::Operation) -> Result<Self, PaymentError> {
        Self::from_fields(&operation.kind, &operation.fields)
    }

    /// The operation to store and send to the phone for approval.
    pub fn operation(&self, id: &str, expires_at_ms: u64) -> messages::Operation {
        messages::Operation { id: id.to_owned(), kind: self.kind().to_owned(), expires_at_ms, fields: self.fields() }
    }
}

/// Payee or description: surrounding whitespace trimmed, `None` when nothing is left;
/// then no character that could make the screen differ from the signed bytes, and at
/// most `max` characters (Unicode scalar values, as SEPA counts them).
fn text(field: Field, raw: &str, max: usize) -> Result<Option<String>, PaymentError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if let Some((kind, c)) = trimmed.chars().find_map(|c| forbidden(c).map(|kind| (kind, c))) {
        return Err(PaymentError::ForbiddenCharacter { field, kind, code_point: u32::from(c) });
    }
    if trimmed.chars().count() > max {
        return Err(PaymentError::TooLong { field, max });
    }
    Ok(Some(trimmed.to_owned()))
}

/// Characters refused in a payee or description, and what they are.
///
/// Each can make the approval screen differ from the signed text, or hide part of it:
/// bidi controls reorder what is displayed ("Trojan Source", CVE-2021-42574), invisible
/// characters make two different payees look identical, and line breaks push text out of
/// sight. This is not a confusables check: `Pаypal` with a Cyrillic `а` passes. The
/// phone shows what is signed, and the bank decides whom it pays.
pub fn forbidden(c: char) -> Option<&'static str> {
    Some(match c {
        _ if c.is_control() => "the control character",
        // Bidirectional embeddings, overrides and isolates, and the invisible marks.
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}' => {
            "the bidirectional control"
        }
        '\u{2028}' | '\u{2029}' => "the line or paragraph separator",
        // Zero-width and other invisible format characters; tag characters can smuggle
        // whole hidden ASCII strings.
        '\u{00AD}'
        | '\u{034F}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}' => "the invisible character",
        _ => return None,
    })
}

/// 1–35 ASCII letters and digits, case kept, nothing trimmed.
///
/// Bill and payment-notice codes are machine references that the customer compares
/// with a paper or PDF bill: ASCII alphanumerics leave nothing to hide or confuse on the
/// approval screen, need no normalisation, and are what ISO 11649 creditor references
/// and most national bill codes use. Print-form spaces must be removed by the caller.
fn bill_code(raw: &str) -> Result<String, PaymentError> {
    if raw.is_empty() {
        return Err(PaymentError::Empty(Field::BillCode));
    }
    if !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PaymentError::BillCodeCharacter);
    }
    if raw.len() > MAX_BILL_CODE_CHARS {
        return Err(PaymentError::TooLong { field: Field::BillCode, max: MAX_BILL_CODE_CHARS });
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer() -> PaymentRequest<'static> {
        PaymentRequest {
            kind: "credit_transfer",
            amount: "12.5",
            currency: "EUR",
            payee: "  Mario Rossi ",
            iban: Some("IT60 X054 2811 1010 0000 0123 456"),
            bill_code: None,
            description: Some("Invoice 42"),
        }
    }

    fn bill() -> PaymentRequest<'static> {
        PaymentRequest {
            kind: "bill",
            amount: "80",
            currency: "EUR",
            payee: "Acme Energy",
            iban: None,
            bill_code: Some("RF18539007547034"),
            description: None,
        }
    }

    fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields.iter().map(|(l, v)| ((*l).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_credit_transfer_gives_its_fields_in_the_fixed_order() {
        let payment = Payment::validate(&transfer()).unwrap();
        assert_eq!(payment.kind(), "payment.credit_transfer");
        assert_eq!(
            payment.fields(),
            pairs(&[
                ("amount", "12.50"),
                ("currency", "EUR"),
                ("payee", "Mario Rossi"),
                ("iban", "IT60X0542811101000000123456"),
                ("description", "Invoice 42"),
            ])
        );
        for blank in [None, Some(""), Some("   ")] {
            let payment = Payment::validate(&PaymentRequest { description: blank, ..transfer() }).unwrap();
            assert_eq!(payment.fields().len(), 4);
        }
    }

    #[test]
    fn a_bill_gives_its_fields_in_the_fixed_order() {
        let payment = Payment::validate(&bill()).unwrap();
        assert_eq!(payment.kind(), "payment.bill");
        assert_eq!(
            payment.fields(),
            pairs(&[
                ("amount", "80.00"),
                ("currency", "EUR"),
                ("payee", "Acme Energy"),
                ("bill_code", "RF18539007547034")
            ])
        );
    }

    #[test]
    fn each_request_field_is_named_in_its_error() {
        let cases: Vec<(PaymentRequest, &str)> = vec![
            (PaymentRequest { kind: "sepa", ..transfer() }, "kind"),
            (PaymentRequest { kind: "Credit_Transfer", ..transfer() }, "kind"),
            (PaymentRequest { currency: "eur", ..transfer() }, "currency"),
            (PaymentRequest { amount: "12.505", ..transfer() }, "amount"),
            (PaymentRequest { payee: " ", ..transfer() }, "payee"),
            (PaymentRequest { iban: None, ..transfer() }, "iban"),
            (PaymentRequest { iban: Some("IT60 X054 2811 1010 0000 0123 457"), ..transfer() }, "iban"),
            (PaymentRequest { bill_code: Some("X1"), ..transfer() }, "bill_code"),
            (PaymentRequest { payee: "a\u{202E}b", ..transfer() }, "payee"),
            (PaymentRequest { bill_code: None, ..bill() }, "bill_code"),
            (PaymentRequest { bill_code: Some("RF18 5390"), ..bill() }, "bill_code"),
            (PaymentRequest { bill_code: Some(""), ..bill() }, "bill_code"),
            (PaymentRequest { iban: Some("GB82WEST12345698765432"), ..bill() }, "iban"),
            (PaymentRequest { description: Some("x"), ..bill() }, "description"),
        ];
        for (request, field) in cases {
            let error = Payment::validate(&request).unwrap_err();
            assert_eq!(error.field(), field, "{request:?}: {error}");
        }
    }

    #[test]
    fn limits_are_counted_in_characters() {
        let name70 = "é".repeat(70);
        assert!(Payment::validate(&PaymentRequest { payee: &name70, ..transfer() }).is_ok());
        let name71 = "é".repeat(71);
        let error = Payment::validate(&PaymentRequest { payee: &name71, ..transfer() }).unwrap_err();
        assert_eq!(error, PaymentError::TooLong { field: Field::Payee, max: 70 });
        assert_eq!(error.to_string(), "the payee is too long: at most 70 characters");
        let d140 = "d".repeat(140);
        assert!(Payment::validate(&PaymentRequest { description: Some(&d140), ..transfer() }).is_ok());
        let d141 = "d".repeat(141);
        let error = Payment::validate(&PaymentRequest { description: Some(&d141), ..transfer() }).unwrap_err();
        assert_eq!(error.field(), "description");
        let code35 = "A1".repeat(17) + "Z";
        assert!(Payment::validate(&PaymentRequest { bill_code: Some(&code35), ..bill() }).is_ok());
        let code36 = code35.clone() + "9";
        assert_eq!(
            Payment::validate(&PaymentRequest { bill_code: Some(&code36), ..bill() }),
            Err(PaymentError::TooLong { field: Field::BillCode, max: 35 })
        );
    }

    #[test]
    fn forbidden_characters_are_named_by_code_point() {
        let error = Payment::validate(&PaymentRequest { payee: "ACME\u{202E}gpj.exe", ..transfer() }).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the payee contains the bidirectional control U+202E, which could make the phone show something \
             other than what is signed"
        );
        assert!(forbidden('\u{E0041}').is_some());
        assert!(forbidden('\u{85}').is_some());
        for fine in ['a', 'é', 'ß', '中', '\u{a0}', '-', '\'', '&', 'א'] {
            assert_eq!(forbidden(fine), None, "{fine:?}");
        }
    }

    #[test]
    fn from_fields_is_the_inverse_of_fields_and_nothing_more() {
        for request in [transfer(), PaymentRequest { description: None, ..transfer() }, bill()] {
            let payment = Payment::validate(&request).unwrap();
            assert_eq!(Payment::from_fields(payment.kind(), &payment.fields()).unwrap(), payment);
            assert_eq!(Payment::from_operation(&payment.operation("op", 1)).unwrap(), payment);
        }
    }

    #[test]
    fn from_fields_refuses_non_canonical_values() {
        let good = Payment::validate(&transfer()).unwrap().fields();
        for (index, value, field) in [
            (0, "12.5", "amount"),
            (3, "IT60 X054 2811 1010 0000 0123 456", "iban"),
            (3, "it60x0542811101000000123456", "iban"),
            (2, " Mario Rossi", "payee"),
            (4, "", "description"),
            (4, " Invoice 42", "description"),
        ] {
            let mut fields = good.clone();
            fields[index].1 = value.to_owned();
            let error = Payment::from_fields("payment.credit_transfer", &fields).unwrap_err();
            assert_eq!(error.field(), field, "{value:?}: {error}");
        }
    }
}
