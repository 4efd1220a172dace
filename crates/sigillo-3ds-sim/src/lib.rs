//! A 3-D Secure 2 counterpart for sigillo's Access Control Server (ACS): one process that plays
//! the 3DS Server (the merchant's 3DS Requestor) and the Directory Server (DS), and talks to the
//! ACS over real HTTP, and to a real browser through a checkout page.
//!
//! It exists so that the ACS is tested against the other side of the wire, written
//! independently: this crate does not depend on `sigillo-core` or `sigillo-server`, it builds
//! and reads the EMV 3DS 2.1.0/2.2.0 messages itself with `serde_json`. The repository's
//! integration tests use it as a library ([`Sim`]); the browser tests and demos drive it
//! through its JSON control endpoints or the `sigillo-3ds-sim` binary.
//!
//! What it plays, per the EMV 3DS 2.2.0 browser flow:
//! - the DS forwarding an AReq to the ACS (`POST {acs}/3ds/v2/areq`), with `dsURL` pointing
//!   at its own `POST /ds/rreq` and `notificationURL` at its `POST /merchant/notify`;
//! - the merchant's checkout page (`GET /merchant/checkout/{threeDSServerTransID}`), which
//!   posts the CReq into an iframe sized by `challengeWindowSize`;
//! - the DS receiving the RReq (answering RRes, Erro, or HTTP 500 on demand) and the merchant
//!   receiving the CRes, each checked and recorded for the test to inspect.
//!
//! # Layout
//! - [`sim`]: [`Sim`], the running simulator and its test-facing API.
//! - [`purchase`]: [`Purchase`] and the AReq it becomes.
//! - [`wire`]: small message helpers: base64url, CReq, RRes, Erro, UUID checks.
//! - [`records`]: what the simulator remembers (transactions, RReqs, notifications).
//! - `ds`: the Directory Server's RReq endpoint and its checks.
//! - `merchant`: the checkout page and the notification endpoint.
//! - `control`: the JSON control endpoints (`/sim/...`) for browser tests and demos.
//! - `html`: escaping for the two HTML pages.
//! - [`amount`]: decimal amounts to minor units, for the CLI.
#![forbid(unsafe_code)]

pub mod amount;
mod control;
mod ds;
mod html;
mod merchant;
pub mod purchase;
pub mod records;
pub mod sim;
pub mod wire;

pub use amount::parse_amount;
pub use purchase::Purchase;
pub use records::{DsExchange, Notification};
pub use sim::{AreqBody, AreqOutcome, Sim, SimConfig};
