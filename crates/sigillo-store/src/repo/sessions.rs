//! Sessions: looked up by the digest of their bearer token, ended after 5 minutes
//! without activity on the server side (RTS art. 4(3)(d), P10).

use crate::{Conn, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub scope: String,
    pub channel: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

fn from_row(r: &AnyRow) -> Result<Session> {
    Ok(Session {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        scope: r.try_get("scope")?,
        channel: r.try_get("channel")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
    })
}

pub async fn create(
    conn: &mut Conn,
    token_digest: &[u8],
    user_id: &str,
    scope: &str,
    channel: &str,
    now: i64,
) -> Result<String> {
    let id = crate::new_id();
    sqlx::query(
        "INSERT INTO sessions (id, token_digest, user_id, scope, channel, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(token_digest)
    .bind(user_id)
    .bind(scope)
    .bind(channel)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// How finely a session's last activity is recorded.
pub const TOUCH_GRANULARITY_MS: i64 = 15_000;

/// What a token's use found.
#[derive(Debug)]
pub enum Touched {
    /// A live session; its activity was recorded.
    Live(Session),
    /// The session had been idle too long and was ended by this very call.
    Expired { id: String, user_id: String },
    /// No such session, or one that had already ended.
    Dead,
}

/// Finds a live session and records the activity, in one statement: a session idle for
/// `idle_ms` or more is dead whatever the cookie says, and is marked ended.
///
/// Activity is recorded to [`TOUCH_GRANULARITY_MS`]: a session written within that time
/// is only read, so a burst of requests costs one commit, not one each. The idle limit
/// therefore runs from at most that much before the last request: never longer than
/// configured (RTS art. 4(3)(d)), at most 15 s shorter.
pub async fn touch(conn: &mut Conn, token_digest: &[u8], now: i64, idle_ms: i64) -> Result<Touched> {
    let recent = sqlx::query(
        "SELECT id, user_id, scope, channel, created_at, last_seen_at FROM sessions \
         WHERE token_digest = $1 AND ended_at IS NULL AND last_seen_at > $2 AND last_seen_at <= $3",
    )
    .bind(token_digest)
    .bind(now - TOUCH_GRANULARITY_MS.min(idle_ms))
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = recent {
        return from_row(&row).map(Touched::Live);
    }
    let row = sqlx::query(
        "UPDATE sessions SET last_seen_at = $2 \
         WHERE token_digest = $1 AND ended_at IS NULL AND last_seen_at > $3 \
         RETURNING id, user_id, scope, channel, created_at, last_seen_at",
    )
    .bind(token_digest)
    .bind(now)
    .bind(now - idle_ms)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = row {
        return from_row(&row).map(Touched::Live);
    }
    let ended = sqlx::query(
        "UPDATE sessions SET ended_at = $2, end_reason = 'idle' WHERE token_digest = $1 AND ended_at IS NULL \
         RETURNING id, user_id",
    )
    .bind(token_digest)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    match ended {
        Some(r) => Ok(Touched::Expired { id: r.try_get("id")?, user_id: r.try_get("user_id")? }),
        None => Ok(Touched::Dead),
    }
}

pub async fn end(conn: &mut Conn, id: &str, reason: &str, now: i64) -> Result<bool> {
    let r = sqlx::query("UPDATE sessions SET ended_at = $3, end_reason = $2 WHERE id = $1 AND ended_at IS NULL")
        .bind(id)
        .bind(reason)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends every live session of a user (password changed, user locked), returning how many.
pub async fn end_all_for_user(conn: &mut Conn, user_id: &str, reason: &str, now: i64) -> Result<u64> {
    let r = sqlx::query("UPDATE sessions SET ended_at = $3, end_reason = $2 WHERE user_id = $1 AND ended_at IS NULL")
        .bind(user_id)
        .bind(reason)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}

pub async fn set_scope(conn: &mut Conn, id: &str, scope: &str) -> Result<()> {
    sqlx::query("UPDATE sessions SET scope = $2 WHERE id = $1").bind(id).bind(scope).execute(&mut *conn).await?;
    Ok(())
}

/// Ends every live session of a user except `keep` (the one that changed the password).
pub async fn end_others(conn: &mut Conn, user_id: &str, keep: &str, reason: &str, now: i64) -> Result<u64> {
    let r = sqlx::query(
        "UPDATE sessions SET ended_at = $4, end_reason = $3 WHERE user_id = $1 AND id <> $2 AND ended_at IS NULL",
    )
    .bind(user_id)
    .bind(keep)
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected())
}
