//! Authentication flows: a login, recovery or password change whose second factor is
//! pending. The flow id is the digest of a bearer handle the client holds.

use crate::{Conn, Result, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct Flow {
    pub id: String,
    pub user_id: String,
    pub purpose: String,
    pub status: String,
    pub otp_digest: Option<Vec<u8>>,
    pub otp_expires_at: Option<i64>,
    pub otp_sends: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
}

fn from_row(r: &AnyRow) -> Result<Flow> {
    Ok(Flow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        purpose: r.try_get("purpose")?,
        status: r.try_get("status")?,
        otp_digest: r.try_get("otp_digest")?,
        otp_expires_at: r.try_get("otp_expires_at")?,
        otp_sends: r.try_get("otp_sends")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        completed_at: r.try_get("completed_at")?,
    })
}

pub async fn create(conn: &mut Conn, id: &str, user_id: &str, purpose: &str, now: i64, expires_at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO auth_flows (id, user_id, purpose, status, created_at, expires_at) VALUES ($1, $2, $3, 'pending', $4, $5)",
    )
    .bind(id)
    .bind(user_id)
    .bind(purpose)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::unique(e, "flow"))?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<Flow>> {
    let row = sqlx::query("SELECT * FROM auth_flows WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// Stores a new OTP digest if the flow is pending, unexpired and below `max_sends`.
/// Resending replaces the code but never touches the failure counter.
pub async fn set_otp(
    conn: &mut Conn,
    id: &str,
    digest: &[u8],
    otp_expires_at: i64,
    max_sends: i64,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE auth_flows SET otp_digest = $2, otp_expires_at = $3, otp_sends = otp_sends + 1 \
         WHERE id = $1 AND status = 'pending' AND expires_at > $5 AND otp_sends < $4",
    )
    .bind(id)
    .bind(digest)
    .bind(otp_expires_at)
    .bind(max_sends)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Accepts the flow's OTP once: only the first of concurrent correct submissions
/// moves the flow from pending to approved (P8).
pub async fn approve_with_otp(conn: &mut Conn, id: &str, digest: &[u8], now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE auth_flows SET status = 'approved', otp_digest = NULL, completed_at = $3 \
         WHERE id = $1 AND status = 'pending' AND otp_digest = $2 AND otp_expires_at > $3 AND expires_at > $3",
    )
    .bind(id)
    .bind(digest)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Moves the flow from `from` to `to`; `false` when it was not in `from` any more.
pub async fn transition(conn: &mut Conn, id: &str, from: &str, to: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE auth_flows SET status = $3, completed_at = COALESCE(completed_at, $4) WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
