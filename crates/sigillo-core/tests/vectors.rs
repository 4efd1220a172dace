//! Issues 3 and 4: test vectors of the device-binding protocol, made by an independent
//! implementation (`tests/vectors/make_vectors.py`: Python and OpenSSL through the
//! `cryptography` package, written from the rules in `src/device/*.rs`), reproduced here
//! with the public API of `sigillo_core::device` (and `sigillo_core::oath` for the steps
//! of the offline codes). Every case of every group is checked.
//!
//! If a vector and the Rust code disagree, one of the two implementations misreads the
//! protocol: fix the side that contradicts the doc comments, never the JSON by hand.
//! `python3 tests/vectors/make_vectors.py --check` tells whether the JSON is what the script
//! makes.

use serde::Deserialize;
use sigillo_core::device::activation::{self, ActivationCode, CodeError};
use sigillo_core::device::canonical::Canon;
use sigillo_core::device::keys::{self, Factor, KeyPair, MasterKey};
use sigillo_core::device::matching;
use sigillo_core::device::messages::{self, OfferedKeys, Operation};
use sigillo_core::device::offline::{self, OfflinePurpose, TransactionQr};
use sigillo_core::device::pin::{self, WrappedSeed};
use sigillo_core::device::{b64, unb64};
use sigillo_core::oath::{ocra, totp};
use sigillo_core::time::UnixMillis;

