//! The pure parts of sigillo's EMV 3-D Secure 2.x Access Control Server (issue 5): bytes
//! in, a typed [`messages::AReq`] or the [`messages::Erro`] to send back; the decision and
//! the authentication value as functions of plain inputs.
//!
//! # Layout
//! - [`messages`]: message versions, the code enumerations, `AReq`, `ARes`, `Erro`, and
//!   the [`messages::Pan`] that never prints in full.
//! - [`validate`]: the AReq field table (Table A.1) and [`validate::parse_areq`].
//! - [`decision`]: the authentication decision for an AReq (frictionless under the PSD2 RTS
//!   exemptions, challenge, reject, not authenticated) and its `transStatus`/`transStatusReason`.
//! - [`authval`]: the authentication value (a keyed MAC over the transaction) and the ECI.
//! - [`challenge`]: the browser challenge: `CReq` in, the final `CRes` out, and the
//!   `RReq`/`RRes` exchanged with the DS when the challenge ends.

pub mod authval;
pub mod challenge;
pub mod decision;
pub mod messages;
#[cfg(test)]
mod testutil;
pub mod validate;
