//! Card-portal registrations ("Iscriviti", DESIGN flow 9): the card data were typed and an
//! SMS OTP went to the card's phone. The id is the digest of a bearer handle the browser
//! holds. A registration whose data matched no card has no `card_id` and never completes.

use crate::{Conn, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct Registration {
    pub id: String,
    pub card_id: Option<String>,
    pub otp_sends: i64,
    pub failures: i64,
    pub status: String,
    pub expires_at: i64,
}

fn from_row(r: &AnyRow) -> Result<Registration> {
    Ok(Registration {
        id: r.try_get("id")?,
        card_id: r.try_get("card_id")?,
        otp_sends: r.try_get("otp_sends")?,
        failures: r.try_get("failures")?,
        status: r.try_get("status")?,
        expires_at: r.try_get("expires_at")?,
    })
}

pub async fn create(conn: &mut Conn, id: &str, card_id: Option<&str>, now: i64, expires_at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO portal_registrations (id, card_id, status, created_at, expires_at) VALUES ($1, $2, 'pending', $3, $4)",
    )
    .bind(id)
    .bind(card_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<Registration>> {
    let row = sqlx::query(
        "SELECT id, card_id, otp_sends, failures, status, expires_at FROM portal_registrations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Counts a send and stores the new code's digest (none for a registration without a
/// card) while the registration is pending, unexpired and below `max_sends`.
pub async fn set_otp(
    conn: &mut Conn,
    id: &str,
    digest: Option<&[u8]>,
    otp_expires_at: i64,
    max_sends: i64,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE portal_registrations SET otp_digest = $2, otp_expires_at = $3, otp_sends = otp_sends + 1 \
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

/// Accepts the code once: only the first of concurrent correct submissions moves the
/// registration from pending to done (P8). The digest is keyed, so matching it in SQL
/// leaks nothing.
pub async fn complete_with_otp(conn: &mut Conn, id: &str, digest: &[u8], now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE portal_registrations SET status = 'done', otp_digest = NULL \
         WHERE id = $1 AND status = 'pending' AND otp_digest = $2 AND otp_expires_at > $3 AND expires_at > $3",
    )
    .bind(id)
    .bind(digest)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Counts a wrong code; the registration fails at `limit`. Returns the failures so far.
pub async fn fail_attempt(conn: &mut Conn, id: &str, limit: i64) -> Result<i64> {
    let row = sqlx::query(
        "UPDATE portal_registrations SET failures = failures + 1, \
         status = CASE WHEN failures + 1 >= $2 THEN 'failed' ELSE status END \
         WHERE id = $1 AND status = 'pending' RETURNING failures",
    )
    .bind(id)
    .bind(limit)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get::<i64, _>("failures")).transpose()?.unwrap_or(limit))
}

/// Ends a pending registration (its card's data are locked meanwhile).
pub async fn fail(conn: &mut Conn, id: &str) -> Result<bool> {
    let r = sqlx::query("UPDATE portal_registrations SET status = 'failed' WHERE id = $1 AND status = 'pending'")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}
