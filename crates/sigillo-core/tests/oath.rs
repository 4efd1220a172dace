//! Issue 4 (P4, P5, P8): the offline codes of `sigillo_core::oath` against every test vector
//! of RFC 4226 Appendix D, RFC 6238 Appendix B and RFC 6287 Appendix C
//! (`tests/vectors/rfc*.json`, transcribed from the RFCs), and against sigillo's own cases,
//! whose expected values the Python `oath` package computed
//! (`tests/vectors/oath_crosscheck.py`, which also recomputes every RFC vector).
//!
//! If a vector and the Rust code disagree, re-read the RFC: never fit the JSON to the code.
//! `python3 tests/vectors/oath_crosscheck.py --check` tells whether an independent
//! implementation agrees with the JSON.

use serde::Deserialize;
use sigillo_core::oath::ocra::{self, Field, Input, OcraError, Password, Question, QuestionFormat, Suite};
use sigillo_core::oath::totp::{self, Totp};
use sigillo_core::oath::{Hash, OathError, hotp, truncate};
use sigillo_core::time::UnixMillis;
use std::collections::BTreeMap;

const RFC4226: &str = include_str!("vectors/rfc4226.json");
const RFC6238: &str = include_str!("vectors/rfc6238.json");
const RFC6287: &str = include_str!("vectors/rfc6287.json");

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("bad hex {text:?}: {e}"))
}

fn secs(secs: i64) -> UnixMillis {
    UnixMillis(secs * 1000)
}

// --- RFC 4226 ----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rfc4226 {
    #[expect(dead_code, reason = "for people reading the JSON")]
    description: String,
    source: String,
    hash: Hash,
    digits: u32,
    secret: String,
    cases: Vec<HotpCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HotpCase {
    count: u64,
    hmac: String,
    truncated_hex: String,
    truncated: u32,
    hotp: String,
}

/// RFC 4226 Appendix D: all ten counts, with the intermediate HMAC-SHA-1 (Table 1), the
/// dynamically truncated value in hex and decimal and the HOTP (Table 2). P4.
#[test]
fn rfc4226_appendix_d_all_values() {
    let v: Rfc4226 = serde_json::from_str(RFC4226).unwrap();
    assert_eq!(v.source, "RFC 4226 Appendix D");
    let key = unhex(&v.secret);
    assert_eq!(key, b"12345678901234567890");
    assert_eq!(v.cases.len(), 10);
    for case in &v.cases {
        let mac = hotp::hmac(&key, case.count, v.hash);
        assert_eq!(hex::encode(&*mac), case.hmac, "HMAC at count {}", case.count);
        assert_eq!(truncate(&mac), Some(case.truncated), "truncation at count {}", case.count);
        assert_eq!(format!("{:x}", case.truncated), case.truncated_hex);
        assert_eq!(hotp::truncated_value(&key, case.count, v.hash), case.truncated);
        assert_eq!(hotp::code(&key, case.count, v.digits, v.hash).unwrap(), case.hotp, "HOTP at count {}", case.count);
        assert!(hotp::verify(&key, case.count, v.digits, v.hash, &case.hotp).unwrap());
        assert!(!hotp::verify(&key, case.count + 1, v.digits, v.hash, &case.hotp).unwrap());
    }
}

/// RFC 4226 §5.3 (R4): at least 6 digits; sigillo also stops at 8. Truncation needs the
/// 20 bytes of the shortest HMAC.
#[test]
fn hotp_refuses_digit_counts_outside_6_to_8() {
    let key = b"12345678901234567890";
    for digits in [0, 4, 5, 9, 10] {
        assert_eq!(hotp::code(key, 0, digits, Hash::Sha1), Err(OathError::Digits(digits)));
        assert_eq!(hotp::verify(key, 0, digits, Hash::Sha1, "755224"), Err(OathError::Digits(digits)));
    }
    // Table 2's decimal, count 0, cut to 7 and 8 digits.
    assert_eq!(hotp::code(key, 0, 7, Hash::Sha1).unwrap(), "4755224");
    assert_eq!(hotp::code(key, 0, 8, Hash::Sha1).unwrap(), "84755224");
    assert_eq!(truncate(&[0u8; 19]), None);
    assert_eq!(truncate(&[0xffu8; 20]), Some(0x7fff_ffff));
}

