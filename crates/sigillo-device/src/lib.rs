//! The phone's side of sigillo (docs/PROTOCOL.md): what a mobile app embeds to bind a
//! user, keep the Smart PIN on the phone, and sign approvals; and, in `main.rs`, the
//! `sigillo-device` command that plays the phone in tests and demos.
//!
//! The SDK never sees a platform: private keys live behind [`keystore::Keystore`] (the
//! Android Keystore or the Secure Enclave in a real app, a 0600 file in the CLI) and the
//! PIN or the fingerprint reader behind [`prompt::Unlock`]. The knowledge key is not in
//! the keystore at all: only its PIN-wrapped seed is in the state (P1).
//!
//! # Layout
//! - [`state`]: the users bound on this phone, saved atomically with mode 0600.
//! - [`keystore`]: where possession and biometry keys live.
//! - [`prompt`]: how the customer unlocks a signature (PIN or biometry).
//! - [`client`]: HTTP to the device API.
//! - [`qr`]: reading the activation QR from a picture.
//! - [`device`]: the operations: activate, commit, approve, PIN change, ….
//! - [`error`]: the SDK's error type.
#![forbid(unsafe_code)]

pub mod client;
pub mod device;
pub mod error;
pub mod keystore;
pub mod prompt;
pub mod qr;
pub mod state;

pub use device::Device;
pub use error::DeviceError;
