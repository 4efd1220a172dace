//! 3-D Secure transactions: what the ACS answered to an AReq, the browser challenge that
//! may follow it, and the delivery of its RReq to the Directory Server.
//!
//! Every state change is a conditional `UPDATE` on the current state, so a second CReq,
//! a late answer after a time-out, or two nodes finishing the same challenge change
//! nothing (P8).

use crate::{Conn, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct Transaction {
    pub acs_trans_id: String,
    pub server_trans_id: String,
    pub ds_trans_id: String,
    pub card_id: String,
    pub message_version: String,
    pub message_category: String,
    pub amount_minor: Option<i64>,
    pub currency: Option<i64>,
    pub exponent: Option<i64>,
    pub merchant_name: String,
    pub purchase_date: Option<String>,
    pub ds_url: String,
    pub notification_url: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub exemption: Option<String>,
    pub challenge: Option<String>,
    pub window_size: Option<String>,
    pub session_data: Option<String>,
    pub page_token: Option<Vec<u8>>,
    pub method: Option<String>,
    pub operation_id: Option<String>,
    pub otp_digest: Option<Vec<u8>>,
    pub otp_expires_at: Option<i64>,
    pub otp_sends: i64,
    pub interactions: i64,
    pub challenge_cancel: Option<String>,
    pub auth_value: Option<String>,
    pub eci: Option<String>,
    pub rreq_state: Option<String>,
    pub rreq_attempts: i64,
    pub rreq_next_at: Option<i64>,
    pub rreq_error: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Debug)]
pub struct NewTransaction<'a> {
    pub acs_trans_id: &'a str,
    pub server_trans_id: &'a str,
    pub ds_trans_id: &'a str,
    pub card_id: &'a str,
    pub message_version: &'a str,
    pub message_category: &'a str,
    pub amount_minor: Option<i64>,
    pub currency: Option<i64>,
    pub exponent: Option<i64>,
    pub merchant_name: &'a str,
    pub purchase_date: Option<&'a str>,
    pub ds_url: &'a str,
    pub notification_url: Option<&'a str>,
    pub status: &'a str,
    pub status_reason: Option<&'a str>,
    pub exemption: Option<&'a str>,
    /// `Some("awaiting")` when the ARes asks for a challenge.
    pub challenge: Option<&'a str>,
    pub auth_value: Option<&'a str>,
    pub eci: Option<&'a str>,
    pub expires_at: i64,
}

