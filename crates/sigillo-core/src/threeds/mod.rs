//! The pure parts of sigillo's EMV 3-D Secure 2.2 Access Control Server (issue 5).
//!
//! # Layout
//! - [`decision`]: the authentication decision for an AReq (frictionless under the PSD2 RTS
//!   exemptions, challenge, reject, not authenticated) and its `transStatus`/`transStatusReason`.
//! - [`authval`]: the authentication value (a keyed MAC over the transaction) and the ECI.

pub mod authval;
pub mod decision;
