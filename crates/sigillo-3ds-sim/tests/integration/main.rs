//! The simulator against a tiny ACS written here, over real HTTP: the AReq's shape, the
//! checkout page, the DS's RReq handling and the merchant's notifications.
#![expect(clippy::unwrap_used, reason = "a failed step should fail the test loudly")]

mod areq;
mod challenge;
mod cli;
mod control;
mod ds;
mod support;
