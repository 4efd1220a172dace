//! Issue 4 (P5): what a customer may be asked to approve, through the public API of
//! `sigillo_core::payment`.
//!
//! The IBAN verdicts in `tests/vectors/payment.json` are python-stdnum's
//! (`tests/vectors/payment_crosscheck.py --write`); sigillo must agree on every case, and
//! disagree exactly where the file says the two knowingly differ. If a case fails, find out
//! which side misreads ISO 13616 / the registry: never edit the JSON by hand.
//! `python3 tests/vectors/payment_crosscheck.py --check` re-asks stdnum about the file.

use serde::Deserialize;
use sigillo_core::device::messages::Operation;
use sigillo_core::payment::{Amount, Currency, Iban, Payment, PaymentError, PaymentRequest, iban};

const JSON: &str = include_str!("vectors/payment.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vectors {
    #[expect(dead_code, reason = "for people reading the JSON")]
    description: String,
    registry: Vec<(String, usize)>,
    ibans: Vec<IbanCase>,
    sigillo_stricter: Vec<Difference>,
    stdnum_stricter: Vec<Difference>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IbanCase {
    input: String,
    valid: bool,
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Difference {
    input: String,
    why: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(JSON).unwrap_or_else(|e| panic!("payment.json: {e}"))
}

/// Published example IBANs (SWIFT IBAN registry, ISO 13616-1) in print form.
const PUBLISHED: &[&str] = &[
    "GB82 WEST 1234 5698 7654 32",
    "DE89 3704 0044 0532 0130 00",
    "IT60 X054 2811 1010 0000 0123 456",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "BE68 5390 0754 7034",
    "ES91 2100 0418 4502 0005 1332",
    "CH93 0076 2011 6238 5295 7",
    "AT61 1904 3002 3457 3201",
    "NO93 8601 1117 947",
    "SE45 5000 0000 0583 9825 7466",
    "PL61 1090 1014 0000 0712 1981 2874",
    "DK50 0040 0440 1162 43",
    "FI21 1234 5600 0007 85",
    "LU28 0019 4006 4475 0000",
    "IE29 AIBK 9311 5212 3456 78",
    "PT50 0002 0123 1234 5678 9015 4",
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
    "SA03 8000 0000 6080 1016 7519",
];

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// ISO 7064 MOD 97-10 written again, the textbook way, for the claims below.
fn mod97(electronic: &[u8]) -> u32 {
    let rearranged: Vec<u8> = electronic[4..].iter().chain(&electronic[..4]).copied().collect();
    let digits: String = rearranged
        .iter()
        .map(|&b| if b.is_ascii_digit() { char::from(b).to_string() } else { (u32::from(b - b'A') + 10).to_string() })
        .collect();
    digits.bytes().fold(0, |rem, d| (rem * 10 + u32::from(d - b'0')) % 97)
}

fn electronic(print_form: &str) -> String {
    print_form.replace(' ', "")
}

// --- IBAN --------------------------------------------------------------------------------------

#[test]
fn published_example_ibans_of_many_countries_are_valid() {
    for text in PUBLISHED {
        let iban = Iban::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(iban.print_form(), *text);
        assert_eq!(iban.as_str(), electronic(text));
        assert_eq!(iban.country(), &text[..2]);
        assert_eq!(Iban::parse(&text.to_lowercase()).unwrap(), iban);
        assert_eq!(Iban::parse(iban.as_str()).unwrap(), iban);
    }
}

/// The adjacent pairs whose swap MOD 97-10 cannot see: "1B", "B1" both read 1, 11 = "111".
const BLIND_SWAPS: &[&[u8]] = &[b"B1", b"1B", b"M2", b"2M", b"X3", b"3X"];

/// What MOD 97-10 guarantees on alphanumeric IBANs, and where it stops.
///
/// Letters count as two digits (A = 10 … Z = 35), so:
/// - a digit for another digit or a letter for another letter changes the number by
///   k·10^n with 0 < |k| < 97: always caught;
/// - an adjacent swap changes it by 9(a−b)·10^n (two digits), 99(a−b)·10^n (two letters)
///   or 9(v−11d)·10^n (a letter v and a digit d): always caught except v = 11d, i.e. the
///   pairs B1, M2 and X3, whose two orders expand to the same digits (positions 3 and 4
///   excepted: they are not neighbours in the rearranged IBAN);
/// - a digit for a letter or the reverse changes the *length* of the number: caught only
///   about 96 times in 97 (the checks before MOD 97-10 catch some more, e.g. in the check
///   digits).
///
/// This test asserts each statement on every possible such mistake in ~200 valid IBANs.
#[test]
fn mod97_catches_every_same_kind_substitution_and_every_adjacent_swap_but_b1_m2_x3() {
    let vectors = vectors();
    let valid: Vec<String> = PUBLISHED
        .iter()
        .map(|t| electronic(t))
        .chain(vectors.ibans.iter().filter(|c| c.valid).map(|c| electronic(&c.input).to_uppercase()))
        .collect();
    assert!(valid.len() > 190);
    let (mut guaranteed, mut cross_kind, mut cross_kind_missed, mut blind_swaps) = (0, 0, 0, 0);
    for original in &valid {
        let bytes = original.as_bytes();
        assert_eq!(mod97(bytes), 1, "{original}");
        let parses = |mutant: &[u8]| Iban::parse(std::str::from_utf8(mutant).unwrap()).is_ok();
        for i in 0..bytes.len() {
            for &c in ALPHABET.iter().filter(|&&c| c != bytes[i]) {
                let mut mutant = bytes.to_vec();
                mutant[i] = c;
                let text = String::from_utf8_lossy(&mutant).into_owned();
                if c.is_ascii_digit() == bytes[i].is_ascii_digit() {
                    assert_ne!(mod97(&mutant), 1, "MOD 97-10 misses {text} (from {original})");
                    assert!(!parses(&mutant), "{text} (from {original}) accepted");
                    guaranteed += 1;
                } else {
                    cross_kind += 1;
                    if mod97(&mutant) == 1 {
                        cross_kind_missed += 1;
                    } else {
                        assert!(!parses(&mutant), "{text} (from {original}) accepted");
                    }
                }
            }
        }
        for i in 0..bytes.len() - 1 {
            if bytes[i] == bytes[i + 1] {
                continue;
            }
            let mut mutant = bytes.to_vec();
            mutant.swap(i, i + 1);
            // Positions 3 and 4 are not neighbours once the first four characters move
            // to the end, so the blind pairs are blind everywhere else.
            if i != 3 && BLIND_SWAPS.contains(&&bytes[i..i + 2]) {
                assert_eq!(mod97(&mutant), 1, "B1, M2, X3 swaps are invisible to MOD 97-10");
                blind_swaps += 1;
            } else {
                assert_ne!(mod97(&mutant), 1, "MOD 97-10 misses a swap in {original}");
                assert!(!parses(&mutant), "{} (from {original}) accepted", String::from_utf8_lossy(&mutant));
                guaranteed += 1;
            }
        }
    }
    assert!(guaranteed > 60_000, "{guaranteed}");
    // About 1 in 97 digit/letter substitutions passes MOD 97-10 (PROTOCOL.md, "Payments").
    let rate = f64::from(cross_kind_missed) / f64::from(cross_kind);
    assert!((0.005..0.015).contains(&rate), "{cross_kind_missed} of {cross_kind}");
    assert!(blind_swaps < 20, "{blind_swaps}");
}

#[test]
fn a_wrong_length_for_the_country_is_refused() {
    for text in PUBLISHED {
        let good = electronic(text);
        let (country, bban) = (&good[..2], &good[4..]);
        let expected = iban::registry_length(country).unwrap();
        for bban in [format!("{bban}0"), bban[..bban.len() - 1].to_owned()] {
            // Correct check digits, so only the length is wrong.
            let text = format!("{country}{}{bban}", iban::check_digits(country, &bban).unwrap());
            assert_eq!(
                Iban::parse(&text),
                Err(PaymentError::IbanLength { country: country.into(), expected, found: text.len() }),
                "{text}"
            );
        }
    }
}

#[test]
fn a_country_outside_the_registry_is_refused() {
    for country in ["US", "CA", "JP", "AX", "GP", "JE", "XX"] {
        let bban = "WEST12345698765432";
        let text = format!("{country}{}{bban}", iban::check_digits(country, bban).unwrap());
        assert_eq!(Iban::parse(&text), Err(PaymentError::IbanCountry(country.into())), "{text}");
    }
}

#[test]
fn ibans_agree_with_stdnum_on_every_vector() {
    let vectors = vectors();
    assert!(vectors.ibans.len() > 300);
    for case in &vectors.ibans {
        let ours = Iban::parse(&case.input);
        assert_eq!(ours.is_ok(), case.valid, "{:?} ({}): {ours:?}", case.input, case.why);
        if let Ok(iban) = ours {
            assert_eq!(iban.as_str(), electronic(&case.input).to_uppercase());
        }
    }
    for case in &vectors.sigillo_stricter {
        assert!(Iban::parse(&case.input).is_err(), "{:?}: {}", case.input, case.why);
    }
    for case in &vectors.stdnum_stricter {
        assert!(Iban::parse(&case.input).is_ok(), "{:?}: {}", case.input, case.why);
    }
}

#[test]
fn the_registry_table_equals_stdnums() {
    let ours: Vec<(String, usize)> = iban::registry().map(|(c, n)| (c.to_owned(), n)).collect();
    assert_eq!(ours, vectors().registry);
}

// --- currency and amount ------------------------------------------------------------------------

#[test]
fn currency_table_sanity() {
    for (code, units) in [("EUR", 2), ("JPY", 0), ("BHD", 3), ("CLF", 4), ("USD", 2), ("KWD", 3), ("ISK", 0)] {
        assert_eq!(Currency::parse(code).map(|c| c.minor_units()), Ok(units), "{code}");
    }
    assert_eq!(Currency::parse("eur"), Err(PaymentError::CurrencyFormat));
    for code in ["XAU", "XXX", "XTS", "XDR"] {
        assert_eq!(Currency::parse(code), Err(PaymentError::CurrencyNotForPayments(code.into())));
    }
    // Every list-one code with minor units parses; every one without is refused.
    for (code, units) in Currency::list_one() {
        assert_eq!(Currency::parse(code).ok().map(|c| c.minor_units()), units, "{code}");
    }
}

#[test]
fn amount_edge_cases() {
    let eur = Currency::parse("EUR").unwrap();
    let jpy = Currency::parse("JPY").unwrap();
    let ok = |text: &str, currency| Amount::parse(text, currency).map(|a| (a.minor_units(), a.canonical()));
    assert_eq!(ok("12.5", eur), Ok((1250, "12.50".into())));
    assert_eq!(ok("0.50", eur), Ok((50, "0.50".into())));
    assert_eq!(ok("1200", jpy), Ok((1200, "1200".into())));
    assert_eq!(ok("999999999999999", eur), Ok((99_999_999_999_999_900, "999999999999999.00".into())));
    for bad in ["12.505", "-1", "+1", "1e2", " 1", "1 ", "1,5", "1,000", "01", "00.5", "0", "0.00", ".5", "5.", ""] {
        let error = Amount::parse(bad, eur).unwrap_err();
        assert_eq!(error.field(), "amount", "{bad:?}");
    }
    assert!(Amount::parse("12.5", jpy).is_err());
    assert_eq!(Amount::parse("1000000000000000", eur), Err(PaymentError::AmountTooLarge));
}

// --- payments -----------------------------------------------------------------------------------

fn transfer() -> PaymentRequest<'static> {
    PaymentRequest {
        kind: "credit_transfer",
        amount: "12.5",
        currency: "EUR",
        payee: "Mario Rossi",
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

#[test]
fn payees_with_bidi_zero_width_or_control_characters_are_refused() {
    for c in [
        '\u{202A}',
        '\u{202B}',
        '\u{202C}',
        '\u{202D}',
        '\u{202E}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{200E}',
        '\u{200F}',
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{2060}',
        '\u{FEFF}',
        '\u{0}',
        '\u{7}',
        '\n',
        '\r',
        '\t',
        '\u{1B}',
        '\u{7F}',
        '\u{85}',
        '\u{2028}',
        '\u{E0041}',
    ] {
        let payee = format!("Mario{c}Rossi");
        let error = Payment::validate(&PaymentRequest { payee: &payee, ..transfer() }).unwrap_err();
        assert!(matches!(error, PaymentError::ForbiddenCharacter { .. }), "{c:?}: {error}");
        assert_eq!(error.field(), "payee");
        let description = format!("Invoice{c}42");
        let error = Payment::validate(&PaymentRequest { description: Some(&description), ..transfer() }).unwrap_err();
        assert_eq!(error.field(), "description", "{c:?}");
    }
    // Surrounding whitespace is trimmed, not refused; non-Latin names are fine.
    for payee in ["  Mario Rossi\t", "Müller & Söhne GmbH", "Łódź Sp. z o.o.", "שלום", "株式会社"] {
        let payment = Payment::validate(&PaymentRequest { payee, ..transfer() }).unwrap();
        assert_eq!(payment.payee(), payee.trim());
    }
    let error = Payment::validate(&PaymentRequest { payee: "", ..transfer() }).unwrap_err();
    assert_eq!((error.field(), error.to_string().as_str()), ("payee", "the payee must not be empty"));
}

#[test]
fn fields_round_trip_through_from_fields_and_the_operation_bytes() {
    for request in [transfer(), PaymentRequest { description: None, ..transfer() }, bill()] {
        let payment = Payment::validate(&request).unwrap();
        assert_eq!(Payment::from_fields(payment.kind(), &payment.fields()).unwrap(), payment);
        let operation = payment.operation("op-7", 1_767_225_600_000);
        let decoded = Operation::decode(&operation.encode()).unwrap();
        assert_eq!(Payment::from_operation(&decoded).unwrap(), payment);
    }
}

#[test]
fn from_fields_refuses_unknown_missing_reordered_and_extra_labels() {
    let good = Payment::validate(&transfer()).unwrap().fields();
    let kind = "payment.credit_transfer";
    type Edit<'a> = &'a dyn Fn(&mut Vec<(String, String)>);
    let with = |edit: Edit| {
        let mut fields = good.clone();
        edit(&mut fields);
        Payment::from_fields(kind, &fields)
    };
    let refusals = [
        with(&|f| f[2].0 = "name".into()),
        with(&|f| f[0].0 = "Amount".into()),
        with(&|f| {
            f.remove(3);
        }),
        with(&|f| f.truncate(3)),
        with(&|f| f.clear()),
        with(&|f| f.swap(0, 1)),
        with(&|f| f.swap(3, 4)),
        with(&|f| f.push(("note".into(), "x".into()))),
        with(&|f| f.push(("description".into(), "again".into()))),
        with(&|f| f[4].0 = "bill_code".into()),
        Payment::from_fields("payment.bill", &good),
        Payment::from_fields("payment", &good),
        Payment::from_fields("credit_transfer", &good),
    ];
    for (i, refusal) in refusals.iter().enumerate() {
        assert!(refusal.is_err(), "case {i} accepted");
    }
    assert_eq!(
        with(&|f| f.swap(0, 1)).unwrap_err().to_string(),
        "field 1 of a payment.credit_transfer operation must be \"amount\""
    );
}

#[test]
fn any_one_field_change_changes_the_operation_bytes() {
    let base = Payment::validate(&transfer()).unwrap();
    let variants = [
        PaymentRequest { amount: "12.51", ..transfer() },
        PaymentRequest { amount: "125", ..transfer() },
        PaymentRequest { currency: "CHF", ..transfer() },
        PaymentRequest { payee: "Mario Rossl", ..transfer() },
        PaymentRequest { iban: Some("DE89 3704 0044 0532 0130 00"), ..transfer() },
        PaymentRequest { description: Some("Invoice 43"), ..transfer() },
        PaymentRequest { description: None, ..transfer() },
        PaymentRequest {
            kind: "bill",
            iban: None,
            description: None,
            bill_code: Some("IT60X0542811101000000123456"),
            ..transfer()
        },
    ];
    let encode = |p: &Payment, id: &str, exp: u64| p.operation(id, exp).encode();
    let reference = encode(&base, "op-7", 1_767_225_600_000);
    let mut seen = vec![reference.clone()];
    for request in &variants {
        let bytes = encode(&Payment::validate(request).unwrap(), "op-7", 1_767_225_600_000);
        assert!(!seen.contains(&bytes), "{request:?} encodes like another payment");
        seen.push(bytes);
    }
    assert_ne!(encode(&base, "op-8", 1_767_225_600_000), reference);
    assert_ne!(encode(&base, "op-7", 1_767_225_600_001), reference);
}

/// The worked example of PROTOCOL.md, "Payments (issue 4)": keep the two identical.
#[test]
fn the_worked_example_of_the_protocol_document() {
    let payment = Payment::validate(&PaymentRequest {
        kind: "credit_transfer",
        amount: "12.5",
        currency: "EUR",
        payee: " Mario Rossi ",
        iban: Some("it60 x054 2811 1010 0000 0123 456"),
        bill_code: None,
        description: Some("Invoice 42"),
    })
    .unwrap();
    let bytes = payment.operation("op-7", 1_767_225_600_000).encode();
    let expected = concat!(
        "00000014",
        "736967696c6c6f2f6f7065726174696f6e2f7631", // sigillo/operation/v1
        "00000004",
        "6f702d37", // op-7
        "00000017",
        "7061796d656e742e6372656469745f7472616e73666572", // payment.credit_transfer
        "00000008",
        "0000019b76daa800", // 1767225600000
        "00000008",
        "0000000000000005", // 5 fields
        "00000006",
        "616d6f756e74",
        "00000005",
        "31322e3530", // amount 12.50
        "00000008",
        "63757272656e6379",
        "00000003",
        "455552", // currency EUR
        "00000005",
        "7061796565",
        "0000000b",
        "4d6172696f20526f737369", // payee Mario Rossi
        "00000004",
        "6962616e",
        "0000001b",
        "495436305830353432383131313031303030303030313233343536", // iban
        "0000000b",
        "6465736372697074696f6e",
        "0000000a",
        "496e766f696365203432", // description Invoice 42
    );
    assert_eq!(hex::encode(&bytes), expected);
}
