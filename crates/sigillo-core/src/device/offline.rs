//! Offline codes (P4, P5): what the phone computes without a data connection.
//!
//! - The **login OTP** ("Genera OTP → OTP login") is a TOTP ([`totp::LOGIN`], RFC 6238).
//! - The **transaction OTP** ("OTP dispositiva") is an OCRA response
//!   ([`ocra::TRANSACTION_SUITE`], RFC 6287) over the bytes of a server-signed QR that
//!   carries the operation's canonical bytes and a nonce.
//!
//! Both keys come from the two factor OTP keys of the binding together
//! ([`offline_key`]): the possession key alone would let a copy of the phone's storage
//! make codes, and the knowledge key alone would let anyone who saw one code and holds
//! a copy of the storage test PINs against it offline (PROTOCOL.md §1.4). A wrong PIN
//! gives a wrong knowledge key, so a wrong code, which the server counts (P2).

use super::canonical::{Canon, Fields, Malformed};
use super::keys::{self, MasterKey};
use super::{b64, unb64};
use crate::oath::ocra;
use crate::oath::totp;
use crate::time::UnixMillis;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Which offline code a key is for: each has its own key, so a code of one kind is
/// never a code of the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfflinePurpose {
    Login,
    Transaction,
}

impl OfflinePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Transaction => "transaction",
        }
    }
}

/// `HKDF-SHA-256(salt = binding id, ikm = K_possession ‖ K_knowledge,
/// info = Canon("sigillo/offline-key/v1").str(purpose))`, 32 bytes.
pub fn offline_key(
    possession: &[u8; 32],
    knowledge: &[u8; 32],
    binding: &str,
    purpose: OfflinePurpose,
) -> Zeroizing<[u8; 32]> {
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(possession);
    ikm[32..].copy_from_slice(knowledge);
    let info = Canon::new("sigillo/offline-key/v1").str(purpose.as_str()).finish();
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(binding.as_bytes()), ikm.as_ref())
        .expand(&info, out.as_mut())
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid length"));
    out
}

/// The login OTP the phone shows at `now`.
pub fn login_code(key: &[u8; 32], now: UnixMillis) -> Option<String> {
    totp::LOGIN.code_at(key, now)
}

const QR_PREFIX: &str = "SIGILLOTX1";
const QR_DOMAIN: &str = "sigillo/transaction-qr/v1";
/// Bytes of the QR's nonce.
pub const NONCE_LEN: usize = 16;

/// The transaction QR the payment page shows (P6): the operation's canonical bytes and a
/// nonce, signed by the master key. The phone verifies the signature, shows the
/// operation decoded from the same bytes, and computes the OCRA response over
/// [`TransactionQr::signed_bytes`], so one cent or one IBAN character more gives
/// another code (P5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionQr {
    pub operation: Vec<u8>,
    pub nonce: Vec<u8>,
}

impl TransactionQr {
    /// `Canon("sigillo/transaction-qr/v1").bytes(operation).bytes(nonce)`: what the master
    /// key signs and what the OCRA challenge is the SHA-256 of.
    pub fn signed_bytes(&self) -> Vec<u8> {
        Canon::new(QR_DOMAIN).bytes(&self.operation).bytes(&self.nonce).finish()
    }

    /// `SIGILLOTX1:<operation>:<nonce>:<signature>`, each base64url.
    pub fn payload(&self, master: &MasterKey) -> String {
        self.payload_with(&self.sign(master))
    }

    /// The master key's signature over [`TransactionQr::signed_bytes`]: made once when the
    /// operation is created and kept with it, so showing the QR again signs nothing.
    pub fn sign(&self, master: &MasterKey) -> Vec<u8> {
        master.sign(&self.signed_bytes())
    }

    /// The payload with a signature made earlier by [`TransactionQr::sign`].
    pub fn payload_with(&self, signature: &[u8]) -> String {
        format!("{QR_PREFIX}:{}:{}:{}", b64(&self.operation), b64(&self.nonce), b64(signature))
    }

