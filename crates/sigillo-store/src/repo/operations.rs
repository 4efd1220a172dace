//! Operations waiting for approval: new phones, logins and payments. `data` holds the
//! canonical bytes the phone shows and signs (P5): approvals and codes are checked
//! against these, never against anything a client sends.

use crate::{Conn, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct Operation {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub subject: Option<String>,
    pub data: Vec<u8>,
    pub status: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub flow_id: Option<String>,
    pub match_number: Option<i64>,
    pub nonce: Option<Vec<u8>>,
    pub qr_signature: Option<Vec<u8>>,
    pub failures: i64,
    pub method: Option<String>,
    pub sms_digest: Option<Vec<u8>>,
    pub sms_expires_at: Option<i64>,
    pub sms_sends: i64,
    pub requested_by: Option<String>,
    pub client_ref: Option<String>,
    pub callback_url: Option<String>,
    pub notified_at: Option<i64>,
}

impl Operation {
    /// The status a reader sees: a pending operation past its expiry is expired, whether
    /// or not anything has written that down yet.
    pub fn status_at(&self, now: i64) -> &str {
        if self.status == "pending" && self.expires_at <= now { "expired" } else { &self.status }
    }
}

fn from_row(r: &AnyRow) -> Result<Operation> {
    Ok(Operation {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        kind: r.try_get("kind")?,
        subject: r.try_get("subject")?,
        data: r.try_get("data")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        decided_at: r.try_get("decided_at")?,
        decided_by: r.try_get("decided_by")?,
        flow_id: r.try_get("flow_id")?,
        match_number: r.try_get("match_number")?,
        nonce: r.try_get("nonce")?,
        qr_signature: r.try_get("qr_signature")?,
        failures: r.try_get("failures")?,
        method: r.try_get("method")?,
        sms_digest: r.try_get("sms_digest")?,
        sms_expires_at: r.try_get("sms_expires_at")?,
        sms_sends: r.try_get("sms_sends")?,
        requested_by: r.try_get("requested_by")?,
        client_ref: r.try_get("client_ref")?,
        callback_url: r.try_get("callback_url")?,
        notified_at: r.try_get("notified_at")?,
    })
}

#[derive(Clone, Debug, Default)]
pub struct NewOperation<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub kind: &'a str,
    pub subject: Option<&'a str>,
    pub data: &'a [u8],
    pub expires_at: i64,
    pub flow_id: Option<&'a str>,
    pub match_number: Option<i64>,
    pub nonce: Option<&'a [u8]>,
    pub qr_signature: Option<&'a [u8]>,
    pub requested_by: Option<&'a str>,
    pub client_ref: Option<&'a str>,
    pub callback_url: Option<&'a str>,
}