fn from_row(r: &AnyRow) -> Result<Transaction> {
    Ok(Transaction {
        acs_trans_id: r.try_get("acs_trans_id")?,
        server_trans_id: r.try_get("server_trans_id")?,
        ds_trans_id: r.try_get("ds_trans_id")?,
        card_id: r.try_get("card_id")?,
        message_version: r.try_get("message_version")?,
        message_category: r.try_get("message_category")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        exponent: r.try_get("exponent")?,
        merchant_name: r.try_get("merchant_name")?,
        purchase_date: r.try_get("purchase_date")?,
        ds_url: r.try_get("ds_url")?,
        notification_url: r.try_get("notification_url")?,
        status: r.try_get("status")?,
        status_reason: r.try_get("status_reason")?,
        exemption: r.try_get("exemption")?,
        challenge: r.try_get("challenge")?,
        window_size: r.try_get("window_size")?,
        session_data: r.try_get("session_data")?,
        page_token: r.try_get("page_token")?,
        method: r.try_get("method")?,
        operation_id: r.try_get("operation_id")?,
        otp_digest: r.try_get("otp_digest")?,
        otp_expires_at: r.try_get("otp_expires_at")?,
        otp_sends: r.try_get("otp_sends")?,
        interactions: r.try_get("interactions")?,
        challenge_cancel: r.try_get("challenge_cancel")?,
        auth_value: r.try_get("auth_value")?,
        eci: r.try_get("eci")?,
        rreq_state: r.try_get("rreq_state")?,
        rreq_attempts: r.try_get("rreq_attempts")?,
        rreq_next_at: r.try_get("rreq_next_at")?,
        rreq_error: r.try_get("rreq_error")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

const INSERT_COLUMNS: &str = "acs_trans_id, server_trans_id, ds_trans_id, card_id, message_version, \
     message_category, amount_minor, currency, exponent, merchant_name, purchase_date, ds_url, notification_url, \
     status, status_reason, exemption, challenge, auth_value, eci, created_at, expires_at, finished_at";
const INSERT_ARITY: usize = 22;
/// Rows per INSERT statement: each statement is a round trip to the database (on SQLite a
/// hand-off to its worker thread), so a batch goes in few statements. 32 × 22 parameters
/// stays far below both databases' limits.
pub const ROWS_PER_INSERT: usize = 32;

/// Inserts a transaction; `false` (and nothing written) when its `dsTransID` is already
/// on file.
pub async fn insert(conn: &mut Conn, t: &NewTransaction<'_>, now: i64) -> Result<bool> {
    Ok(!insert_many(conn, std::slice::from_ref(t), now).await?.is_empty())
}

/// Inserts up to [`ROWS_PER_INSERT`] transactions in one statement and returns the
/// `acsTransID`s written: a row whose `dsTransID` is already on file is skipped without an
/// error, so a batch in one database transaction goes on (on PostgreSQL an error would
/// abort the whole transaction). A transaction without a challenge is finished at once.
pub async fn insert_many(conn: &mut Conn, rows: &[NewTransaction<'_>], now: i64) -> Result<Vec<String>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let groups: Vec<String> = (0..rows.len())
        .map(|r| {
            let params: Vec<String> = (1..=INSERT_ARITY).map(|c| format!("${}", r * INSERT_ARITY + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO threeds_transactions ({INSERT_COLUMNS}) VALUES {} ON CONFLICT (ds_trans_id) DO NOTHING \
         RETURNING acs_trans_id",
        groups.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for t in rows {
        query = query
            .bind(t.acs_trans_id)
            .bind(t.server_trans_id)
            .bind(t.ds_trans_id)
            .bind(t.card_id)
            .bind(t.message_version)
            .bind(t.message_category)
            .bind(t.amount_minor)
            .bind(t.currency)
            .bind(t.exponent)
            .bind(t.merchant_name)
            .bind(t.purchase_date)
            .bind(t.ds_url)
            .bind(t.notification_url)
            .bind(t.status)
            .bind(t.status_reason)
            .bind(t.exemption)
            .bind(t.challenge)
            .bind(t.auth_value)
            .bind(t.eci)
            .bind(now)
            .bind(t.expires_at)
            .bind(if t.challenge.is_none() { Some(now) } else { None });
    }
    let written = query.fetch_all(&mut *conn).await?;
    written.iter().map(|r| Ok(r.try_get::<String, _>("acs_trans_id")?)).collect()
}

/// Takes back a transaction inserted in the same database transaction (a batch member
/// whose low-value count lost a race).
pub async fn delete_fresh(conn: &mut Conn, acs_trans_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM threeds_transactions WHERE acs_trans_id = $1")
        .bind(acs_trans_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, acs_trans_id: &str) -> Result<Option<Transaction>> {
    let row = sqlx::query("SELECT * FROM threeds_transactions WHERE acs_trans_id = $1")
        .bind(acs_trans_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The transaction a challenge operation belongs to (approve in the app).
pub async fn by_operation(conn: &mut Conn, operation_id: &str) -> Result<Option<Transaction>> {
    let row = sqlx::query("SELECT * FROM threeds_transactions WHERE operation_id = $1")
        .bind(operation_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The first CReq: `awaiting` → `open`, once. `false` for a second CReq, one after the
/// time-out, or one for a transaction without a challenge.
pub async fn open_challenge(
    conn: &mut Conn,
    acs_trans_id: &str,
    window_size: &str,
    session_data: Option<&str>,
    page_token: &[u8],
    creq_deadline: i64,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE threeds_transactions SET challenge = 'open', window_size = $2, session_data = $3, page_token = $4 \
         WHERE acs_trans_id = $1 AND challenge = 'awaiting' AND created_at > $5 AND expires_at > $6",
    )
    .bind(acs_trans_id)
    .bind(window_size)
    .bind(session_data)
    .bind(page_token)
    .bind(creq_deadline)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the challenge method the holder chose (and the app operation, for `app`).
pub async fn set_method(conn: &mut Conn, acs_trans_id: &str, method: &str, operation_id: Option<&str>) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE threeds_transactions SET method = $2, operation_id = COALESCE($3, operation_id) \
         WHERE acs_trans_id = $1 AND challenge = 'open'",
    )
    .bind(acs_trans_id)
    .bind(method)
    .bind(operation_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a new SMS OTP while fewer than `max_sends` were sent for this challenge.
pub async fn set_otp(
    conn: &mut Conn,
    acs_trans_id: &str,
    digest: &[u8],
    expires_at: i64,
    max_sends: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE threeds_transactions SET otp_digest = $2, otp_expires_at = $3, otp_sends = otp_sends + 1 \
         WHERE acs_trans_id = $1 AND challenge = 'open' AND otp_sends < $4",
    )
    .bind(acs_trans_id)
    .bind(digest)
    .bind(expires_at)
    .bind(max_sends)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts one answer the holder typed (the RReq's `interactionCounter`).
pub async fn count_interaction(conn: &mut Conn, acs_trans_id: &str) -> Result<()> {
    sqlx::query("UPDATE threeds_transactions SET interactions = interactions + 1 WHERE acs_trans_id = $1")
        .bind(acs_trans_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How a challenge ended.
#[derive(Debug)]
pub struct Outcome<'a> {
    pub status: &'a str,
    pub status_reason: Option<&'a str>,
    pub challenge_cancel: Option<&'a str>,
    pub auth_value: Option<&'a str>,
    pub eci: Option<&'a str>,
}

/// Ends a running challenge (`awaiting` or `open` → `done`) and makes its RReq due now.
/// `false` when it had already ended: exactly one outcome per transaction (P8).
pub async fn finish(conn: &mut Conn, acs_trans_id: &str, outcome: &Outcome<'_>, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE threeds_transactions SET challenge = 'done', status = $2, status_reason = $3, \
         challenge_cancel = $4, auth_value = $5, eci = $6, finished_at = $7, otp_digest = NULL, \
         rreq_state = 'pending', rreq_next_at = $7 \
         WHERE acs_trans_id = $1 AND challenge IN ('awaiting', 'open')",
    )
    .bind(acs_trans_id)
    .bind(outcome.status)
    .bind(outcome.status_reason)
    .bind(outcome.challenge_cancel)
    .bind(outcome.auth_value)
    .bind(outcome.eci)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Challenges that ran out of time: no CReq since `creq_deadline`, or past their expiry.
pub async fn timed_out(conn: &mut Conn, creq_deadline: i64, now: i64, limit: i64) -> Result<Vec<Transaction>> {
    let rows = sqlx::query(
        "SELECT * FROM threeds_transactions WHERE challenge IN ('awaiting', 'open') \
         AND (expires_at <= $2 OR (challenge = 'awaiting' AND created_at <= $1)) LIMIT $3",
    )
    .bind(creq_deadline)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// RReqs due for (another) delivery attempt.
pub async fn rreqs_due(conn: &mut Conn, now: i64, limit: i64) -> Result<Vec<Transaction>> {
    let rows = sqlx::query(
        "SELECT * FROM threeds_transactions WHERE rreq_state = 'pending' AND rreq_next_at <= $1 \
         ORDER BY rreq_next_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Claims one delivery attempt: the caller that moves `rreq_attempts` from `seen` sends;
/// another node (or the sweep) seeing the same row does not. The claim holds until
/// `lease_until`, after which an unfinished attempt is retried.
pub async fn claim_rreq(conn: &mut Conn, acs_trans_id: &str, seen: i64, lease_until: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE threeds_transactions SET rreq_attempts = rreq_attempts + 1, rreq_next_at = $3 \
         WHERE acs_trans_id = $1 AND rreq_state = 'pending' AND rreq_attempts = $2",
    )
    .bind(acs_trans_id)
    .bind(seen)
    .bind(lease_until)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn rreq_delivered(conn: &mut Conn, acs_trans_id: &str) -> Result<()> {
    sqlx::query(
        "UPDATE threeds_transactions SET rreq_state = 'delivered', rreq_next_at = NULL, rreq_error = NULL \
         WHERE acs_trans_id = $1",
    )
    .bind(acs_trans_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A failed attempt: retried at `next_at`, or given up when `next_at` is `None`.
pub async fn rreq_failed(conn: &mut Conn, acs_trans_id: &str, error: &str, next_at: Option<i64>) -> Result<()> {
    sqlx::query(
        "UPDATE threeds_transactions SET rreq_error = $2, rreq_next_at = $3, \
         rreq_state = CASE WHEN $3 IS NULL THEN 'failed' ELSE 'pending' END WHERE acs_trans_id = $1",
    )
    .bind(acs_trans_id)
    .bind(error)
    .bind(next_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
