//! OCRA (RFC 6287): `OCRA = Truncate(HMAC(K, DataInput))`, with the DataInput of §5
//!
//! ```text
//! OCRASuite | 00 | [C] | Q | [P] | [S] | [T]
//! ```
//!
//! - `OCRASuite`: the suite string's bytes, then one zero byte.
//! - `C`: the counter, 8 bytes big-endian.
//! - `Q`: the challenge, 128 bytes: numeric challenges are read as one decimal number
//!   written in hexadecimal (as the RFC's reference implementation does with `BigInteger`),
//!   hexadecimal ones as their nibbles, alphanumeric ones as their bytes; left-aligned and
//!   padded with zero nibbles. The two challenges of mutual challenge-response (§7.2) are
//!   concatenated first.
//! - `P`: the hash of the PIN or password (`PSHA1`, `PSHA256`, `PSHA512`).
//! - `S`: session information, exactly `nnn` bytes (`Snnn`).
//! - `T`: the number of time steps since the epoch, 8 bytes big-endian (`T1M`, `T30S`, …).
//!
//! sigillo's transaction OTP (issue 4, "OTP dispositiva", P5) is the suite
//! [`TRANSACTION_SUITE`]: its challenge is the SHA-256 of the canonical operation bytes, so
//! a change of one cent or one IBAN character gives another code.

use super::{Hash, code_matches, decimal_code, truncate_mac};
use crate::time::UnixMillis;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;
use zeroize::Zeroizing;

/// sigillo's suite for the transaction OTP: HMAC-SHA-256, 8 digits, one 64-hex-digit
/// challenge (the SHA-256 of the operation bytes). No counter or time: the operation bytes
/// carry the operation id and a fresh nonce, and the server accepts each operation once.
pub const TRANSACTION_SUITE: &str = "OCRA-1:HOTP-SHA256-8:QH64";

/// Length of the `Q` field of the DataInput.
pub const QUESTION_FIELD_LEN: usize = 128;
/// The shortest `xx` a suite may declare (`QF04`). A challenge itself may be shorter:
/// `xx` is its maximum.
pub const MIN_QUESTION_LEN: usize = 4;
/// The longest `xx` a suite may declare (`QF64`).
pub const MAX_QUESTION_LEN: usize = 64;
/// Fewest digits of an OCRA response (`HOTP-SHAx-4`; the RFC's 0, "no truncation", is
/// refused).
pub const MIN_DIGITS: u32 = 4;
/// Most digits of an OCRA response (`HOTP-SHAx-10`).
pub const MAX_DIGITS: u32 = 10;

/// Why a suite or an input was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum OcraError {
    #[error("malformed OCRASuite: {0}")]
    Suite(&'static str),
    #[error("the suite needs {0} but the input has none")]
    Missing(Field),
    #[error("the input has {0} but the suite does not use it")]
    Unexpected(Field),
    #[error("a challenge must have 1 to {max} characters, not {len}")]
    QuestionLength { len: usize, max: usize },
    #[error("a challenge has a character outside its format ({0})")]
    QuestionFormat(QuestionFormat),
    #[error("the password hash must be {expected} bytes, not {len}")]
    PasswordHash { expected: usize, len: usize },
    #[error("the session information must be {expected} bytes, not {len}")]
    Session { expected: usize, len: usize },
}

/// The optional DataInput fields, by their RFC letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Counter,
    Password,
    Session,
    Timestamp,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Counter => "a counter (C)",
            Self::Password => "a password (P)",
            Self::Session => "session information (S)",
            Self::Timestamp => "a timestamp (T)",
        })
    }
}

/// The `F` of `QFxx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuestionFormat {
    /// `N`: decimal digits.
    Numeric,
    /// `A`: ASCII letters and digits.
    Alphanumeric,
    /// `H`: hexadecimal digits (either case).
    Hex,
}

impl fmt::Display for QuestionFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Numeric => "N, decimal digits",
            Self::Alphanumeric => "A, ASCII letters and digits",
            Self::Hex => "H, hexadecimal digits",
        })
    }
}

impl QuestionFormat {
    fn allows(self, c: u8) -> bool {
        match self {
            Self::Numeric => c.is_ascii_digit(),
            Self::Alphanumeric => c.is_ascii_alphanumeric(),
            Self::Hex => c.is_ascii_hexdigit(),
        }
    }
}

