//! The audit trail (P11): append-only, hash-chained. Appending first bumps the head row,
//! which serialises appenders on both databases, then links the new record to it; a
//! trigger moves the head's hash along with the insert.

use crate::{Conn, Result, StoreError};
use sigillo_core::audit::{Record, chain_hash};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Appends a record and returns its sequence number. Call it inside the transaction
/// of the event it records, so the two commit or fail together, and call it *last*:
/// the head row stays locked until the commit, so a transaction that locked other rows
/// after appending could deadlock with one that locks them before.
pub async fn append(
    conn: &mut Conn,
    at_ms: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<i64> {
    // The write comes first: it takes the row lock (PostgreSQL) or needs the write lock
    // the transaction already holds (SQLite), so concurrent appenders queue here.
    let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev: Vec<u8> = head.try_get("hash")?;
    let hash = chain_hash(&prev, seq, at_ms, actor, action, subject, detail).to_vec();
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(at_ms)
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(detail)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    // The trigger `audit_log_moves_head` (migration 0002) sets the head's hash.
    Ok(seq)
}

fn from_row(r: &AnyRow) -> Result<Record> {
    Ok(Record {
        seq: r.try_get("seq")?,
        at_ms: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        subject: r.try_get("subject")?,
        detail: r.try_get("detail")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Records after `after_seq`, in order, at most `limit`.
pub async fn page(conn: &mut Conn, after_seq: i64, limit: i64) -> Result<Vec<Record>> {
    let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The last `n` records, oldest first.
pub async fn tail(conn: &mut Conn, n: i64) -> Result<Vec<Record>> {
    let rows = sqlx::query("SELECT * FROM audit_log ORDER BY seq DESC LIMIT $1").bind(n).fetch_all(&mut *conn).await?;
    let mut out: Vec<Record> = rows.iter().map(from_row).collect::<Result<_>>()?;
    out.reverse();
    Ok(out)
}

/// Records about one subject, newest last.
pub async fn for_subject(conn: &mut Conn, subject: &str, limit: i64) -> Result<Vec<Record>> {
    let rows = sqlx::query("SELECT * FROM audit_log WHERE subject = $1 ORDER BY seq DESC LIMIT $2")
        .bind(subject)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let mut out: Vec<Record> = rows.iter().map(from_row).collect::<Result<_>>()?;
    out.reverse();
    Ok(out)
}

/// The head: last sequence number and its hash.
pub async fn head(conn: &mut Conn) -> Result<(i64, Vec<u8>)> {
    let r = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt("audit_head row is missing".into()))?;
    Ok((r.try_get("seq")?, r.try_get("hash")?))
}
