//! The SDK's error: what went wrong, in terms an app can show or act on.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DeviceError {
    /// The server refused the request; `code` is its stable error code.
    #[error("the server refused: {message} ({code}, HTTP {status})")]
    Server { status: u16, code: String, message: String },
    #[error("cannot reach the server: {0}")]
    Http(#[from] reqwest::Error),
    /// The server's answer breaks the protocol (a bad signature, a fingerprint that does
    /// not match): a possible man in the middle, so nothing is stored.
    #[error("the server's answer failed a protocol check: {0}")]
    Protocol(String),
    #[error(transparent)]
    Code(#[from] sigillo_core::device::activation::CodeError),
    #[error(transparent)]
    Pin(#[from] sigillo_core::device::pin::PinError),
    /// Something about the phone's own state: no such user, no biometry key, ….
    #[error("{0}")]
    State(String),
    #[error("cannot read or write the phone's files: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, DeviceError>;
