//! Notifications: what sigillo tells customers by SMS and email, and how it gets there.
//!
//! Services only *queue* messages (`Services::queue_sms`, `Services::queue_email`), sealed, in the transaction of
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

use crate::service::{ServiceResult, Services};
use sigillo_core::time::UnixMillis;
use sigillo_store::Conn;
use sigillo_store::repo::outbox::{self, Channel, Message};

/// A queued message with its body opened: what a sender delivers and what the dev
/// outbox shows.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub id: String,
    pub channel: String,
    pub recipient: String,
    pub subject: Option<String>,
    /// Empty once delivered outside dev mode (the body is wiped).
    pub body: String,
    pub created_at: i64,
    pub attempts: i64,
}

/// What binds a sealed body to its row: a body cannot be replayed to another recipient.
fn aad(channel: &str, recipient: &str) -> Vec<u8> {
    format!("sigillo/outbox/v1\0{channel}\0{recipient}").into_bytes()
}

impl Services {
    /// Queues an SMS in the caller's transaction; the text is sealed under the KEK (P7).
    pub async fn queue_sms(&self, conn: &mut Conn, to: &str, text: &str, now: UnixMillis) -> ServiceResult<()> {
        let sealed = self.kek().seal(&aad("sms", to), text.as_bytes(), &mut rand::rngs::OsRng);
        outbox::enqueue(conn, Channel::Sms, to, None, &sealed, now.0).await?;
        Ok(())
    }

    /// Queues an email in the caller's transaction; the body is sealed under the KEK (P7).
    pub async fn queue_email(
        &self,
        conn: &mut Conn,
        to: &str,
        subject: &str,
        body: &str,
        now: UnixMillis,
    ) -> ServiceResult<()> {
        let sealed = self.kek().seal(&aad("email", to), body.as_bytes(), &mut rand::rngs::OsRng);
        outbox::enqueue(conn, Channel::Email, to, Some(subject), &sealed, now.0).await?;
        Ok(())
    }

    /// Opens a stored message. A body that does not open (another KEK, tampering) is an error.
    pub fn open_message(&self, m: Message) -> Result<Outgoing, sigillo_core::kek::KekError> {
        let body = if m.body.is_empty() {
            String::new()
        } else {
            let plain = self.kek().open(&aad(&m.channel, &m.recipient), &m.body)?;
            String::from_utf8_lossy(&plain).into_owned()
        };
        Ok(Outgoing {
            id: m.id,
            channel: m.channel,
            recipient: m.recipient,
            subject: m.subject,
            body,
            created_at: m.created_at,
            attempts: m.attempts,
        })
    }

    /// The newest `limit` messages, oldest first, opened (dev outbox, tests).
    pub async fn outbox_messages(&self, limit: i64) -> ServiceResult<Vec<Outgoing>> {
        let mut conn = self.store.conn().await?;
        let messages = outbox::recent(&mut conn, limit).await?;
        messages
            .into_iter()
            .map(|m| self.open_message(m).map_err(|e| crate::service::ServiceError::Internal(e.into())))
            .collect()
    }
}
