//! EMV 3-D Secure 2.x for the ACS (issue 5): the messages and their validation.
//!
//! Pure: bytes in, a typed [`messages::AReq`] or the [`messages::Erro`] to send back out.
//! The ACS decision and the authentication value live in their own modules.
//!
//! # Layout
//! - [`messages`]: message versions, the code enumerations, `AReq`, `ARes`, `Erro`, and
//!   the [`messages::Pan`] that never prints in full.
//! - [`validate`]: the AReq field table (Table A.1) and [`validate::parse_areq`].

pub mod messages;
pub mod validate;