/// A parsed OCRASuite, e.g. `OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1`.
///
/// Parsing is strict: upper case only (the suite's bytes enter the MAC as written), the
/// data inputs in the RFC's order `C`, `Q`, `P`, `S`, `T`, each at most once, and `Q` present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suite {
    text: String,
    hash: Hash,
    digits: u32,
    counter: bool,
    question_format: QuestionFormat,
    question_max_len: usize,
    password: Option<Hash>,
    session_len: Option<usize>,
    time_step_secs: Option<u64>,
}

impl Suite {
    pub fn parse(text: &str) -> Result<Self, OcraError> {
        let mut parts = text.split(':');
        let (Some(version), Some(function), Some(inputs), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(OcraError::Suite("it must have three parts separated by ':'"));
        };
        if version != "OCRA-1" {
            return Err(OcraError::Suite("the version must be OCRA-1"));
        }
        let (hash, digits) = parse_crypto_function(function)?;
        let mut suite = Self {
            text: text.to_owned(),
            hash,
            digits,
            counter: false,
            question_format: QuestionFormat::Numeric,
            question_max_len: 0,
            password: None,
            session_len: None,
            time_step_secs: None,
        };
        // Each input's rank in the RFC order; they must come strictly increasing.
        let mut last_rank = 0;
        for item in inputs.split('-') {
            let rank = match item.as_bytes().first() {
                Some(b'C') => {
                    if item != "C" {
                        return Err(OcraError::Suite("the counter is written C"));
                    }
                    suite.counter = true;
                    1
                }
                Some(b'Q') => {
                    (suite.question_format, suite.question_max_len) = parse_question(item)?;
                    2
                }
                Some(b'P') => {
                    suite.password = Some(
                        item.strip_prefix('P')
                            .and_then(Hash::from_name)
                            .ok_or(OcraError::Suite("the password hash must be PSHA1, PSHA256 or PSHA512"))?,
                    );
                    3
                }
                Some(b'S') => {
                    suite.session_len = Some(parse_session(item)?);
                    4
                }
                Some(b'T') => {
                    suite.time_step_secs = Some(parse_time_step(item)?);
                    5
                }
                _ => return Err(OcraError::Suite("unknown data input (known: C, Q, P, S, T)")),
            };
            if rank <= last_rank {
                return Err(OcraError::Suite("data inputs repeated or out of the order C, Q, P, S, T"));
            }
            last_rank = rank;
        }
        if suite.question_max_len == 0 {
            return Err(OcraError::Suite("the challenge Q is mandatory"));
        }
        Ok(suite)
    }

