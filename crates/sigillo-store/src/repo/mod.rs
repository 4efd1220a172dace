//! One module per aggregate. Every function takes a `&mut Conn` (a pooled connection
//! or an open transaction) and speaks portable SQL.

pub mod activations;
pub mod attempts;
pub mod audit;
pub mod bindings;
pub mod cards;
pub mod challenges;
pub mod email_verifications;
pub mod flows;
pub mod legacy;
pub mod operations;
pub mod outbox;
pub mod portal;
pub mod sessions;
pub mod threeds;
pub mod users;

/// Booleans are stored as 0/1 integers in both databases.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}
