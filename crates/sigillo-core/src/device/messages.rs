//! The messages a binding signs and the server verifies (PROTOCOL.md §6–§8). Each is a
//! [`Canon`] message with its own domain label, so a signature made for one purpose can
//! never be passed off as another.

use super::canonical::{Canon, Fields, Malformed};
use super::keys::Factor;
use super::{b64, unb64};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// The public keys a phone offers at activation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedKeys<'a> {
    pub possession: &'a [u8],
    pub knowledge: &'a [u8],
    pub biometry: Option<&'a [u8]>,
}

/// Signed by each offered key at activation: proves the phone holds its private half.
pub fn activation_proof(factor: Factor, code: &str, device_name: &str, platform: &str, keys: &OfferedKeys) -> Vec<u8> {
    Canon::new("sigillo/activation/v1")
        .str(factor.as_str())
        .str(code)
        .str(device_name)
        .str(platform)
        .bytes(keys.possession)
        .bytes(keys.knowledge)
        .bytes(keys.biometry.unwrap_or_default())
        .finish()
}

/// Signed by the master key in the activation answer: the phone's proof that the keys it
/// offered reached this server unchanged and which server key it agrees with.
pub fn activation_answer(binding: &str, server_key: &[u8], keys: &OfferedKeys) -> Vec<u8> {
    Canon::new("sigillo/activation-answer/v1")
        .str(binding)
        .bytes(server_key)
        .bytes(keys.possession)
        .bytes(keys.knowledge)
        .bytes(keys.biometry.unwrap_or_default())
        .finish()
}

/// Signed by a new key (a knowledge key after a PIN change, a biometry key at enrolment).
pub fn new_key_proof(factor: Factor, binding: &str, public_key: &[u8]) -> Vec<u8> {
    Canon::new("sigillo/new-key/v1").str(factor.as_str()).str(binding).bytes(public_key).finish()
}

/// Signed by the master key when the server answers a new knowledge key with a new
/// server key for it.
pub fn new_key_answer(factor: Factor, binding: &str, device_key: &[u8], server_key: &[u8]) -> Vec<u8> {
    Canon::new("sigillo/new-key-answer/v1")
        .str(factor.as_str())
        .str(binding)
        .bytes(device_key)
        .bytes(server_key)
        .finish()
}

/// A device API request: each factor signs the challenge, the method, the path and a
/// digest of the body, so nothing of the request can be changed or replayed.
pub fn request(factor: Factor, binding: &str, challenge: &[u8], method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    request_with_digest(factor, binding, challenge, method, path, &body_digest(body))
}

/// SHA-256 of a request body, for [`request_with_digest`].
pub fn body_digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// [`request`] with the body already hashed: a verifier checking several factors of one
/// request hashes the body once.
pub fn request_with_digest(
    factor: Factor,
    binding: &str,
    challenge: &[u8],
    method: &str,
    path: &str,
    body_digest: &[u8; 32],
) -> Vec<u8> {
    Canon::new("sigillo/request/v1")
        .str(factor.as_str())
        .str(binding)
        .bytes(challenge)
        .str(method)
        .str(path)
        .bytes(body_digest)
        .finish()
}

/// An approval: the factor signs the operation's canonical bytes *as the server stored
/// them* (P5) with a fresh challenge (P3, P8).
pub fn approval(factor: Factor, binding: &str, challenge: &[u8], operation: &[u8]) -> Vec<u8> {
    Canon::new("sigillo/approval/v1").str(factor.as_str()).str(binding).bytes(challenge).bytes(operation).finish()
}

/// An approval that also carries the customer's answer (the number picked in a login's
/// number matching): signed with the operation, so it cannot be changed in transit.
pub fn approval_with_answer(
    factor: Factor,
    binding: &str,
    challenge: &[u8],
    operation: &[u8],
    answer: &str,
) -> Vec<u8> {
    Canon::new("sigillo/approval-answer/v1")
        .str(factor.as_str())
        .str(binding)
        .bytes(challenge)
        .bytes(operation)
        .str(answer)
        .finish()
}

/// Key confirmation at commit: HMAC-SHA-256 under a factor's OTP key, showing that both
/// sides derived the same key (and, for knowledge, that the PIN unwraps the registered key).
pub fn key_confirmation(otp_key: &[u8; 32], binding: &str, factor: Factor) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(otp_key).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(&Canon::new("sigillo/key-confirmation/v1").str(binding).str(factor.as_str()).finish());
    mac.finalize().into_bytes().into()
}