    /// The suite as written (it is hashed into every response).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn hash(&self) -> Hash {
        self.hash
    }

    pub fn digits(&self) -> u32 {
        self.digits
    }

    pub fn uses_counter(&self) -> bool {
        self.counter
    }

    pub fn question_format(&self) -> QuestionFormat {
        self.question_format
    }

    /// The `xx` of `QFxx`: the longest challenge (of each side, in mutual mode).
    pub fn question_max_len(&self) -> usize {
        self.question_max_len
    }

    /// The hash of `P`, if the suite has one.
    pub fn password_hash(&self) -> Option<Hash> {
        self.password
    }

    /// The `nnn` of `Snnn`, if the suite has one.
    pub fn session_len(&self) -> Option<usize> {
        self.session_len
    }

    /// The `T` step in seconds, if the suite has one.
    pub fn time_step_secs(&self) -> Option<u64> {
        self.time_step_secs
    }

    /// The `T` value at `now`: whole steps since the epoch. `None` if the suite has no `T`
    /// or `now` is before the epoch.
    pub fn timestamp_at(&self, now: UnixMillis) -> Option<u64> {
        let step = self.time_step_secs?;
        u64::try_from(now.as_secs()).ok().map(|secs| secs / step)
    }

    /// The DataInput of RFC 6287 §5 for `input`. It can hold a PIN hash: it is wiped when
    /// dropped.
    pub fn data_input(&self, input: &Input<'_>) -> Result<Zeroizing<Vec<u8>>, OcraError> {
        let mut data = Zeroizing::new(Vec::with_capacity(
            self.text.len() + 1 + 8 + QUESTION_FIELD_LEN + 64 + self.session_len.unwrap_or(0) + 8,
        ));
        data.extend_from_slice(self.text.as_bytes());
        data.push(0);
        match (self.counter, input.counter) {
            (true, Some(counter)) => data.extend_from_slice(&counter.to_be_bytes()),
            (true, None) => return Err(OcraError::Missing(Field::Counter)),
            (false, Some(_)) => return Err(OcraError::Unexpected(Field::Counter)),
            (false, None) => {}
        }
        data.extend_from_slice(self.question_field(&input.question)?.as_ref());
        match (self.password, &input.password) {
            (Some(hash), Some(Password::Plain(password))) => data.extend_from_slice(&hash.digest(password)),
            (Some(hash), Some(Password::Hashed(digest))) => {
                if digest.len() != hash.output_len() {
                    return Err(OcraError::PasswordHash { expected: hash.output_len(), len: digest.len() });
                }
                data.extend_from_slice(digest);
            }
            (Some(_), None) => return Err(OcraError::Missing(Field::Password)),
            (None, Some(_)) => return Err(OcraError::Unexpected(Field::Password)),
            (None, None) => {}
        }
        match (self.session_len, input.session) {
            (Some(expected), Some(session)) => {
                if session.len() != expected {
                    return Err(OcraError::Session { expected, len: session.len() });
                }
                data.extend_from_slice(session);
            }
            (Some(_), None) => return Err(OcraError::Missing(Field::Session)),
            (None, Some(_)) => return Err(OcraError::Unexpected(Field::Session)),
            (None, None) => {}
        }
        match (self.time_step_secs, input.timestamp) {
            (Some(_), Some(timestamp)) => data.extend_from_slice(&timestamp.to_be_bytes()),
            (Some(_), None) => return Err(OcraError::Missing(Field::Timestamp)),
            (None, Some(_)) => return Err(OcraError::Unexpected(Field::Timestamp)),
            (None, None) => {}
        }
        Ok(data)
    }

    /// The OCRA response: `digits` decimal digits.
    pub fn compute(&self, key: &[u8], input: &Input<'_>) -> Result<String, OcraError> {
        let data = self.data_input(input)?;
        Ok(decimal_code(truncate_mac(&self.hash.hmac(key, &data)), self.digits))
    }

    /// Whether `typed` is the response to `input`, compared in constant time. An input the
    /// suite refuses is an error, not a mismatch.
    pub fn verify(&self, key: &[u8], input: &Input<'_>, typed: &str) -> Result<bool, OcraError> {
        Ok(code_matches(&self.compute(key, input)?, typed).into())
    }

    /// The 128-byte `Q` field.
    fn question_field(&self, question: &Question<'_>) -> Result<Zeroizing<[u8; QUESTION_FIELD_LEN]>, OcraError> {
        let parts: &[&str] = match question {
            Question::One(q) => &[q],
            Question::Two(first, second) => &[first, second],
        };
        for part in parts {
            // The format first: then every character is one ASCII byte, and len() counts them.
            if !part.bytes().all(|c| self.question_format.allows(c)) {
                return Err(OcraError::QuestionFormat(self.question_format));
            }
            if part.is_empty() || part.len() > self.question_max_len {
                return Err(OcraError::QuestionLength { len: part.len(), max: self.question_max_len });
            }
        }
        let text = parts.iter().flat_map(|part| part.bytes());
        let mut field = Zeroizing::new([0u8; QUESTION_FIELD_LEN]);
        match self.question_format {
            QuestionFormat::Alphanumeric => {
                for (slot, byte) in field.iter_mut().zip(text) {
                    *slot = byte;
                }
            }
            QuestionFormat::Hex => put_nibbles(&mut field, text.map(hex_value)),
            QuestionFormat::Numeric => {
                let number = decimal_to_be_bytes(text);
                let nibbles = number.iter().flat_map(|b| [b >> 4, b & 0x0f]).skip_while(|&n| n == 0);
                put_nibbles(&mut field, nibbles);
            }
        }
        Ok(field)
    }
}

impl FromStr for Suite {
    type Err = OcraError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `HOTP-SHA1-6` → (SHA1, 6).
fn parse_crypto_function(function: &str) -> Result<(Hash, u32), OcraError> {
    let mut parts = function.split('-');
    let (Some("HOTP"), Some(hash), Some(digits), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OcraError::Suite("the crypto function must be HOTP-SHAx-t"));
    };
    let hash = Hash::from_name(hash).ok_or(OcraError::Suite("the hash must be SHA1, SHA256 or SHA512"))?;
    let digits = small_number(digits, 2)
        .and_then(|d| u32::try_from(d).ok())
        .filter(|d| (MIN_DIGITS..=MAX_DIGITS).contains(d))
        .ok_or(OcraError::Suite("the response must have 4 to 10 digits"))?;
    Ok((hash, digits))
}