const JSON: &str = include_str!("vectors/device.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vectors {
    #[expect(dead_code, reason = "for people reading the JSON")]
    description: String,
    canonical: Vec<CanonicalCase>,
    activation_code: Vec<ActivationCase>,
    seeded_key: Vec<SeededKeyCase>,
    ecdh: Vec<EcdhCase>,
    fingerprint: Vec<FingerprintCase>,
    pin_wrap: Vec<PinWrapCase>,
    key_confirmation: Vec<KeyConfirmationCase>,
    signatures: Vec<SignatureCase>,
    qr: Vec<QrCase>,
    operation: Vec<OperationCase>,
    login_operation: Vec<LoginOperationCase>,
    offline_key: Vec<OfflineKeyCase>,
    login_code: Vec<LoginCodeCase>,
    transaction_qr: Vec<TransactionQrCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CanonicalCase {
    name: String,
    domain: String,
    fields: Vec<Field>,
    encoding: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Field {
    Str(String),
    U64(u64),
    Bytes(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivationCase {
    name: String,
    id: String,
    secret: String,
    display: String,
    lookup_id: String,
    digest_key: String,
    secret_digest: String,
    also_parses: Vec<String>,
    rejected: Vec<Rejected>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rejected {
    text: String,
    error: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeededKeyCase {
    name: String,
    seed: String,
    label: String,
    master: bool,
    /// Which HKDF counter gave a valid scalar: always 0 in practice (the retry happens
    /// with probability about 2^-32), so not observable through the API.
    counter: u32,
    private: String,
    public: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EcdhCase {
    name: String,
    a_private: String,
    a_public: String,
    b_private: String,
    b_public: String,
    shared_x: String,
    binding: String,
    otp_keys: OtpKeys,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtpKeys {
    possession: String,
    knowledge: String,
    biometry: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FingerprintCase {
    name: String,
    possession: String,
    server: String,
    fingerprint: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PinWrapCase {
    name: String,
    seed: String,
    salt: String,
    pin: String,
    binding: String,
    wrapped: String,
    knowledge_public: String,
    wrong_pin: String,
    wrong_seed: String,
    wrong_public: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyConfirmationCase {
    name: String,
    otp_key: String,
    binding: String,
    factor: Factor,
    confirmation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureCase {
    name: String,
    inputs: MessageInputs,
    private: String,
    public_key: String,
    message: String,
    signature: String,
    valid: bool,
    /// For the negative cases: what the signature was really made over.
    signed_message: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum MessageInputs {
    Request {
        factor: Factor,
        binding: String,
        challenge: String,
        method: String,
        path: String,
        body: String,
    },
    Approval {
        factor: Factor,
        binding: String,
        challenge: String,
        operation: OperationInput,
    },
    ActivationProof {
        factor: Factor,
        code: String,
        device_name: String,
        platform: String,
        possession: String,
        knowledge: String,
        biometry: Option<String>,
    },
    ApprovalWithAnswer {
        factor: Factor,
        binding: String,
        challenge: String,
        operation: OperationInput,
        answer: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperationInput {
    id: String,
    kind: String,
    expires_at_ms: u64,
    fields: Vec<(String, String)>,
}

impl OperationInput {
    fn operation(&self) -> Operation {
        Operation {
            id: self.id.clone(),
            kind: self.kind.clone(),
            expires_at_ms: self.expires_at_ms,
            fields: self.fields.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QrCase {
    name: String,
    master_seed: String,
    master_public: String,
    id: String,
    secret: String,
    display: String,
    expires_at_ms: u64,
    payload: String,
    also_accepted: Vec<String>,
    refused: Vec<RefusedQr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefusedQr {
    what: String,
    payload: String,
    error: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperationCase {
    id: String,
    kind: String,
    expires_at_ms: u64,
    fields: Vec<(String, String)>,
    encoding: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginOperationCase {
    name: String,
    id: String,
    expires_at_ms: u64,
    shown: [u8; 3],
    about: Vec<(String, String)>,
    fields: Vec<(String, String)>,
    encoding: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfflineKeyCase {
    name: String,
    possession: String,
    knowledge: String,
    binding: String,
    purpose: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginCodeCase {
    name: String,
    key: String,
    time_ms: i64,
    step: u64,
    code: String,
    accepted_at_ms: Vec<i64>,
    refused_at_ms: Vec<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionQrCase {
    name: String,
    master_seed: String,
    master_public: String,
    key: String,
    operation: OperationInput,
    operation_bytes: String,
    nonce: String,
    signed_bytes: String,
    suite: String,
    challenge: String,
    data_input: String,
    code: String,
    payload: String,
    also_accepted: Vec<String>,
    refused: Vec<RefusedTransactionQr>,
    tampered_codes: Vec<TamperedCode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefusedTransactionQr {
    what: String,
    payload: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TamperedCode {
    what: String,
    signed_bytes: String,
    code: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(JSON).unwrap_or_else(|e| panic!("tests/vectors/device.json: {e}"))
}

fn h(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap_or_else(|e| panic!("not hex ({e}): {text:?}"))
}

fn h32(text: &str) -> [u8; 32] {
    h(text).try_into().unwrap_or_else(|v: Vec<u8>| panic!("{} bytes, not 32: {text:?}", v.len()))
}

fn code_error(name: &str) -> CodeError {
    match name {
        "Length" => CodeError::Length,
        "Character" => CodeError::Character,
        "Checksum" => CodeError::Checksum,
        "QrFormat" => CodeError::QrFormat,
        "QrSignature" => CodeError::QrSignature,
        other => panic!("unknown CodeError {other}"),
    }
}

/// A "CSPRNG" that hands out given bytes, to make the PIN wrapping use the vectors' seed
/// and salt. Relies on the order in which the functions draw (documented at each use).
struct Replay(Vec<u8>);

impl rand::RngCore for Replay {
    fn next_u32(&mut self) -> u32 {
        unimplemented!("only fill_bytes is used")
    }
    fn next_u64(&mut self) -> u64 {
        unimplemented!("only fill_bytes is used")
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(self.0.len() >= dest.len(), "the replayed bytes ran out");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand::CryptoRng for Replay {}

fn code_from_parts(id: &str, secret: &str) -> ActivationCode {
    let id: [u8; 5] = h(id).try_into().unwrap_or_else(|v: Vec<u8>| panic!("an id of {} bytes", v.len()));
    let secret: [u8; 5] = h(secret).try_into().unwrap_or_else(|v: Vec<u8>| panic!("a secret of {} bytes", v.len()));
    ActivationCode::from_parts(id, secret)
}

/// Issues 3 and 4: the JSON holds every group, none of them empty.
#[test]
fn every_group_has_cases() {
    let v = vectors();
    let sizes = [
        v.canonical.len(),
        v.activation_code.len(),
        v.seeded_key.len(),
        v.ecdh.len(),
        v.fingerprint.len(),
        v.pin_wrap.len(),
        v.key_confirmation.len(),
        v.signatures.len(),
        v.qr.len(),
        v.operation.len(),
        v.login_operation.len(),
        v.offline_key.len(),
        v.login_code.len(),
        v.transaction_qr.len(),
    ];
    assert!(sizes.iter().all(|&n| n > 0), "{sizes:?}");
}

/// Issue 3: test vectors of the canonical encoding (`Canon`), reproduced.
#[test]
fn canonical_encoding() {
    for case in vectors().canonical {
        let canon = case.fields.iter().fold(Canon::new(&case.domain), |canon, field| match field {
            Field::Str(s) => canon.str(s),
            Field::U64(n) => canon.u64(*n),
            Field::Bytes(b) => canon.bytes(&h(b)),
        });
        assert_eq!(hex::encode(canon.finish()), case.encoding, "{}", case.name);
    }
}

/// Issue 3: test vectors of activation codes (display, parse, typo detection, the stored
/// digest of the secret half), reproduced.
#[test]
fn activation_codes() {
    for case in vectors().activation_code {
        let name = &case.name;
        let code = code_from_parts(&case.id, &case.secret);
        assert_eq!(code.display(), case.display, "{name}");
        assert_eq!(code.lookup_id(), case.lookup_id, "{name}");
        assert_eq!(code.id.to_vec(), h(&case.id), "{name}");
        assert_eq!(hex::encode(code.secret_digest(&h32(&case.digest_key))), case.secret_digest, "{name}");
        assert_eq!(ActivationCode::parse(&case.display).unwrap(), code, "{name}");
        for text in &case.also_parses {
            assert_eq!(ActivationCode::parse(text).unwrap(), code, "{name}: {text:?}");
        }
        for rejected in &case.rejected {
            assert_eq!(
                ActivationCode::parse(&rejected.text),
                Err(code_error(&rejected.error)),
                "{name}: {:?}",
                rejected.text
            );
        }
    }
}

/// Issue 3: test vectors of keys derived from a seed (the knowledge key, P1, and the
/// server's master key, P6), reproduced.
#[test]
fn seeded_keys() {
    for case in vectors().seeded_key {
        let name = &case.name;
        assert_eq!(case.counter, 0, "{name}: a retried counter would need a vector of its own");
        let seed = h32(&case.seed);
        let key = KeyPair::from_seed(&seed, &case.label);
        assert_eq!(hex::encode(&*key.to_bytes()), case.private, "{name}");
        assert_eq!(hex::encode(key.public_key()), case.public, "{name}");
        keys::check_public_key(&key.public_key()).unwrap();
        if case.master {
            let master: MasterKey = KeyPair::master_from_seed(&seed);
            assert_eq!(hex::encode(master.public_key()), case.public, "{name}");
        }
    }
}

/// Issue 3, P4: test vectors of ECDH and of the per-factor OTP keys, reproduced.
#[test]
fn ecdh_and_factor_otp_keys() {
    for case in vectors().ecdh {
        let name = &case.name;
        let a = KeyPair::from_bytes(&h(&case.a_private)).unwrap();
        let b = KeyPair::from_bytes(&h(&case.b_private)).unwrap();
        assert_eq!(hex::encode(a.public_key()), case.a_public, "{name}");
        assert_eq!(hex::encode(b.public_key()), case.b_public, "{name}");
        let shared = a.agree(&h(&case.b_public)).unwrap();
        assert_eq!(hex::encode(*shared), case.shared_x, "{name}");
        assert_eq!(*b.agree(&h(&case.a_public)).unwrap(), *shared, "{name}");
        for (factor, expected) in [
            (Factor::Possession, &case.otp_keys.possession),
            (Factor::Knowledge, &case.otp_keys.knowledge),
            (Factor::Biometry, &case.otp_keys.biometry),
        ] {
            let key = keys::factor_otp_key(&shared, &case.binding, factor);
            assert_eq!(&hex::encode(*key), expected, "{name}: {factor:?}");
        }
    }
}

/// Issue 3: test vectors of the binding fingerprint both sides show, reproduced.
#[test]
fn fingerprints() {
    for case in vectors().fingerprint {
        let fingerprint = keys::fingerprint(&h(&case.possession), &h(&case.server));
        assert_eq!(fingerprint, case.fingerprint, "{}", case.name);
    }
}

/// Issue 3, P1: test vectors of the PIN wrapping of the knowledge key's seed, reproduced:
/// the right PIN unwraps the registered key, a wrong one another valid key.
#[test]
fn pin_wrapping() {
    for case in vectors().pin_wrap {
        let name = &case.name;
        let stored = WrappedSeed { salt: h32(&case.salt), wrapped: h32(&case.wrapped) };
        assert_eq!(*pin::candidate_seed(&stored, &case.pin, &case.binding).unwrap(), h32(&case.seed), "{name}");
        let key = pin::knowledge_key(&stored, &case.pin, &case.binding).unwrap();
        assert_eq!(hex::encode(key.public_key()), case.knowledge_public, "{name}");
        assert_eq!(
            *pin::candidate_seed(&stored, &case.wrong_pin, &case.binding).unwrap(),
            h32(&case.wrong_seed),
            "{name}"
        );
        let wrong = pin::knowledge_key(&stored, &case.wrong_pin, &case.binding).unwrap();
        assert_eq!(hex::encode(wrong.public_key()), case.wrong_public, "{name}");
        assert_ne!(case.wrong_public, case.knowledge_public, "{name}");
        // The wrapping direction: `wrap` draws the salt's 32 bytes.
        let mut rng = Replay(h(&case.salt));
        let wrapped = pin::wrap(&h32(&case.seed), &case.pin, &case.binding, &mut rng).unwrap();
        assert!(rng.0.is_empty());
        assert_eq!(wrapped, stored, "{name}");
        assert_eq!(hex::encode(pin::key_from_seed(&h32(&case.seed)).public_key()), case.knowledge_public, "{name}");
        // `new_knowledge_key` draws the seed's 32 bytes, then the salt's 32.
        let mut rng = Replay([h(&case.seed), h(&case.salt)].concat());
        let (wrapped, fresh) = pin::new_knowledge_key(&case.pin, &case.binding, &mut rng).unwrap();
        assert!(rng.0.is_empty());
        assert_eq!(wrapped, stored, "{name}");
        assert_eq!(hex::encode(fresh.public_key()), case.knowledge_public, "{name}");
        // What the phone stores, as JSON.
        assert_eq!(
            serde_json::to_value(&wrapped).unwrap(),
            serde_json::json!({ "salt": case.salt, "wrapped": case.wrapped }),
            "{name}"
        );
    }
}

/// Issue 3, P4: test vectors of the key confirmation MAC under an OTP key, reproduced.
#[test]
fn key_confirmations() {
    for case in vectors().key_confirmation {
        let name = &case.name;
        let expected = messages::key_confirmation(&h32(&case.otp_key), &case.binding, case.factor);
        assert_eq!(hex::encode(expected), case.confirmation, "{name}");
        assert!(messages::confirmation_matches(&expected, &h(&case.confirmation)), "{name}");
        let mut other = h(&case.confirmation);
        other[31] ^= 1;
        assert!(!messages::confirmation_matches(&expected, &other), "{name}");
    }
}

/// Issues 3 and 4, P3: test vectors of signed messages (requests, approvals, approvals
/// with a number-matching answer, activation proofs): `messages::*` rebuilds exactly the bytes
/// that the independent implementation signed, `keys::verify` (ring) accepts its DER
/// signatures, and refuses each one made over a changed message.
#[test]
fn signatures_made_elsewhere_verify() {
    let cases = vectors().signatures;
    for kind in ["request", "approval", "activation_proof", "approval_with_answer"] {
        let count = |valid: bool| cases.iter().filter(|c| c.valid == valid && c.inputs.kind() == kind).count();
        assert!(count(true) > 0 && count(false) > 0, "{kind}: a positive and a negative case each");
    }
    for case in cases {
        let name = &case.name;
        let message = case.inputs.message();
        assert_eq!(hex::encode(&message), case.message, "{name}: the message bytes");
        let public = h(&case.public_key);
        let signature = unb64(&case.signature).unwrap();
        assert_eq!(b64(&signature), case.signature, "{name}");
        assert_eq!(keys::verify(&public, &message, &signature), case.valid, "{name}");
        let key = KeyPair::from_bytes(&h(&case.private)).unwrap();
        assert_eq!(key.public_key(), public, "{name}");
        let signed = match &case.signed_message {
            Some(signed) => {
                assert!(!case.valid, "{name}");
                h(signed)
            }
            None => {
                assert!(case.valid, "{name}");
                message
            }
        };
        // The signature is good, only over another message.
        assert!(keys::verify(&public, &signed, &signature), "{name}");
        // Both sides sign with RFC 6979 nonces, so the Rust signature is the very same DER.
        assert_eq!(b64(&key.sign(&signed)), case.signature, "{name}: RFC 6979");
    }
}

impl MessageInputs {
    fn kind(&self) -> &'static str {
        match self {
            Self::Request { .. } => "request",
            Self::Approval { .. } => "approval",
            Self::ActivationProof { .. } => "activation_proof",
            Self::ApprovalWithAnswer { .. } => "approval_with_answer",
        }
    }

    fn message(&self) -> Vec<u8> {
        match self {
            Self::Request { factor, binding, challenge, method, path, body } => {
                messages::request(*factor, binding, &h(challenge), method, path, &h(body))
            }
            Self::Approval { factor, binding, challenge, operation } => {
                messages::approval(*factor, binding, &h(challenge), &operation.operation().encode())
            }
            Self::ActivationProof { factor, code, device_name, platform, possession, knowledge, biometry } => {
                let (possession, knowledge, biometry) = (h(possession), h(knowledge), biometry.as_deref().map(h));
                let offered =
                    OfferedKeys { possession: &possession, knowledge: &knowledge, biometry: biometry.as_deref() };
                messages::activation_proof(*factor, code, device_name, platform, &offered)
            }
            Self::ApprovalWithAnswer { factor, binding, challenge, operation, answer } => {
                messages::approval_with_answer(*factor, binding, &h(challenge), &operation.operation().encode(), answer)
            }
        }
    }
}

/// Issue 3, P6: test vectors of signed activation QR codes: the app accepts a QR signed
/// elsewhere with the master key and refuses it after any one change.
#[test]
fn qr_payloads() {
    for case in vectors().qr {
        let name = &case.name;
        let master = MasterKey::master_from_seed(&h32(&case.master_seed));
        let public = master.public_key();
        assert_eq!(hex::encode(&public), case.master_public, "{name}");
        let code = code_from_parts(&case.id, &case.secret);
        assert_eq!(code.display(), case.display, "{name}");
        for payload in std::iter::once(&case.payload).chain(&case.also_accepted) {
            assert_eq!(
                activation::verify_qr(payload, &public),
                Ok((code.clone(), case.expires_at_ms)),
                "{name}: {payload:?}"
            );
        }
        for refused in &case.refused {
            assert_eq!(
                activation::verify_qr(&refused.payload, &public),
                Err(code_error(&refused.error)),
                "{name}: {}",
                refused.what
            );
        }
        // RFC 6979 on both sides: the server makes the very same payload.
        assert_eq!(activation::qr_payload(&code, case.expires_at_ms, &master), case.payload, "{name}");
    }
}

/// Issue 3, P6: test vectors of the canonical bytes of an operation, reproduced.
#[test]
fn operations() {
    for case in vectors().operation {
        let op = Operation { id: case.id, kind: case.kind, expires_at_ms: case.expires_at_ms, fields: case.fields };
        assert_eq!(hex::encode(op.encode()), case.encoding, "{}", op.id);
        assert_eq!(Operation::decode(&h(&case.encoding)).unwrap(), op);
    }
}

/// Issue 4: test vectors of pushed logins (number matching): `matching::login_operation`
/// makes the same bytes as the independent implementation, and `matching::offered` reads
/// the three numbers back from them.
#[test]
fn login_operations() {
    for case in vectors().login_operation {
        let name = &case.name;
        let about: Vec<(&str, &str)> = case.about.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
        let op = matching::login_operation(&case.id, case.expires_at_ms, case.shown, &about);
        assert_eq!(op.kind, matching::LOGIN_KIND, "{name}");
        assert_eq!(op.fields, case.fields, "{name}");
        assert_eq!(hex::encode(op.encode()), case.encoding, "{name}");
        let decoded = Operation::decode(&h(&case.encoding)).unwrap();
        assert_eq!(decoded, op, "{name}");
        assert_eq!(matching::offered(&decoded), Some(case.shown), "{name}");
    }
}

fn purpose(name: &str) -> OfflinePurpose {
    match name {
        "login" => OfflinePurpose::Login,
        "transaction" => OfflinePurpose::Transaction,
        other => panic!("unknown offline purpose {other}"),
    }
}

/// Issue 4, P4: test vectors of the offline keys, derived from both factor OTP keys of a
/// binding, one per purpose, reproduced.
#[test]
fn offline_keys() {
    for case in vectors().offline_key {
        let purpose = purpose(&case.purpose);
        assert_eq!(purpose.as_str(), case.purpose);
        let key = offline::offline_key(&h32(&case.possession), &h32(&case.knowledge), &case.binding, purpose);
        assert_eq!(hex::encode(*key), case.key, "{}", case.name);
    }
}

/// Issue 4, P4, P8: test vectors of the login OTP (TOTP, SHA-256, 6 digits, 30 s): the
/// code at each time, its step, and the window of one step either side the server checks.
#[test]
fn login_codes() {
    for case in vectors().login_code {
        let name = &case.name;
        let key = h32(&case.key);
        let now = UnixMillis(case.time_ms);
        assert_eq!(offline::login_code(&key, now).as_deref(), Some(case.code.as_str()), "{name}");
        assert_eq!(totp::LOGIN.step_at(now), Some(case.step), "{name}");
        assert_eq!(totp::LOGIN.code_for_step(&key, case.step), case.code, "{name}");
        for at in &case.accepted_at_ms {
            assert_eq!(totp::LOGIN.verify(&key, UnixMillis(*at), &case.code, None), Some(case.step), "{name}: at {at}");
        }
        for at in &case.refused_at_ms {
            assert_eq!(totp::LOGIN.verify(&key, UnixMillis(*at), &case.code, None), None, "{name}: at {at}");
        }
        // Each step once (P8): a step at or before the last accepted one never matches.
        assert_eq!(totp::LOGIN.verify(&key, now, &case.code, Some(case.step)), None, "{name}");
        if let Some(before) = case.step.checked_sub(1) {
            assert_eq!(totp::LOGIN.verify(&key, now, &case.code, Some(before)), Some(case.step), "{name}");
        }
    }
}

/// Issue 4, P4, P5, P6: test vectors of the transaction QR and its OCRA code: the app
/// accepts a payload signed elsewhere with the master key, refuses every changed one, and
/// computes the same 8 digits over the signed bytes; another amount, payee or nonce gives
/// another code, which the server refuses.
#[test]
fn transaction_qrs() {
    for case in vectors().transaction_qr {
        let name = &case.name;
        let master = MasterKey::master_from_seed(&h32(&case.master_seed));
        let public = master.public_key();
        assert_eq!(hex::encode(&public), case.master_public, "{name}");
        let operation = case.operation.operation();
        assert_eq!(hex::encode(operation.encode()), case.operation_bytes, "{name}");
        let qr = TransactionQr { operation: h(&case.operation_bytes), nonce: h(&case.nonce) };
        assert_eq!(hex::encode(qr.signed_bytes()), case.signed_bytes, "{name}");
        assert_eq!(offline::split_signed(&h(&case.signed_bytes)).unwrap(), qr, "{name}");
        for payload in std::iter::once(&case.payload).chain(&case.also_accepted) {
            assert_eq!(TransactionQr::verify(payload, &public).as_ref(), Ok(&qr), "{name}: {payload:?}");
        }
        for refused in &case.refused {
            assert!(TransactionQr::verify(&refused.payload, &public).is_err(), "{name}: {}", refused.what);
        }
        // RFC 6979 on both sides: the server makes the very same payload.
        assert_eq!(qr.payload(&master), case.payload, "{name}");

        // The OCRA code: the suite, the challenge, the DataInput and the response.
        assert_eq!(ocra::TRANSACTION_SUITE, case.suite, "{name}");
        assert_eq!(ocra::transaction_challenge(&qr.signed_bytes()), case.challenge, "{name}");
        let data_input = ocra::transaction_suite().data_input(&ocra::Input::challenge(&case.challenge)).unwrap();
        assert_eq!(hex::encode(&*data_input), case.data_input, "{name}");
        let key = h32(&case.key);
        assert_eq!(qr.code(&key), case.code, "{name}");
        assert!(qr.verify_code(&key, &case.code), "{name}");
        for tampered in &case.tampered_codes {
            let other = offline::split_signed(&h(&tampered.signed_bytes)).unwrap();
            assert_eq!(other.code(&key), tampered.code, "{name}: {}", tampered.what);
            assert!(!qr.verify_code(&key, &tampered.code), "{name}: {}", tampered.what);
        }
    }
}
