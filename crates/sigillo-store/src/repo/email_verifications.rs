//! One-time email validation links.

use crate::{Conn, Result};
use sqlx::Row;

pub async fn create(
    conn: &mut Conn,
    token_digest: &[u8],
    user_id: &str,
    email: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO email_verifications (token_digest, user_id, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_digest)
    .bind(user_id)
    .bind(email)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Uses a link once; returns the user id and address it validates.
pub async fn consume(conn: &mut Conn, token_digest: &[u8], now: i64) -> Result<Option<(String, String)>> {
    let row = sqlx::query(
        "UPDATE email_verifications SET used_at = $2 WHERE token_digest = $1 AND used_at IS NULL AND expires_at > $2 \
         RETURNING user_id, email",
    )
    .bind(token_digest)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((r.try_get("user_id")?, r.try_get("email")?))).transpose()
}
