//! Server challenges for device requests (P3, P8): random, short-lived, used once.

use crate::{Conn, Result};

pub async fn create(conn: &mut Conn, digest: &[u8], binding_id: &str, now: i64, expires_at: i64) -> Result<()> {
    sqlx::query("INSERT INTO device_challenges (digest, binding_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(digest)
        .bind(binding_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Uses a challenge issued to `binding_id`: `true` for the first use before it expires,
/// `false` for a replay, a concurrent duplicate, an expired or a foreign challenge.
pub async fn consume(conn: &mut Conn, digest: &[u8], binding_id: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE device_challenges SET used_at = $3 \
         WHERE digest = $1 AND binding_id = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(digest)
    .bind(binding_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets challenges that expired before `before` (used ones included: their
/// replays fail on expiry alike).
pub async fn purge(conn: &mut Conn, before: i64) -> Result<u64> {
    let r = sqlx::query("DELETE FROM device_challenges WHERE expires_at < $1").bind(before).execute(&mut *conn).await?;
    Ok(r.rows_affected())
}
