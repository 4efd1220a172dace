//! Operations waiting for approval on a bound phone. `data` holds the canonical bytes
//! the phone shows and signs (P5): approvals are checked against these, never against
//! anything a client sends.

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
    pub decided_by: Option<String>,
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
        decided_by: r.try_get("decided_by")?,
    })
}

#[derive(Clone, Debug)]
pub struct NewOperation<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub kind: &'a str,
    pub subject: Option<&'a str>,
    pub data: &'a [u8],
    pub expires_at: i64,
}

pub async fn create(conn: &mut Conn, op: &NewOperation<'_>, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO operations (id, user_id, kind, subject, data, status, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
    )
    .bind(op.id)
    .bind(op.user_id)
    .bind(op.kind)
    .bind(op.subject)
    .bind(op.data)
    .bind(now)
    .bind(op.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<Operation>> {
    let row = sqlx::query("SELECT * FROM operations WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
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

/// Decides a pending, unexpired operation once: `false` if it was decided, canceled or
/// expired first (P8).
pub async fn decide(conn: &mut Conn, id: &str, status: &str, binding_id: Option<&str>, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE operations SET status = $2, decided_at = $4, decided_by = $3 \
         WHERE id = $1 AND status = 'pending' AND expires_at > $4",
    )
    .bind(id)
    .bind(status)
    .bind(binding_id)
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