pub async fn create(conn: &mut Conn, op: &NewOperation<'_>, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO operations (id, user_id, kind, subject, data, status, created_at, expires_at, \
         flow_id, match_number, nonce, qr_signature, requested_by, client_ref, callback_url) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(op.id)
    .bind(op.user_id)
    .bind(op.kind)
    .bind(op.subject)
    .bind(op.data)
    .bind(now)
    .bind(op.expires_at)
    .bind(op.flow_id)
    .bind(op.match_number)
    .bind(op.nonce)
    .bind(op.qr_signature)
    .bind(op.requested_by)
    .bind(op.client_ref)
    .bind(op.callback_url)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<Operation>> {
    let row = sqlx::query("SELECT * FROM operations WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// The login operation of a login flow, if the login was pushed.
pub async fn by_flow(conn: &mut Conn, flow_id: &str) -> Result<Option<Operation>> {
    let row = sqlx::query("SELECT * FROM operations WHERE flow_id = $1 ORDER BY created_at DESC LIMIT 1")
        .bind(flow_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The user's pending, unexpired operations, oldest first.
pub async fn pending_for_user(conn: &mut Conn, user_id: &str, now: i64) -> Result<Vec<Operation>> {
    let rows = sqlx::query(
        "SELECT * FROM operations WHERE user_id = $1 AND status = 'pending' AND expires_at > $2 ORDER BY created_at, id",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The user's operations of the given kinds, newest first.
pub async fn recent_for_user(conn: &mut Conn, user_id: &str, kind_prefix: &str, limit: i64) -> Result<Vec<Operation>> {
    let rows = sqlx::query(
        "SELECT * FROM operations WHERE user_id = $1 AND kind LIKE $2 ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(format!("{kind_prefix}%"))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Decides a pending, unexpired operation once: `false` if it was decided, canceled or
/// expired first (P8). `method` says how (push, an OTP, an SMS code).
pub async fn decide(
    conn: &mut Conn,
    id: &str,
    status: &str,
    binding_id: Option<&str>,
    method: Option<&str>,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE operations SET status = $2, decided_at = $4, decided_by = $3, method = $5 \
         WHERE id = $1 AND status = 'pending' AND expires_at > $4",
    )
    .bind(id)
    .bind(status)
    .bind(binding_id)
    .bind(now)
    .bind(method)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Counts one wrong answer against a pending operation; at `max` it fails. Returns the
/// new count, or `None` if the operation was no longer pending. One statement, so
/// concurrent wrong answers are all counted (P2).
pub async fn count_failure(conn: &mut Conn, id: &str, max: i64, now: i64) -> Result<Option<i64>> {
    let row = sqlx::query(
        "UPDATE operations SET failures = failures + 1, \
         status = CASE WHEN failures + 1 >= $2 THEN 'failed' ELSE status END, \
         decided_at = CASE WHEN failures + 1 >= $2 THEN $3 ELSE decided_at END \
         WHERE id = $1 AND status = 'pending' RETURNING failures",
    )
    .bind(id)
    .bind(max)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
}

/// Stores a new SMS OTP digest for a pending operation, unless `max_sends` were sent.
pub async fn set_sms(
    conn: &mut Conn,
    id: &str,
    digest: &[u8],
    expires_at: i64,
    max_sends: i64,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE operations SET sms_digest = $2, sms_expires_at = $3, sms_sends = sms_sends + 1 \
         WHERE id = $1 AND status = 'pending' AND expires_at > $5 AND sms_sends < $4",
    )
    .bind(id)
    .bind(digest)
    .bind(expires_at)
    .bind(max_sends)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Approves with the operation's SMS OTP, once (P8). The digest is keyed, so comparing
/// it in SQL leaks nothing usable.
pub async fn approve_with_sms(conn: &mut Conn, id: &str, digest: &[u8], now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE operations SET status = 'approved', decided_at = $3, method = 'sms', sms_digest = NULL \
         WHERE id = $1 AND status = 'pending' AND expires_at > $3 AND sms_digest = $2 AND sms_expires_at > $3",
    )
    .bind(id)
    .bind(digest)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Cancels a pending operation (the customer or the bank withdrew it).
pub async fn cancel(conn: &mut Conn, id: &str, now: i64) -> Result<bool> {
    let r =
        sqlx::query("UPDATE operations SET status = 'canceled', decided_at = $2 WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}

/// Cancels the pending operations about `subject` (e.g. a binding that went away).
pub async fn cancel_for_subject(conn: &mut Conn, subject: &str, now: i64) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE operations SET status = 'canceled', decided_at = $2 WHERE subject = $1 AND status = 'pending'",
    )
    .bind(subject)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}

/// Whether any pending operation is past its expiry (a read, so an idle sweep takes no
/// write lock).
pub async fn any_due(conn: &mut Conn, now: i64) -> Result<bool> {
    let row = sqlx::query("SELECT id FROM operations WHERE status = 'pending' AND expires_at <= $1 LIMIT 1")
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// Marks pending operations past their expiry as expired and returns them (so their
/// waiters can be woken and their webhooks queued).
pub async fn expire_due(conn: &mut Conn, now: i64, limit: i64) -> Result<Vec<Operation>> {
    let rows = sqlx::query(
        "UPDATE operations SET status = 'expired', decided_at = $1 WHERE id IN \
         (SELECT id FROM operations WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2) \
         AND status = 'pending' RETURNING *",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Decided operations an integration client asked for whose outcome is not queued yet.
pub async fn outcomes_to_notify(conn: &mut Conn, limit: i64) -> Result<Vec<Operation>> {
    let rows = sqlx::query(
        "SELECT * FROM operations WHERE notified_at IS NULL AND requested_by LIKE 'integration:%' \
         AND status <> 'pending' ORDER BY decided_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Claims an operation's outcome for its webhook, once: `false` if another node did.
pub async fn mark_notified(conn: &mut Conn, id: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE operations SET notified_at = $2 WHERE id = $1 AND notified_at IS NULL AND status <> 'pending'",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Uses up an approval made for one action (a Key6 view or unlock): `true` once, for an
/// operation of `user_id` and `kind` about `subject`, approved at or after `since`.
pub async fn consume(
    conn: &mut Conn,
    id: &str,
    user_id: &str,
    kind: &str,
    subject: &str,
    since: i64,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE operations SET consumed_at = $6 WHERE id = $1 AND user_id = $2 AND kind = $3 AND subject = $4 \
         AND status = 'approved' AND decided_at >= $5 AND consumed_at IS NULL",
    )
    .bind(id)
    .bind(user_id)
    .bind(kind)
    .bind(subject)
    .bind(since)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
