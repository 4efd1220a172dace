//! Legacy credentials of acquired banks' customers (DESIGN flow 10, issue 6): imported in
//! batches by `sigillo admin legacy import`, consumed once by an activation.

use crate::{Conn, Result};
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// Rows per multi-row statement. Small on purpose: sqlx binds each SQLite parameter by
/// asking its name, which SQLite finds by a linear scan, so a statement's binding cost
/// grows with the square of its parameters (500 rows of 8 took 2.5× longer per row than
/// 50; bench/legacy).
pub const ROWS_PER_INSERT: usize = 50;

/// A row as the import writes it (hash already sealed, phone and email normalised).
#[derive(Clone, Debug)]
pub struct NewLegacy<'a> {
    pub legacy_code: &'a str,
    pub hash_sealed: &'a [u8],
    pub hash_scheme: &'a str,
    pub phone: &'a str,
    pub email: Option<&'a str>,
    pub name: &'a str,
    pub token: &'a str,
    pub row_digest: &'a [u8],
}

/// A stored legacy credential.
#[derive(Clone, Debug)]
pub struct LegacyCredential {
    pub bank_id: String,
    pub legacy_code: String,
    pub hash_sealed: Vec<u8>,
    pub hash_scheme: String,
    pub phone: String,
    pub email: Option<String>,
    pub name: String,
    pub token: String,
    pub status: String,
    pub user_id: Option<String>,
    pub imported_at: i64,
    pub updated_at: i64,
    pub activated_at: Option<i64>,
}

fn from_row(r: &AnyRow) -> Result<LegacyCredential> {
    Ok(LegacyCredential {
        bank_id: r.try_get("bank_id")?,
        legacy_code: r.try_get("legacy_code")?,
        hash_sealed: r.try_get("hash_sealed")?,
        hash_scheme: r.try_get("hash_scheme")?,
        phone: r.try_get("phone")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        token: r.try_get("token")?,
        status: r.try_get("status")?,
        user_id: r.try_get("user_id")?,
        imported_at: r.try_get("imported_at")?,
        updated_at: r.try_get("updated_at")?,
        activated_at: r.try_get("activated_at")?,
    })
}

