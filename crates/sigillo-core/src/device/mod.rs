//! The device binding protocol (docs/PROTOCOL.md): what a bound phone and the server
//! compute, each side's half, with no I/O.
//!
//! # Layout
//! - [`canonical`]: the one byte encoding of everything that is signed or MACed.
//! - [`activation`]: activation codes (typable, checksummed) and signed QR payloads.
//! - [`keys`]: ECDSA P-256 keys, ECDH, the per-factor OTP keys, fingerprints.
//! - [`pin`]: the Smart PIN rules and the wrapping of the knowledge key (P1).
//! - [`messages`]: the signed messages of activation, requests and approvals.
//! - [`matching`]: number matching for pushed logins.
//! - [`offline`]: the login OTP and the transaction QR and OTP.

pub mod activation;
pub mod canonical;
pub mod keys;
pub mod matching;
pub mod messages;
pub mod offline;
pub mod pin;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Base64url without padding: how keys, signatures and challenges travel in JSON and headers.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The inverse of [`b64`]; `None` for anything else (padding, other alphabets, whitespace).
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}