/// `QN08` → (Numeric, 8).
fn parse_question(item: &str) -> Result<(QuestionFormat, usize), OcraError> {
    let bytes = item.as_bytes();
    let format = match bytes.get(1) {
        Some(b'N') => QuestionFormat::Numeric,
        Some(b'A') => QuestionFormat::Alphanumeric,
        Some(b'H') => QuestionFormat::Hex,
        _ => return Err(OcraError::Suite("the challenge format must be QA, QN or QH")),
    };
    let len = item
        .get(2..)
        .filter(|digits| digits.len() == 2)
        .and_then(|digits| small_number(digits, 2))
        .filter(|len| (MIN_QUESTION_LEN..=MAX_QUESTION_LEN).contains(len))
        .ok_or(OcraError::Suite("the challenge length must be two digits, 04 to 64"))?;
    Ok((format, len))
}

/// `S064` → 64.
fn parse_session(item: &str) -> Result<usize, OcraError> {
    item.get(1..)
        .filter(|digits| digits.len() == 3)
        .and_then(|digits| small_number(digits, 3))
        .filter(|&len| len > 0)
        .ok_or(OcraError::Suite("the session length must be three digits, 001 to 999"))
}

/// `T1M` → 60, `T30S` → 30, `T2H` → 7200.
fn parse_time_step(item: &str) -> Result<u64, OcraError> {
    const ERROR: OcraError = OcraError::Suite("the time step must be 1-59S, 1-59M or 1-48H");
    let body = item.get(1..).ok_or(ERROR)?;
    let (count, unit) = body.split_at_checked(body.len().saturating_sub(1)).ok_or(ERROR)?;
    let count = small_number(count, 2).and_then(|n| u64::try_from(n).ok()).ok_or(ERROR)?;
    let (max, seconds) = match unit {
        "S" => (59, 1),
        "M" => (59, 60),
        "H" => (48, 3600),
        _ => return Err(ERROR),
    };
    if !(1..=max).contains(&count) {
        return Err(ERROR);
    }
    Ok(count * seconds)
}

/// A decimal number of 1 to `max_digits` ASCII digits (no sign, no spaces).
fn small_number(text: &str, max_digits: usize) -> Option<usize> {
    if text.is_empty() || text.len() > max_digits || !text.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The value of an ASCII hex digit (already validated).
fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Writes nibbles left-aligned into `field` (a trailing odd nibble is the high half of its
/// byte), as the reference implementation's right-padding of the hex string with '0' does.
fn put_nibbles(field: &mut [u8; QUESTION_FIELD_LEN], nibbles: impl Iterator<Item = u8>) {
    for (i, nibble) in nibbles.take(2 * QUESTION_FIELD_LEN).enumerate() {
        field[i / 2] |= if i % 2 == 0 { nibble << 4 } else { nibble };
    }
}

/// A string of decimal digits (already validated, at most 128 of them) as a big-endian
/// unsigned integer, by schoolbook multiply-and-add: no bignum crate needed. 10^128 < 2^426,
/// so 54 bytes hold it; the result has leading zero bytes.
fn decimal_to_be_bytes(digits: impl Iterator<Item = u8>) -> Zeroizing<[u8; 64]> {
    let mut number = Zeroizing::new([0u8; 64]);
    for digit in digits {
        let mut carry = u16::from(digit - b'0');
        for byte in number.iter_mut().rev() {
            let value = u16::from(*byte) * 10 + carry;
            *byte = (value & 0xff) as u8;
            carry = value >> 8;
        }
    }
    number
}

/// The challenge: one, or two concatenated in mutual challenge-response (RFC 6287 §7.2:
/// the server computes over client challenge then server challenge, the client over server
/// challenge then client challenge). Each part must fit the suite's `xx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Question<'a> {
    One(&'a str),
    Two(&'a str, &'a str),
}

/// The `P` input: the PIN or password itself (hashed here), or its hash.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Password<'a> {
    Plain(&'a [u8]),
    Hashed(&'a [u8]),
}

impl fmt::Debug for Password<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "Plain(…)",
            Self::Hashed(_) => "Hashed(…)",
        })
    }
}

/// The values of one computation. Give exactly the fields the suite declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Input<'a> {
    pub counter: Option<u64>,
    pub question: Question<'a>,
    pub password: Option<Password<'a>>,
    pub session: Option<&'a [u8]>,
    /// `T`: whole time steps since the epoch (see [`Suite::timestamp_at`]).
    pub timestamp: Option<u64>,
}

impl<'a> Input<'a> {
    pub fn new(question: Question<'a>) -> Self {
        Self { counter: None, question, password: None, session: None, timestamp: None }
    }

    /// One challenge, nothing else.
    pub fn challenge(question: &'a str) -> Self {
        Self::new(Question::One(question))
    }