    /// Parses a payload and checks the master key's signature before anything in it is
    /// used (P6).
    pub fn verify(payload: &str, master_public: &[u8]) -> Result<Self, Malformed> {
        let mut parts = payload.trim().split(':');
        let (Some(QR_PREFIX), Some(op), Some(nonce), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Malformed);
        };
        let qr = Self { operation: unb64(op).ok_or(Malformed)?, nonce: unb64(nonce).ok_or(Malformed)? };
        if qr.nonce.len() != NONCE_LEN {
            return Err(Malformed);
        }
        let signature = unb64(sig).ok_or(Malformed)?;
        if !keys::verify(master_public, &qr.signed_bytes(), &signature) {
            return Err(Malformed);
        }
        Ok(qr)
    }

    /// The 8-digit transaction OTP under the binding's transaction key.
    pub fn code(&self, key: &[u8; 32]) -> String {
        ocra::transaction_code(key, &self.signed_bytes())
    }

    /// Constant-time check of a typed code; accepting it once is the caller's (P8).
    pub fn verify_code(&self, key: &[u8; 32], typed: &str) -> bool {
        ocra::verify_transaction_code(key, &self.signed_bytes(), typed)
    }
}

/// Reads the operation bytes back out of [`TransactionQr::signed_bytes`] (for tests and
/// tools that hold only the signed form).
pub fn split_signed(bytes: &[u8]) -> Result<TransactionQr, Malformed> {
    let mut f = Fields::open(bytes, QR_DOMAIN)?;
    let operation = f.bytes()?.to_vec();
    let nonce = f.bytes()?.to_vec();
    f.end()?;
    Ok(TransactionQr { operation, nonce })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::keys::KeyPair;

    #[test]
    fn each_purpose_and_each_factor_key_gives_another_key() {
        let (p, k) = ([1u8; 32], [2u8; 32]);
        let login = offline_key(&p, &k, "b1", OfflinePurpose::Login);
        assert_ne!(*login, *offline_key(&p, &k, "b1", OfflinePurpose::Transaction));
        assert_ne!(*login, *offline_key(&p, &[3u8; 32], "b1", OfflinePurpose::Login));
        assert_ne!(*login, *offline_key(&[3u8; 32], &k, "b1", OfflinePurpose::Login));
        assert_ne!(*login, *offline_key(&p, &k, "b2", OfflinePurpose::Login));
    }

    #[test]
    fn a_qr_verifies_only_unchanged_and_under_the_master_key() {
        let master = KeyPair::master_from_seed(&[7u8; 32]);
        let qr = TransactionQr { operation: b"op bytes".to_vec(), nonce: vec![9u8; NONCE_LEN] };
        let payload = qr.payload(&master);
        assert!(payload.starts_with("SIGILLOTX1:"));
        assert_eq!(TransactionQr::verify(&payload, &master.public_key()).unwrap(), qr);
        let other = KeyPair::master_from_seed(&[8u8; 32]);
        assert!(TransactionQr::verify(&payload, &other.public_key()).is_err());
        let forged = TransactionQr { operation: b"op bytez".to_vec(), nonce: qr.nonce.clone() };
        let sig = payload.rsplit(':').next().unwrap();
        let tampered = format!("SIGILLOTX1:{}:{}:{sig}", b64(&forged.operation), b64(&forged.nonce));
        assert!(TransactionQr::verify(&tampered, &master.public_key()).is_err());
        assert!(TransactionQr::verify(&format!("{payload}:x"), &master.public_key()).is_err());
        assert_eq!(split_signed(&qr.signed_bytes()).unwrap(), qr);
    }

    #[test]
    fn the_code_depends_on_every_byte_and_on_the_nonce() {
        let key = [5u8; 32];
        let qr = TransactionQr { operation: b"12.50 EUR".to_vec(), nonce: vec![1u8; NONCE_LEN] };
        let code = qr.code(&key);
        assert_eq!(code.len(), 8);
        assert!(qr.verify_code(&key, &code));
        let cent = TransactionQr { operation: b"12.51 EUR".to_vec(), ..qr.clone() };
        assert!(!cent.verify_code(&key, &code));
        let nonce = TransactionQr { nonce: vec![2u8; NONCE_LEN], ..qr.clone() };
        assert!(!nonce.verify_code(&key, &code));
    }
}
