//! Activation codes (PROTOCOL.md §3): single use, 5 wrong tries, 10 minutes.

use crate::{Conn, Result, StoreError};
use sqlx::Row;

#[derive(Clone, Debug)]
pub struct Activation {
    pub id: String,
    pub user_id: String,
    pub secret_digest: Vec<u8>,
    pub status: String,
    pub failures: i64,
    pub expires_at: i64,
}

pub async fn create(
    conn: &mut Conn,
    id: &str,
    user_id: &str,
    secret_digest: &[u8],
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO activations (id, user_id, secret_digest, status, created_at, expires_at) \
         VALUES ($1, $2, $3, 'open', $4, $5)",
    )
    .bind(id)
    .bind(user_id)
    .bind(secret_digest)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::unique(e, "activation code"))?;
    Ok(())
}

/// Ends the user's other open codes: only the newest one works.
pub async fn cancel_open(conn: &mut Conn, user_id: &str) -> Result<u64> {
    let r = sqlx::query("UPDATE activations SET status = 'canceled' WHERE user_id = $1 AND status = 'open'")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

/// Counts one try at an open, unexpired code *before* its secret is checked, so that
/// parallel guesses cannot exceed `limit`. `None`: no try is allowed (unknown, used,
/// expired or out of tries). The code dies when the limit is reached and the try fails.
pub async fn reserve_try(conn: &mut Conn, id: &str, limit: i64, now: i64) -> Result<Option<Activation>> {
    let row = sqlx::query(
        "UPDATE activations SET failures = failures + 1 \
         WHERE id = $1 AND status = 'open' AND expires_at > $2 AND failures < $3 \
         RETURNING id, user_id, secret_digest, status, failures, expires_at",
    )
    .bind(id)
    .bind(now)
    .bind(limit)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Activation {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            secret_digest: r.try_get("secret_digest")?,
            status: r.try_get("status")?,
            failures: r.try_get("failures")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Marks the code failed once its last try failed.
pub async fn fail(conn: &mut Conn, id: &str) -> Result<()> {
    sqlx::query("UPDATE activations SET status = 'failed' WHERE id = $1 AND status = 'open'")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Uses the code for `binding_id`, once: `false` if another request used it first.
pub async fn consume(conn: &mut Conn, id: &str, binding_id: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE activations SET status = 'used', binding_id = $2 WHERE id = $1 AND status = 'open' AND expires_at > $3",
    )
    .bind(id)
    .bind(binding_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
