//! Notifications: what sigillo tells customers by SMS and email, how it wakes their
//! phones, and how it all gets there.
//!
//! Services only *queue* messages (`Services::queue_sms`, `Services::queue_email`,
//! `Services::queue_push`, `Services::notify_phones`), sealed, in the transaction of the
//! event that causes them; the [`worker`] delivers them through a [`sms`] gateway,
//! [`email`] (SMTP) and the push providers (`crate::push`), with retries. Texts are in
//! Italian first, English second.
//!
//! A push row's recipient is the binding id; its sealed body holds the provider, the
//! token and the note (operation id, kind, expiry), so the worker can forget the very
//! token a provider calls dead, and skips a binding that was removed or re-registered.
//!
//! # Layout
//! - [`texts`]: the messages.
//! - [`sms`], [`email`]: the senders (dev console, HTTP gateway, SMTP).
//! - [`worker`]: the outbox delivery loop.

pub mod email;
pub mod sms;
pub mod texts;
pub mod webhook;
pub mod worker;

use crate::push::{PushNote, PushTarget};
use crate::service::{ServiceResult, Services};
use serde::{Deserialize, Serialize};
use sigillo_core::time::UnixMillis;
use sigillo_store::Conn;
use sigillo_store::repo::bindings;
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

/// The sealed body of a push row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PushBody {
    pub target: PushTarget,
    pub note: PushNote,
}

/// What binds a sealed body to its row: a body cannot be replayed to another recipient.
pub(crate) fn outbox_aad(channel: &str, recipient: &str) -> Vec<u8> {
    aad(channel, recipient)
}

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

    /// Queues a push notification to one binding's phone in the caller's transaction. The
    /// recipient is the binding id; provider, token and note are sealed under the KEK.
    pub async fn queue_push(
        &self,
        conn: &mut Conn,
        binding_id: &str,
        target: &PushTarget,
        note: &PushNote,
        now: UnixMillis,
    ) -> ServiceResult<()> {
        let body = PushBody { target: target.clone(), note: note.clone() };
        let plain = serde_json::to_vec(&body).map_err(anyhow::Error::from)?;
        let sealed = self.kek().seal(&aad("push", binding_id), &plain, &mut rand::rngs::OsRng);
        outbox::enqueue(conn, Channel::Push, binding_id, None, &sealed, now.0).await?;
        Ok(())
    }

    /// Wakes the user's phones for an operation: one push per active binding with a
    /// registered token that is its phone's primary user (`bindings::push_targets`), in
    /// the caller's transaction. `kind` is the operation's kind
    /// (`login`, `payment`); `expires_at` its expiry, after which the note is not sent.
    /// Returns how many were queued (none is fine: the app lists pending operations).
    pub async fn notify_phones(
        &self,
        conn: &mut Conn,
        user_id: &str,
        op_id: &str,
        kind: &str,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> ServiceResult<usize> {
        let targets = bindings::push_targets(conn, user_id).await?;
        let note = PushNote { op: op_id.to_owned(), kind: kind.to_owned(), expires_at: expires_at.0 };
        for t in &targets {
            let target = PushTarget { provider: t.provider.clone(), token: t.token.clone() };
            self.queue_push(conn, &t.binding_id, &target, &note, now).await?;
        }
        Ok(targets.len())
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