/// What a re-import needs to know of the codes already on file: their digest and status.
pub async fn existing(conn: &mut Conn, bank_id: &str, codes: &[&str]) -> Result<HashMap<String, (Vec<u8>, String)>> {
    if codes.is_empty() {
        return Ok(HashMap::new());
    }
    let params: Vec<String> = (0..codes.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT legacy_code, row_digest, status FROM legacy_credentials WHERE bank_id = $1 AND legacy_code IN ({})",
        params.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(bank_id);
    for code in codes {
        query = query.bind(*code);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(|r| Ok((r.try_get("legacy_code")?, (r.try_get("row_digest")?, r.try_get("status")?)))).collect()
}

/// Inserts new credentials (none of their codes may be on file for the bank).
pub async fn insert_many(conn: &mut Conn, bank_id: &str, rows: &[NewLegacy<'_>], now: i64) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        const ARITY: usize = 8;
        let groups: Vec<String> = (0..chunk.len())
            .map(|r| {
                let p: Vec<String> = (1..=ARITY).map(|c| format!("${}", 2 + r * ARITY + c)).collect();
                format!("($1, {}, 'pending', $2, $2)", p.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO legacy_credentials (bank_id, legacy_code, hash_sealed, hash_scheme, phone, email, name, \
             token, row_digest, status, imported_at, updated_at) VALUES {}",
            groups.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(bank_id).bind(now);
        for r in chunk {
            query = query
                .bind(r.legacy_code)
                .bind(r.hash_sealed)
                .bind(r.hash_scheme)
                .bind(r.phone)
                .bind(r.email)
                .bind(r.name)
                .bind(r.token)
                .bind(r.row_digest);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Replaces a pending credential's data (a re-import that changed it); `false` if it was
/// activated meanwhile.
pub async fn update_pending(conn: &mut Conn, bank_id: &str, row: &NewLegacy<'_>, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE legacy_credentials SET hash_sealed = $3, hash_scheme = $4, phone = $5, email = $6, name = $7, \
         token = $8, row_digest = $9, updated_at = $10 WHERE bank_id = $1 AND legacy_code = $2 AND status = 'pending'",
    )
    .bind(bank_id)
    .bind(row.legacy_code)
    .bind(row.hash_sealed)
    .bind(row.hash_scheme)
    .bind(row.phone)
    .bind(row.email)
    .bind(row.name)
    .bind(row.token)
    .bind(row.row_digest)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut Conn, bank_id: &str, legacy_code: &str) -> Result<Option<LegacyCredential>> {
    let row = sqlx::query("SELECT * FROM legacy_credentials WHERE bank_id = $1 AND legacy_code = $2")
        .bind(bank_id)
        .bind(legacy_code)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// How many of a bank's credentials are pending and activated.
pub async fn counts(conn: &mut Conn, bank_id: &str) -> Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending, \
                COALESCE(SUM(CASE WHEN status = 'activated' THEN 1 ELSE 0 END), 0) AS activated \
         FROM legacy_credentials WHERE bank_id = $1",
    )
    .bind(bank_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("pending")?, row.try_get("activated")?))
}

/// Refreshes PostgreSQL's statistics of the table. An import into an empty table would
/// otherwise keep the plan PostgreSQL cached for its look-ups while the table was empty (a
/// sequential scan) until autovacuum analyses it, and every batch would scan what the
/// batches before it wrote (bench/legacy: 300 rows/s at 170,000 rows). A new analysis
/// makes the cached plans be made again.
pub async fn analyze(conn: &mut Conn) -> Result<()> {
    sqlx::query("ANALYZE legacy_credentials").execute(&mut *conn).await?;
    Ok(())
}

/// An activation in progress.
#[derive(Clone, Debug)]
pub struct Activation {
    pub id: String,
    pub bank_id: String,
    pub legacy_code: String,
    pub step: String,
    pub otp_sends: i64,
    pub otp_failures: i64,
    pub email: Option<String>,
    pub email_verified: bool,
    pub user_id: Option<String>,
    pub expires_at: i64,
}

fn activation_from_row(r: &AnyRow) -> Result<Activation> {
    Ok(Activation {
        id: r.try_get("id")?,
        bank_id: r.try_get("bank_id")?,
        legacy_code: r.try_get("legacy_code")?,
        step: r.try_get("step")?,
        otp_sends: r.try_get("otp_sends")?,
        otp_failures: r.try_get("otp_failures")?,
        email: r.try_get("email")?,
        email_verified: r.try_get::<i64, _>("email_verified")? != 0,
        user_id: r.try_get("user_id")?,
        expires_at: r.try_get("expires_at")?,
    })
}

const ACTIVATION_COLUMNS: &str =
    "id, bank_id, legacy_code, step, otp_sends, otp_failures, email, email_verified, user_id, expires_at";

pub async fn create_activation(
    conn: &mut Conn,
    id: &str,
    bank_id: &str,
    legacy_code: &str,
    email: Option<&str>,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO legacy_activations (id, bank_id, legacy_code, step, email, created_at, expires_at) \
         VALUES ($1, $2, $3, 'otp', $4, $5, $6)",
    )
    .bind(id)
    .bind(bank_id)
    .bind(legacy_code)
    .bind(email)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn activation(conn: &mut Conn, id: &str) -> Result<Option<Activation>> {
    let row = sqlx::query(&format!("SELECT {ACTIVATION_COLUMNS} FROM legacy_activations WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(activation_from_row).transpose()
}

pub async fn activation_by_email_token(conn: &mut Conn, token_digest: &[u8]) -> Result<Option<Activation>> {
    let row = sqlx::query(&format!("SELECT {ACTIVATION_COLUMNS} FROM legacy_activations WHERE email_token = $1"))
        .bind(token_digest)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(activation_from_row).transpose()
}

/// A new SMS code for an activation at its code step, below `max_sends`.
pub async fn set_activation_otp(
    conn: &mut Conn,
    id: &str,
    digest: &[u8],
    otp_expires_at: i64,
    max_sends: i64,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE legacy_activations SET otp_digest = $2, otp_expires_at = $3, otp_sends = otp_sends + 1 \
         WHERE id = $1 AND step = 'otp' AND expires_at > $5 AND otp_sends < $4",
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

/// Accepts the activation's SMS code once (P8): the step moves on to `confirm`.
pub async fn accept_activation_otp(conn: &mut Conn, id: &str, digest: &[u8], now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE legacy_activations SET step = 'confirm', otp_digest = NULL \
         WHERE id = $1 AND step = 'otp' AND otp_digest = $2 AND otp_expires_at > $3 AND expires_at > $3",
    )
    .bind(id)
    .bind(digest)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Counts a wrong code; at `limit` the activation fails. Returns the failures so far.
pub async fn fail_activation_otp(conn: &mut Conn, id: &str, limit: i64) -> Result<i64> {
    let row = sqlx::query(
        "UPDATE legacy_activations SET otp_failures = otp_failures + 1, \
         step = CASE WHEN otp_failures + 1 >= $2 THEN 'failed' ELSE step END \
         WHERE id = $1 AND step = 'otp' RETURNING otp_failures",
    )
    .bind(id)
    .bind(limit)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get::<i64, _>("otp_failures")).transpose()?.unwrap_or(limit))
}

/// The phone confirmed and the email to validate chosen: the link's token digest is stored.
pub async fn set_activation_email(
    conn: &mut Conn,
    id: &str,
    email: &str,
    token_digest: &[u8],
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE legacy_activations SET step = 'email', email = $2, email_token = $3, email_verified = 0 \
         WHERE id = $1 AND step IN ('confirm', 'email') AND expires_at > $4",
    )
    .bind(id)
    .bind(email)
    .bind(token_digest)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The link was opened: the email is validated, once.
pub async fn verify_activation_email(conn: &mut Conn, token_digest: &[u8], now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE legacy_activations SET email_verified = 1, email_token = NULL, step = 'password' \
         WHERE email_token = $1 AND step = 'email' AND expires_at > $2",
    )
    .bind(token_digest)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The end: the activation is done and the credential consumed, both only if still
/// pending — of two activations of one credential, exactly one gets `true` (P8).
pub async fn finish_activation(conn: &mut Conn, act: &Activation, user_id: &str, now: i64) -> Result<bool> {
    let consumed = sqlx::query(
        "UPDATE legacy_credentials SET status = 'activated', user_id = $3, activated_at = $4, updated_at = $4 \
         WHERE bank_id = $1 AND legacy_code = $2 AND status = 'pending'",
    )
    .bind(&act.bank_id)
    .bind(&act.legacy_code)
    .bind(user_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if consumed.rows_affected() != 1 {
        return Ok(false);
    }
    let done = sqlx::query(
        "UPDATE legacy_activations SET step = 'done', user_id = $2 WHERE id = $1 AND step = 'password' AND expires_at > $3",
    )
    .bind(&act.id)
    .bind(user_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends an activation that cannot go on.
pub async fn fail_activation(conn: &mut Conn, id: &str) -> Result<()> {
    sqlx::query("UPDATE legacy_activations SET step = 'failed' WHERE id = $1 AND step NOT IN ('done', 'failed')")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
