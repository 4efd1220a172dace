//! Attempt counters (RTS art. 4(3)(b), DESIGN P2): the atomic half of
//! `sigillo_core::attempts`.

use crate::{Conn, Result};
use sigillo_core::attempts::{Lock, Secret};
use sqlx::Row;

/// A reserved attempt: the counter already includes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub failures: u32,
    pub lock_count: u32,
}

/// A counter as it stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub failures: u32,
    pub lock_count: u32,
    pub locked_until: Option<i64>,
    pub permanent: bool,
}

impl Counter {
    pub fn is_locked(&self, now: i64) -> bool {
        self.permanent || self.locked_until.is_some_and(|t| t > now)
    }
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Reserves one attempt: increments the counter only while it is below `limit` and the
/// secret is not locked. `None` means no attempt is allowed now. This single conditional
/// update is what keeps 50 parallel guesses at 5 verifications.
pub async fn reserve(
    conn: &mut Conn,
    subject: &str,
    secret: Secret,
    limit: u32,
    now: i64,
) -> Result<Option<Reservation>> {
    reserve_unless(conn, subject, secret, None, limit, now).await
}

/// [`reserve`], refused too while the `guard` secret of the same subject is locked (a
/// login needs its SMS code as much as its password). One statement on the hot path, so
/// it needs no transaction of its own.
pub async fn reserve_unless(
    conn: &mut Conn,
    subject: &str,
    secret: Secret,
    guard: Option<Secret>,
    limit: u32,
    now: i64,
) -> Result<Option<Reservation>> {
    let guard = guard.map_or("", Secret::as_str);
    if let Some(r) = try_reserve(conn, subject, secret, guard, limit, now).await? {
        return Ok(Some(r));
    }
    // No row yet (a first attempt), or a locked secret. Create the row if missing and try
    // once more: a concurrent first attempt may have created it meanwhile.
    sqlx::query(
        "INSERT INTO attempt_counters (subject, secret, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (subject, secret) DO NOTHING",
    )
    .bind(subject)
    .bind(secret.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    try_reserve(conn, subject, secret, guard, limit, now).await
}

async fn try_reserve(
    conn: &mut Conn,
    subject: &str,
    secret: Secret,
    guard: &str,
    limit: u32,
    now: i64,
) -> Result<Option<Reservation>> {
    let row = sqlx::query(
        "UPDATE attempt_counters SET failures = failures + 1, updated_at = $3 \
         WHERE subject = $1 AND secret = $2 AND permanent = 0 AND failures < $4 \
           AND (locked_until IS NULL OR locked_until <= $3) \
           AND NOT EXISTS (SELECT 1 FROM attempt_counters g WHERE g.subject = $1 AND g.secret = $5 \
                             AND (g.permanent = 1 OR g.locked_until > $3)) \
         RETURNING failures, lock_count",
    )
    .bind(subject)
    .bind(secret.as_str())
    .bind(now)
    .bind(i64::from(limit))
    .bind(guard)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Reservation { failures: to_u32(r.try_get("failures")?), lock_count: to_u32(r.try_get("lock_count")?) })
    })
    .transpose()
}

/// The attempt succeeded: the count of consecutive failures starts again.
pub async fn succeed(conn: &mut Conn, subject: &str, secret: Secret, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE attempt_counters SET failures = 0, lock_count = 0, locked_until = NULL, updated_at = $3 \
         WHERE subject = $1 AND secret = $2 AND permanent = 0",
    )
    .bind(subject)
    .bind(secret.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives a reserved attempt back: it was right, but is only half of a proof whose other
/// half is still to come (the card data of a portal registration, before its SMS code).
pub async fn release(conn: &mut Conn, subject: &str, secret: Secret, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE attempt_counters SET failures = failures - 1, updated_at = $3 \
         WHERE subject = $1 AND secret = $2 AND failures > 0 AND permanent = 0",
    )
    .bind(subject)
    .bind(secret.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies `lock` if the counter stands at `limit`. Only the attempt that reserved the
/// last slot gets `true`, so a lock (and its alert) happens once.
pub async fn lock(conn: &mut Conn, subject: &str, secret: Secret, limit: u32, lock: Lock, now: i64) -> Result<bool> {
    let (until, permanent) = match lock {
        Lock::Temporary { until, .. } => (Some(until.0), 0i64),
        Lock::Permanent => (None, 1i64),
    };
    let r = sqlx::query(
        "UPDATE attempt_counters SET failures = 0, lock_count = lock_count + 1, locked_until = $4, permanent = $5, updated_at = $6 \
         WHERE subject = $1 AND secret = $2 AND failures = $3 AND permanent = 0",
    )
    .bind(subject)
    .bind(secret.as_str())
    .bind(i64::from(limit))
    .bind(until)
    .bind(permanent)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn get(conn: &mut Conn, subject: &str, secret: Secret) -> Result<Counter> {
    let row = sqlx::query(
        "SELECT failures, lock_count, locked_until, permanent FROM attempt_counters WHERE subject = $1 AND secret = $2",
    )
    .bind(subject)
    .bind(secret.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Counter {
            failures: to_u32(r.try_get("failures")?),
            lock_count: to_u32(r.try_get("lock_count")?),
            locked_until: r.try_get("locked_until")?,
            permanent: r.try_get::<i64, _>("permanent")? != 0,
        })
    })
    .transpose()
    .map(Option::unwrap_or_default)
}

/// Clears one counter (a new secret replaces the one it counted).
pub async fn reset(conn: &mut Conn, subject: &str, secret: Secret) -> Result<()> {
    sqlx::query("DELETE FROM attempt_counters WHERE subject = $1 AND secret = $2")
        .bind(subject)
        .bind(secret.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Clears every counter of a subject (an unlock by the customer's security code or by an operator).
pub async fn reset_all(conn: &mut Conn, subject: &str) -> Result<()> {
    sqlx::query("DELETE FROM attempt_counters WHERE subject = $1").bind(subject).execute(&mut *conn).await?;
    Ok(())
}