/// Constant-time comparison of a received confirmation with the expected one.
pub fn confirmation_matches(expected: &[u8; 32], received: &[u8]) -> bool {
    received.len() == 32 && bool::from(expected.as_slice().ct_eq(received))
}

/// The `Sigillo-Signature` header: `p=<b64url>, k=<b64url>` (or `b=` for biometry).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signatures(pub BTreeMap<char, Vec<u8>>);

impl Signatures {
    fn letter(factor: Factor) -> char {
        match factor {
            Factor::Possession => 'p',
            Factor::Knowledge => 'k',
            Factor::Biometry => 'b',
        }
    }

    pub fn with(mut self, factor: Factor, signature: Vec<u8>) -> Self {
        self.0.insert(Self::letter(factor), signature);
        self
    }

    pub fn get(&self, factor: Factor) -> Option<&[u8]> {
        self.0.get(&Self::letter(factor)).map(Vec::as_slice)
    }

    pub fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={}", b64(v))).collect::<Vec<_>>().join(", ")
    }

    /// Parses the header; unknown factors, repeats and bad base64 make it malformed.
    pub fn parse(header: &str) -> Result<Self, Malformed> {
        let mut out = BTreeMap::new();
        for part in header.split(',') {
            let (k, v) = part.trim().split_once('=').ok_or(Malformed)?;
            let letter = match k {
                "p" | "k" | "b" => k.chars().next().ok_or(Malformed)?,
                _ => return Err(Malformed),
            };
            if out.insert(letter, unb64(v).ok_or(Malformed)?).is_some() {
                return Err(Malformed);
            }
        }
        Ok(Self(out))
    }
}

/// Something waiting for approval, as the phone shows it and signs it: an id, a kind,
/// an expiry and labelled fields in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub id: String,
    pub kind: String,
    pub expires_at_ms: u64,
    pub fields: Vec<(String, String)>,
}

const OPERATION_DOMAIN: &str = "sigillo/operation/v1";
/// More labelled fields than any approval screen shows.
pub const MAX_FIELDS: u64 = 64;

impl Operation {
    pub fn encode(&self) -> Vec<u8> {
        let mut canon = Canon::new(OPERATION_DOMAIN)
            .str(&self.id)
            .str(&self.kind)
            .u64(self.expires_at_ms)
            .u64(self.fields.len() as u64);
        for (label, value) in &self.fields {
            canon = canon.str(label).str(value);
        }
        canon.finish()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, Malformed> {
        let mut f = Fields::open(bytes, OPERATION_DOMAIN)?;
        let id = f.str()?.to_owned();
        let kind = f.str()?.to_owned();
        let expires_at_ms = f.u64()?;
        // The count must match the fields present exactly (and stay small): the phone
        // shows what it signs, so two readings of the same bytes must never differ.
        let count = f.u64()?;
        if count > MAX_FIELDS {
            return Err(Malformed);
        }
        let mut fields = Vec::new();
        for _ in 0..count {
            fields.push((f.str()?.to_owned(), f.str()?.to_owned()));
        }
        f.end()?;
        Ok(Self { id, kind, expires_at_ms, fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_headers_round_trip_and_reject_junk() {
        let s = Signatures::default().with(Factor::Possession, vec![1, 2]).with(Factor::Knowledge, vec![3]);
        assert_eq!(s.header(), "k=Aw, p=AQI");
        assert_eq!(Signatures::parse(&s.header()).unwrap(), s);
        for junk in ["", "p", "x=AQ", "p=AQ, p=AQ", "p=A=Q", "p=+/"] {
            assert!(Signatures::parse(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn operations_round_trip_and_any_change_changes_the_bytes() {
        let op = Operation {
            id: "op1".into(),
            kind: "device_binding".into(),
            expires_at_ms: 5,
            fields: vec![("device".into(), "Pixel".into()), ("fingerprint".into(), "1234 5678".into())],
        };
        let bytes = op.encode();
        assert_eq!(Operation::decode(&bytes).unwrap(), op);
        let mut other = op.clone();
        other.fields[0].1 = "Pixe1".into();
        assert_ne!(other.encode(), bytes);
        assert!(Operation::decode(&bytes[..bytes.len() - 1]).is_err());
        // A count that does not match the fields present is malformed.
        let mut lying = bytes.clone();
        let count_field = bytes.len() - op.fields.iter().map(|(l, v)| 8 + l.len() + v.len()).sum::<usize>() - 12;
        assert_eq!(lying[count_field + 11], 2);
        lying[count_field + 11] = 1;
        assert!(Operation::decode(&lying).is_err());
    }
}
