//! Notifications: what sigillo tells customers by SMS and email, and how it gets there.
//!
//! Services only *queue* messages ([`queue_sms`], [`queue_email`]) in the transaction of
//! the event that causes them; the [`worker`] delivers them through a [`sms`] gateway and
//! [`email`] (SMTP), with retries. Texts are in Italian first, English second.
//!
//! # Layout
//! - [`texts`]: the messages.
//! - [`sms`], [`email`]: the senders (dev console, HTTP gateway, SMTP).
//! - [`worker`]: the outbox delivery loop.

pub mod email;
pub mod sms;
pub mod texts;
pub mod worker;

use crate::service::ServiceResult;
use sigillo_core::time::UnixMillis;
use sigillo_store::Conn;
use sigillo_store::repo::outbox::{self, Channel};

pub async fn queue_sms(conn: &mut Conn, to: &str, text: &str, now: UnixMillis) -> ServiceResult<()> {
    outbox::enqueue(conn, Channel::Sms, to, None, text, now.0).await?;
    Ok(())
}

pub async fn queue_email(conn: &mut Conn, to: &str, subject: &str, body: &str, now: UnixMillis) -> ServiceResult<()> {
    outbox::enqueue(conn, Channel::Email, to, Some(subject), body, now.0).await?;
    Ok(())
}