// --- RFC 6238 ----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rfc6238 {
    #[expect(dead_code, reason = "for people reading the JSON")]
    description: String,
    source: String,
    t0: u64,
    step: u64,
    digits: u32,
    seeds: BTreeMap<String, String>,
    cases: Vec<TotpCase>,
    sigillo_login: LoginVectors,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TotpCase {
    time: i64,
    #[expect(dead_code, reason = "for people reading the JSON")]
    utc: String,
    t: String,
    mode: Hash,
    totp: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginVectors {
    #[expect(dead_code, reason = "for people reading the JSON")]
    description: String,
    hash: Hash,
    digits: u32,
    step: u64,
    key: String,
    cases: Vec<LoginCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginCase {
    time: i64,
    step: u64,
    totp: String,
}

/// RFC 6238 Appendix B: all 18 rows (six times × SHA-1, SHA-256, SHA-512), each hash with
/// its own seed (errata 2866), T0 = 0, X = 30, 8 digits. P4.
#[test]
fn rfc6238_appendix_b_all_rows() {
    let v: Rfc6238 = serde_json::from_str(RFC6238).unwrap();
    assert_eq!(v.source, "RFC 6238 Appendix B");
    assert_eq!((v.t0, v.step), (0, totp::DEFAULT_STEP_SECS));
    assert_eq!(v.cases.len(), 18);
    for case in &v.cases {
        let seed = unhex(&v.seeds[case.mode.name()]);
        assert_eq!(seed.len(), case.mode.output_len(), "the seed is as long as the hash output");
        let profile = Totp::new(case.mode, v.digits, v.step).unwrap();
        let step = profile.step_at(secs(case.time)).unwrap();
        assert_eq!(format!("{step:016X}"), case.t, "T at {}", case.time);
        assert_eq!(profile.code_at(&seed, secs(case.time)).unwrap(), case.totp, "{} at {}", case.mode, case.time);
        assert_eq!(profile.code_for_step(&seed, step), case.totp);
        assert_eq!(hotp::code(&seed, step, v.digits, case.mode).unwrap(), case.totp, "TOTP is HOTP of T");
        // The verifying side finds the code at the current step (P8: and says which).
        assert_eq!(profile.verify(&seed, secs(case.time), &case.totp, None), Some(step));
    }
}

/// sigillo's login OTP profile (issue 4, "OTP login"; P4): the Python `oath` package's codes
/// under a 32-byte key, SHA-256, 6 digits, 30 s.
#[test]
fn login_profile_matches_the_python_oath_package() {
    let v: Rfc6238 = serde_json::from_str(RFC6238).unwrap();
    let login = &v.sigillo_login;
    assert_eq!(totp::LOGIN, Totp::new(login.hash, login.digits, login.step).unwrap());
    let key = unhex(&login.key);
    assert_eq!(key.len(), 32);
    assert!(!login.cases.is_empty());
    for case in &login.cases {
        assert_eq!(totp::LOGIN.step_at(secs(case.time)), Some(case.step));
        assert_eq!(totp::LOGIN.code_at(&key, secs(case.time)).unwrap(), case.totp, "at {}", case.time);
    }
}

/// RFC 6238 §5.2 and P8: the window accepts one step of drift either way, says which step
/// matched, and never accepts a step at or before the last one accepted.
#[test]
fn totp_window_returns_the_matched_step_and_accepts_each_step_once() {
    let key = [7u8; 32];
    let t = totp::LOGIN;
    let now = secs(1_700_000_000);
    let current = t.step_at(now).unwrap();
    let code = |step| t.code_for_step(&key, step);
    assert_eq!(t.verify(&key, now, &code(current), None), Some(current));
    assert_eq!(t.verify(&key, now, &code(current - 1), None), Some(current - 1), "one step behind");
    assert_eq!(t.verify(&key, now, &code(current + 1), None), Some(current + 1), "one step ahead");
    assert_eq!(t.verify(&key, now, &code(current - 2), None), None, "two steps behind");
    assert_eq!(t.verify(&key, now, &code(current + 2), None), None, "two steps ahead");
    // Whitespace around a typed code is ignored; anything else is a different code.
    assert_eq!(t.verify(&key, now, &format!(" {} ", code(current)), None), Some(current));
    assert_eq!(t.verify(&key, now, "", None), None);
    assert_eq!(t.verify(&key, now, &code(current)[..5], None), None);
    assert_eq!(t.verify(&[8u8; 32], now, &code(current), None), None, "bound to the key");

    // P8: once step `current` was accepted, neither it nor an earlier step matches again…
    assert_eq!(t.verify(&key, now, &code(current), Some(current)), None, "replay");
    assert_eq!(t.verify(&key, now, &code(current - 1), Some(current)), None, "older code after a newer one");
    // …but the next one does, and an acceptance long ago does not matter.
    assert_eq!(t.verify(&key, now, &code(current + 1), Some(current)), Some(current + 1));
    assert_eq!(t.verify(&key, now, &code(current - 1), Some(current - 2)), Some(current - 1));

    // A wider window and a longer step.
    let wide = Totp::new(Hash::Sha1, 8, 60).unwrap().with_window(3, 0).unwrap();
    let now_wide = wide.step_at(now).unwrap();
    assert_eq!(wide.verify(&key, now, &wide.code_for_step(&key, now_wide - 3), None), Some(now_wide - 3));
    assert_eq!(wide.verify(&key, now, &wide.code_for_step(&key, now_wide + 1), None), None, "no steps ahead");
}

// --- RFC 6287 ----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rfc6287 {
    #[expect(dead_code, reason = "for people reading the JSON")]
    description: String,
    source: String,
    keys: BTreeMap<String, String>,
    pin: String,
    pin_sha1: String,
    groups: Vec<OcraGroup>,
    extra: ExtraGroups,
    sigillo_transaction: TransactionVectors,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OcraGroup {
    #[serde(default)]
    section: String,
    title: String,
    suite: String,
    key: String,
    cases: Vec<OcraCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtraGroups {
    #[expect(dead_code, reason = "for people reading the JSON")]
    description: String,
    groups: Vec<OcraGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OcraCase {
    c: Option<u64>,
    q: Vec<String>,
    p: Option<String>,
    p_hash: Option<String>,
    s: Option<String>,
    /// The RFC's T, in hex.
    t: Option<String>,
    /// Unix seconds, for the suite's step to turn into T.
    time: Option<i64>,
    /// Which Python implementation computed the value (for the script).
    #[expect(dead_code, reason = "read by oath_crosscheck.py")]
    implementation: Option<String>,
    ocra: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionVectors {
    #[expect(dead_code, reason = "for people reading the JSON")]
    description: String,
    suite: String,
    cases: Vec<TransactionCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionCase {
    name: String,
    key: String,
    operation: String,
    challenge: String,
    code: String,
}

/// Computes one vector with `sigillo_core::oath::ocra` and checks it both ways.
fn check_ocra_case(group: &OcraGroup, keys: &BTreeMap<String, String>, case: &OcraCase) {
    let suite = Suite::parse(&group.suite).unwrap_or_else(|e| panic!("{}: {e}", group.suite));
    assert_eq!(suite.as_str(), group.suite);
    let key = unhex(&keys[&group.key]);
    let question = match case.q.as_slice() {
        [one] => Question::One(one),
        [first, second] => Question::Two(first, second),
        other => panic!("one or two challenges, not {other:?}"),
    };
    let p_hash = case.p_hash.as_deref().map(unhex);
    let session = case.s.as_deref().map(unhex);
    let mut input = Input::new(question);
    input.counter = case.c;
    input.password = match (&case.p, &p_hash) {
        (Some(pin), None) => Some(Password::Plain(pin.as_bytes())),
        (None, Some(hash)) => Some(Password::Hashed(hash)),
        (None, None) => None,
        (Some(_), Some(_)) => panic!("p or p_hash, not both"),
    };
    input.session = session.as_deref();
    input.timestamp = match (&case.t, case.time) {
        (Some(t), None) => Some(u64::from_str_radix(t, 16).unwrap_or_else(|e| panic!("T {t:?}: {e}"))),
        (None, Some(time)) => suite.timestamp_at(secs(time)),
        (None, None) => None,
        (Some(_), Some(_)) => panic!("t or time, not both"),
    };
    let what = format!("{} {} {:?}", group.section, group.suite, case.q);
    let check = |typed: &str| suite.verify(&key, &input, typed).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(suite.compute(&key, &input), Ok(case.ocra.clone()), "{what}");
    assert!(check(&case.ocra), "{what}");
    let first = case.ocra.as_bytes()[0];
    let wrong = format!("{}{}", char::from(if first == b'9' { b'0' } else { first + 1 }), &case.ocra[1..]);
    assert!(!check(&wrong), "{what}");
}

/// RFC 6287 Appendix C: every vector of C.1 (one-way challenge-response, including the
/// counter, PIN and time-based suites), C.2 (mutual challenge-response: the server's and
/// the client's computations) and C.3 (plain signatures, including the time-based one). P4.
#[test]
fn rfc6287_appendix_c_all_vectors() {
    let v: Rfc6287 = serde_json::from_str(RFC6287).unwrap();
    assert_eq!(v.source, "RFC 6287 Appendix C");
    assert_eq!(unhex(&v.keys["standard_20"]), b"12345678901234567890");
    assert_eq!(unhex(&v.keys["standard_32"]), b"12345678901234567890123456789012");
    assert_eq!(unhex(&v.keys["standard_64"]), b"1234567890123456789012345678901234567890123456789012345678901234");
    assert_eq!(hex::encode(&*Hash::Sha1.digest(v.pin.as_bytes())), v.pin_sha1);
    let mut per_section = BTreeMap::<&str, usize>::new();
    for group in &v.groups {
        for case in &group.cases {
            check_ocra_case(group, &v.keys, case);
            *per_section.entry(group.section.as_str()).or_default() += 1;
        }
    }
    let expected: BTreeMap<&str, usize> = [("C.1", 40), ("C.2", 20), ("C.3", 10)].into();
    assert_eq!(per_section, expected, "every table of Appendix C");
    // The time-based vectors: T = 0x132d0b6 minutes is 2008-03-25 12:06:00 UTC.
    let t1m = Suite::parse("OCRA-1:HOTP-SHA512-8:QN08-T1M").unwrap();
    assert_eq!(t1m.timestamp_at(secs(1_206_446_760)), Some(0x132d0b6));
    assert_eq!(t1m.timestamp_at(secs(1_206_446_819)), Some(0x132d0b6));
}

/// RFC 6287 C.1 with the PIN given as its SHA-1 hash instead of the PIN: the same responses.
#[test]
fn rfc6287_pin_given_hashed_gives_the_same_responses() {
    let v: Rfc6287 = serde_json::from_str(RFC6287).unwrap();
    let pin_hash = unhex(&v.pin_sha1);
    for group in v.groups.iter().filter(|g| g.suite.contains("-PSHA1")) {
        let suite = Suite::parse(&group.suite).unwrap();
        let key = unhex(&v.keys[&group.key]);
        for case in &group.cases {
            let question = match case.q.as_slice() {
                [one] => Question::One(one),
                [first, second] => Question::Two(first, second),
                _ => unreachable!(),
            };
            let mut input = Input::new(question).with_password(Password::Hashed(&pin_hash));
            input.counter = case.c;
            assert_eq!(suite.compute(&key, &input).unwrap(), case.ocra);
        }
    }
}

/// Suites and inputs the RFC has no vector for (S, 64-digit and mutual numeric challenges,
/// every input at once, 4 and 10 digits, seconds and hours, odd-length hex), as the Python
/// `oath` package (or the script's reference implementation) computes them.
#[test]
fn extra_ocra_suites_match_the_python_implementations() {
    let v: Rfc6287 = serde_json::from_str(RFC6287).unwrap();
    let mut count = 0;
    for group in &v.extra.groups {
        assert!(!group.title.is_empty());
        for case in &group.cases {
            check_ocra_case(group, &v.keys, case);
            count += 1;
        }
    }
    assert!(count >= 15, "{count}");
}

/// sigillo's transaction OTP (issue 4, "OTP dispositiva"; P4, P5): the Python `oath`
/// package's codes for made-up operations; a cent, an IBAN character, the nonce or the key
/// changes the code.
#[test]
fn transaction_codes_match_the_python_oath_package() {
    let v: Rfc6287 = serde_json::from_str(RFC6287).unwrap();
    assert_eq!(v.sigillo_transaction.suite, ocra::TRANSACTION_SUITE);
    let mut codes = Vec::new();
    for case in &v.sigillo_transaction.cases {
        let key = unhex(&case.key);
        let operation = unhex(&case.operation);
        assert_eq!(ocra::transaction_challenge(&operation), case.challenge, "{}", case.name);
        assert_eq!(ocra::transaction_code(&key, &operation), case.code, "{}", case.name);
        assert!(ocra::verify_transaction_code(&key, &operation, &case.code), "{}", case.name);
        codes.push(case.code.clone());
    }
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), codes.len(), "every change to the operation or key changes the code: {codes:?}");
}

/// P5 (dynamic linking): flipping any single bit of any byte of the operation changes the
/// challenge, and the code, and the old code no longer verifies.
#[test]
fn changing_one_byte_of_the_operation_changes_the_transaction_code() {
    let key = [0x5au8; 32];
    let operation = b"sigillo/operation/v1\0payment\0EUR 1234.56\0Mario Rossi\0IT60X0542811101000000123456\0nonce 42";
    let code = ocra::transaction_code(&key, operation);
    assert_eq!(code.len(), 8);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    assert!(ocra::verify_transaction_code(&key, operation, &code));
    assert_eq!(ocra::transaction_challenge(operation).len(), 64);
    for i in 0..operation.len() {
        for bit in [0x01u8, 0x80] {
            let mut changed = operation.to_vec();
            changed[i] ^= bit;
            assert_ne!(ocra::transaction_challenge(&changed), ocra::transaction_challenge(operation));
            // 8 digits: an accidental equal code has probability 1e-8 per change; these
            // inputs are fixed, so this is deterministic.
            assert_ne!(ocra::transaction_code(&key, &changed), code, "byte {i} bit {bit:#x}");
            assert!(!ocra::verify_transaction_code(&key, &changed, &code));
        }
    }
    assert!(!ocra::verify_transaction_code(&key, &operation[..operation.len() - 1], &code), "truncated");
    assert!(!ocra::verify_transaction_code(&[0x5bu8; 32], operation, &code), "bound to the key (P4)");
    assert!(!ocra::verify_transaction_code(&key, operation, &code[..7]));
    assert!(ocra::verify_transaction_code(&key, operation, &format!(" {code}\n")));
}

/// P5: the transaction suite parses to what its name says (RFC 6287 §6).
#[test]
fn the_transaction_suite_is_hmac_sha256_8_digits_and_one_hex_challenge() {
    let suite = ocra::transaction_suite();
    assert_eq!(suite.as_str(), "OCRA-1:HOTP-SHA256-8:QH64");
    assert_eq!((suite.hash(), suite.digits()), (Hash::Sha256, 8));
    assert_eq!((suite.question_format(), suite.question_max_len()), (QuestionFormat::Hex, 64));
    assert!(!suite.uses_counter());
    assert_eq!((suite.password_hash(), suite.session_len(), suite.time_step_secs()), (None, None, None));
    // Upper- and lower-case hex challenges are the same bytes.
    let key = [1u8; 32];
    let challenge = ocra::transaction_challenge(b"x");
    let lower = suite.compute(&key, &Input::challenge(&challenge)).unwrap();
    let upper = suite.compute(&key, &Input::challenge(&challenge.to_uppercase())).unwrap();
    assert_eq!(lower, upper);
    assert_eq!(lower, ocra::transaction_code(&key, b"x"));
}

/// RFC 6287 §6: the suites of the brief parse, with the fields they name.
#[test]
fn ocra_suites_parse() {
    let s = Suite::parse("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1").unwrap();
    assert_eq!((s.hash(), s.digits(), s.uses_counter()), (Hash::Sha256, 8, true));
    assert_eq!(
        (s.question_format(), s.question_max_len(), s.password_hash()),
        (QuestionFormat::Numeric, 8, Some(Hash::Sha1))
    );
    let s: Suite = "OCRA-1:HOTP-SHA512-8:QN08-T1M".parse().unwrap();
    assert_eq!(s.time_step_secs(), Some(60));
    assert_eq!(s.to_string(), "OCRA-1:HOTP-SHA512-8:QN08-T1M");
    let s = Suite::parse("OCRA-1:HOTP-SHA256-8:QA08-S064").unwrap();
    assert_eq!((s.question_format(), s.session_len()), (QuestionFormat::Alphanumeric, Some(64)));
    let s = Suite::parse("OCRA-1:HOTP-SHA1-10:C-QH64-PSHA512-S512-T48H").unwrap();
    assert_eq!((s.digits(), s.question_max_len(), s.password_hash()), (10, 64, Some(Hash::Sha512)));
    assert_eq!((s.session_len(), s.time_step_secs()), (Some(512), Some(48 * 3600)));
    assert_eq!(Suite::parse("OCRA-1:HOTP-SHA1-4:QA04-T59S").unwrap().time_step_secs(), Some(59));
    assert_eq!(Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30M").unwrap().time_step_secs(), Some(1800));
    assert_eq!(Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T1M").unwrap().timestamp_at(UnixMillis(-1)), None);
    assert_eq!(Suite::parse("OCRA-1:HOTP-SHA1-6:QN08").unwrap().timestamp_at(secs(60)), None);
}

/// RFC 6287 §6 (the OCRASuite grammar): malformed suites are refused with a reason, never
/// guessed at.
#[test]
fn malformed_suites_are_refused() {
    for bad in [
        "",
        "OCRA-1",
        "OCRA-1:HOTP-SHA1-6",
        "OCRA-1:HOTP-SHA1-6:QN08:",
        "OCRA-2:HOTP-SHA1-6:QN08",
        "ocra-1:hotp-sha1-6:qn08",
        "OCRA-1:TOTP-SHA1-6:QN08",
        "OCRA-1:HOTP-MD5-6:QN08",
        "OCRA-1:HOTP-SHA224-6:QN08",
        "OCRA-1:HOTP-SHA1:QN08",
        "OCRA-1:HOTP-SHA1-6-1:QN08",
        "OCRA-1:HOTP-SHA1-0:QN08",
        "OCRA-1:HOTP-SHA1-3:QN08",
        "OCRA-1:HOTP-SHA1-11:QN08",
        "OCRA-1:HOTP-SHA1-+6:QN08",
        "OCRA-1:HOTP-SHA1-6:",
        "OCRA-1:HOTP-SHA1-6:C",
        "OCRA-1:HOTP-SHA1-6:C-PSHA1",
        "OCRA-1:HOTP-SHA1-6:Q",
        "OCRA-1:HOTP-SHA1-6:QN",
        "OCRA-1:HOTP-SHA1-6:QN8",
        "OCRA-1:HOTP-SHA1-6:QN03",
        "OCRA-1:HOTP-SHA1-6:QN65",
        "OCRA-1:HOTP-SHA1-6:QN008",
        "OCRA-1:HOTP-SHA1-6:QX08",
        "OCRA-1:HOTP-SHA1-6:QN+8",
        "OCRA-1:HOTP-SHA1-6:QN08-QN08",
        "OCRA-1:HOTP-SHA1-6:QN08-C",
        "OCRA-1:HOTP-SHA1-6:C-C-QN08",
        "OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1",
        "OCRA-1:HOTP-SHA1-6:QN08-S064-PSHA1",
        "OCRA-1:HOTP-SHA1-6:QN08-P",
        "OCRA-1:HOTP-SHA1-6:QN08-PSHA2",
        "OCRA-1:HOTP-SHA1-6:QN08-PMD5",
        "OCRA-1:HOTP-SHA1-6:QN08-S",
        "OCRA-1:HOTP-SHA1-6:QN08-S64",
        "OCRA-1:HOTP-SHA1-6:QN08-S000",
        "OCRA-1:HOTP-SHA1-6:QN08-S0064",
        "OCRA-1:HOTP-SHA1-6:QN08-T",
        "OCRA-1:HOTP-SHA1-6:QN08-TM",
        "OCRA-1:HOTP-SHA1-6:QN08-T0M",
        "OCRA-1:HOTP-SHA1-6:QN08-T60S",
        "OCRA-1:HOTP-SHA1-6:QN08-T60M",
        "OCRA-1:HOTP-SHA1-6:QN08-T49H",
        "OCRA-1:HOTP-SHA1-6:QN08-T1D",
        "OCRA-1:HOTP-SHA1-6:QN08-T1H30M",
        "OCRA-1:HOTP-SHA1-6:QN08-X",
        "OCRA-1:HOTP-SHA1-6:QN08-",
        "OCRA-1:HOTP-SHA1-6:-QN08",
        " OCRA-1:HOTP-SHA1-6:QN08",
    ] {
        match Suite::parse(bad) {
            Err(OcraError::Suite(reason)) => assert!(!reason.is_empty()),
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
    assert_eq!(
        Suite::parse("OCRA-1:HOTP-SHA1-6:C").unwrap_err().to_string(),
        "malformed OCRASuite: the challenge Q is mandatory"
    );
}

/// RFC 6287 §5 (DataInput): inputs that do not fit the suite are refused with an error naming
/// what is wrong, not computed into a code that could never match.
#[test]
fn malformed_inputs_are_refused() {
    let key = b"12345678901234567890123456789012";
    let full = Suite::parse("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1-S004-T1M").unwrap();
    let good = Input::challenge("12345678")
        .with_counter(1)
        .with_password(Password::Plain(b"1234"))
        .with_session(b"abcd")
        .with_timestamp(7);
    assert!(full.compute(key, &good).is_ok());
    let err = |input: Input<'_>| full.compute(key, &input).unwrap_err();
    assert_eq!(err(Input { counter: None, ..good }), OcraError::Missing(Field::Counter));
    assert_eq!(err(Input { password: None, ..good }), OcraError::Missing(Field::Password));
    assert_eq!(err(Input { session: None, ..good }), OcraError::Missing(Field::Session));
    assert_eq!(err(Input { timestamp: None, ..good }), OcraError::Missing(Field::Timestamp));
    assert_eq!(err(good.with_session(b"abc")), OcraError::Session { expected: 4, len: 3 });
    assert_eq!(err(good.with_session(b"abcde")), OcraError::Session { expected: 4, len: 5 });
    assert_eq!(err(good.with_password(Password::Hashed(&[0; 32]))), OcraError::PasswordHash { expected: 20, len: 32 });
    let q = |question| err(Input { question, ..good });
    assert_eq!(q(Question::One("")), OcraError::QuestionLength { len: 0, max: 8 });
    assert_eq!(q(Question::One("123456789")), OcraError::QuestionLength { len: 9, max: 8 });
    assert_eq!(q(Question::Two("12345678", "123456789")), OcraError::QuestionLength { len: 9, max: 8 });
    assert_eq!(q(Question::Two("12345678", "")), OcraError::QuestionLength { len: 0, max: 8 });
    for bad in ["1234567a", "-1234567", "1234 567", "+1234567", "１２３"] {
        assert_eq!(q(Question::One(bad)), OcraError::QuestionFormat(QuestionFormat::Numeric), "{bad:?}");
    }

    let bare = Suite::parse("OCRA-1:HOTP-SHA1-6:QA08").unwrap();
    let challenge = Input::challenge("SIG10000");
    let err = |input: Input<'_>| bare.compute(key, &input).unwrap_err();
    assert_eq!(err(challenge.with_counter(0)), OcraError::Unexpected(Field::Counter));
    assert_eq!(err(challenge.with_password(Password::Plain(b"1234"))), OcraError::Unexpected(Field::Password));
    assert_eq!(err(challenge.with_session(b"")), OcraError::Unexpected(Field::Session));
    assert_eq!(err(challenge.with_timestamp(0)), OcraError::Unexpected(Field::Timestamp));
    for bad in ["SIG-1000", "SIG 1000", "SIGé100", "SIG_1000"] {
        assert_eq!(err(Input::challenge(bad)), OcraError::QuestionFormat(QuestionFormat::Alphanumeric), "{bad:?}");
    }
    assert_eq!(bare.verify(key, &challenge.with_counter(0), "123456"), Err(OcraError::Unexpected(Field::Counter)));

    let hex = ocra::transaction_suite();
    let err = |q: &str| hex.compute(key, &Input::challenge(q)).unwrap_err();
    assert_eq!(err(&"g".repeat(64)), OcraError::QuestionFormat(QuestionFormat::Hex));
    assert_eq!(err(&"a".repeat(65)), OcraError::QuestionLength { len: 65, max: 64 });
    assert_eq!(OcraError::Missing(Field::Counter).to_string(), "the suite needs a counter (C) but the input has none");
}
