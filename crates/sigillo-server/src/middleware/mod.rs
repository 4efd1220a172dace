//! Cross-cutting HTTP concerns.
//!
//! # Layout
//! - [`client`]: the client's address (for the audit trail and the rate limiter).
//! - [`rate_limit`]: per-address limits on the authentication endpoints.
//! - [`headers`]: security headers on every response.

pub mod client;
pub mod headers;
pub mod rate_limit;
