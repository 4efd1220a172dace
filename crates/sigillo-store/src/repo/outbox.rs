//! The notification outbox: SMS, email and push notifications written with the event that
//! causes them and delivered by a worker with retries, so a gateway outage or a crash loses nothing.

use crate::{Conn, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Email,
    /// A push notification to one bound phone (migration 0004).
    Push,
    /// An operation's outcome for an integration client's webhook (migration 0004).
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
            Self::Push => "push",
            Self::Webhook => "webhook",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Message {
    pub id: String,
    pub channel: String,
    pub recipient: String,
    pub subject: Option<String>,
    /// Sealed by the caller (it may hold a one-time code); empty once wiped.
    pub body: Vec<u8>,
    pub created_at: i64,
    pub attempts: i64,
    pub delivered_at: Option<i64>,
}

fn from_row(r: &AnyRow) -> Result<Message> {
    Ok(Message {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        created_at: r.try_get("created_at")?,
        attempts: r.try_get("attempts")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

pub async fn enqueue(
    conn: &mut Conn,
    channel: Channel,
    recipient: &str,
    subject: Option<&str>,
    sealed_body: &[u8],
    now: i64,
) -> Result<String> {
    let id = crate::new_id();
    sqlx::query(
        "INSERT INTO outbox (id, channel, recipient, subject, body, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(channel.as_str())
    .bind(recipient)
    .bind(subject)
    .bind(sealed_body)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Claims up to `limit` due messages for `lease_ms`. The conditions are repeated outside
/// the subquery so that two workers (on two nodes) never claim the same message:
/// PostgreSQL re-checks them on the locked row, SQLite runs writers one at a time.
pub async fn claim_due(conn: &mut Conn, now: i64, limit: i64, lease_ms: i64) -> Result<Vec<Message>> {
    let rows = sqlx::query(
        "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
                        AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY created_at LIMIT $3) \
           AND delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $1) \
         RETURNING id, channel, recipient, subject, body, created_at, attempts, delivered_at",
    )
    .bind(now)
    .bind(now + lease_ms)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<Message> = rows.iter().map(from_row).collect::<Result<_>>()?;
    out.sort_by_key(|m| m.created_at);
    Ok(out)
}

/// Marks a message delivered; with `wipe` its body is erased too (a one-time code has no
/// business staying in the database once it reached the customer).
pub async fn mark_delivered(conn: &mut Conn, id: &str, now: i64, wipe: bool) -> Result<()> {
    sqlx::query("UPDATE outbox SET delivered_at = $2, claimed_until = NULL, last_error = NULL WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    if wipe {
        sqlx::query("UPDATE outbox SET body = $2 WHERE id = $1")
            .bind(id)
            .bind(Vec::<u8>::new())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn mark_failed(conn: &mut Conn, id: &str, error: &str, next_attempt_at: i64) -> Result<()> {
    sqlx::query("UPDATE outbox SET claimed_until = NULL, last_error = $2, next_attempt_at = $3 WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(next_attempt_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Messages not yet delivered (the `/metrics` backlog gauge).
pub async fn backlog(conn: &mut Conn) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL")
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?)
}

/// The newest `limit` messages, oldest first (the dev outbox).
pub async fn recent(conn: &mut Conn, limit: i64) -> Result<Vec<Message>> {
    let rows = sqlx::query(
        "SELECT id, channel, recipient, subject, body, created_at, attempts, delivered_at FROM outbox \
         ORDER BY created_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<Message> = rows.iter().map(from_row).collect::<Result<_>>()?;
    out.reverse();
    Ok(out)
}