    pub fn with_counter(self, counter: u64) -> Self {
        Self { counter: Some(counter), ..self }
    }

    pub fn with_password(self, password: Password<'a>) -> Self {
        Self { password: Some(password), ..self }
    }

    pub fn with_session(self, session: &'a [u8]) -> Self {
        Self { session: Some(session), ..self }
    }

    pub fn with_timestamp(self, timestamp: u64) -> Self {
        Self { timestamp: Some(timestamp), ..self }
    }
}

/// [`TRANSACTION_SUITE`], parsed.
pub fn transaction_suite() -> Suite {
    Suite::parse(TRANSACTION_SUITE).unwrap_or_else(|_| unreachable!("TRANSACTION_SUITE is a valid suite"))
}

/// The transaction OTP's challenge (P5): the SHA-256 of the canonical operation bytes as 64
/// lower-case hex digits. Any change to the operation (amount, payee, IBAN, nonce) changes it.
pub fn transaction_challenge(operation_bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(operation_bytes))
}

/// The transaction OTP the phone shows for `operation_bytes` under its OTP key (P4, P5):
/// 8 digits of OCRA [`TRANSACTION_SUITE`] over [`transaction_challenge`].
pub fn transaction_code(key: &[u8], operation_bytes: &[u8]) -> String {
    let challenge = transaction_challenge(operation_bytes);
    transaction_suite()
        .compute(key, &Input::challenge(&challenge))
        .unwrap_or_else(|_| unreachable!("a SHA-256 in hex is a valid QH64 challenge"))
}

/// Constant-time check of a typed transaction OTP against the stored operation's bytes.
/// Accepting each operation once (P8) is the caller's.
pub fn verify_transaction_code(key: &[u8], operation_bytes: &[u8], typed: &str) -> bool {
    code_matches(&transaction_code(key, operation_bytes), typed).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(suite: &str, question: Question<'_>) -> [u8; QUESTION_FIELD_LEN] {
        *Suite::parse(suite).unwrap().question_field(&question).unwrap()
    }

    /// RFC 6287 Appendix B: numeric challenges go through `BigInteger(q, 10).toString(16)`,
    /// then the hex string is right-padded with '0' to 256 nibbles.
    #[test]
    fn numeric_challenges_are_numbers_written_in_hex() {
        let n = |q: &str| field("OCRA-1:HOTP-SHA1-6:QN64", Question::One(q));
        assert_eq!(n("11111111")[..4], [0xa9, 0x8a, 0xc7, 0]);
        assert_eq!(n("12345678")[..4], [0xbc, 0x61, 0x4e, 0]);
        assert_eq!(n("00000000"), [0; QUESTION_FIELD_LEN]);
        // An odd number of nibbles leaves the last one in a high half: 1 = "1" → 0x10,
        // 256 = "100" → 0x10 0x00, and leading zeros of the decimal text do not count.
        assert_eq!(n("1")[..2], [0x10, 0]);
        assert_eq!(n("00256")[..2], [0x10, 0x00]);
        // 10^64 - 1 = 0x184f…ff (54 nibbles), as Python's '%x' % int('9' * 64) gives.
        assert_eq!(hex::encode(&n(&"9".repeat(64))[..28]), "184f03e93ff9f4daa797ed6e38ed64bf6a1f00ffffffffffffffff00");
        // Two 64-digit challenges are one 128-digit number (mutual mode).
        let both = field("OCRA-1:HOTP-SHA1-6:QN64", Question::Two(&"9".repeat(64), &"1".repeat(64)));
        let expected = "24ee91f2603a6337f19bccdb0dac404dc08d3cff5ec2374e42f0eff9d6b50fc102f88aaefd89e06496d8ebe1d5471c71c71c71c71c7";
        assert_eq!(hex::encode(&both[..54]), format!("{expected}0"));
        assert!(both[54..].iter().all(|&b| b == 0));
    }

    #[test]
    fn hex_and_alphanumeric_challenges_are_left_aligned() {
        let h = |q: &str| field("OCRA-1:HOTP-SHA1-6:QH08", Question::One(q));
        assert_eq!(h("0aBc")[..3], [0x0a, 0xbc, 0]);
        assert_eq!(h("abc")[..2], [0xab, 0xc0]);
        let a = field("OCRA-1:HOTP-SHA1-6:QA08", Question::Two("CLI22220", "SRV11110"));
        assert_eq!(&a[..16], b"CLI22220SRV11110");
        assert!(a[16..].iter().all(|&b| b == 0));
    }
}
