//! Payment cards: the sealed PAN and its look-up digest, the holder, the 3-D Secure phone,
//! the sealed Key6 and the RTS art. 16 low-value counters. The Key6 failure count lives
//! in `attempt_counters` (subject = card id), like every other secret's.

use super::flag;
use crate::{Conn, Result, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Debug)]
pub struct Card {
    pub id: String,
    pub pan_lookup: Vec<u8>,
    pub pan_sealed: Vec<u8>,
    pub last4: String,
    pub brand: String,
    pub kind: String,
    pub corporate: bool,
    pub holder_user_id: Option<String>,
    pub phone: String,
    pub expiry: Option<String>,
    pub enrolled: bool,
    pub key6_sealed: Option<Vec<u8>>,
    pub key6_set_at: Option<i64>,
    pub lv_count: i64,
    pub lv_eur_cents: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug)]
pub struct NewCard<'a> {
    pub id: &'a str,
    pub pan_lookup: &'a [u8],
    pub pan_sealed: &'a [u8],
    pub last4: &'a str,
    pub brand: &'a str,
    pub kind: &'a str,
    pub corporate: bool,
    pub holder_user_id: Option<&'a str>,
    pub phone: &'a str,
    pub expiry: Option<&'a str>,
}

const COLUMNS: &str = "id, pan_lookup, pan_sealed, last4, brand, kind, corporate, holder_user_id, phone, expiry, \
     enrolled, key6_sealed, key6_set_at, lv_count, lv_eur_cents, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<Card> {
    Ok(Card {
        id: r.try_get("id")?,
        pan_lookup: r.try_get("pan_lookup")?,
        pan_sealed: r.try_get("pan_sealed")?,
        last4: r.try_get("last4")?,
        brand: r.try_get("brand")?,
        kind: r.try_get("kind")?,
        corporate: r.try_get::<i64, _>("corporate")? != 0,
        holder_user_id: r.try_get("holder_user_id")?,
        phone: r.try_get("phone")?,
        expiry: r.try_get("expiry")?,
        enrolled: r.try_get::<i64, _>("enrolled")? != 0,
        key6_sealed: r.try_get("key6_sealed")?,
        key6_set_at: r.try_get("key6_set_at")?,
        lv_count: r.try_get("lv_count")?,
        lv_eur_cents: r.try_get("lv_eur_cents")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A card as the ACS decides on it: the card, whether its Key6 is locked, and how many
/// usable phones its holder has, in one statement (the AReq path's only read).
#[derive(Clone, Debug)]
pub struct AcsCard {
    pub card: Card,
    pub key6_permanent: bool,
    pub key6_locked_until: Option<i64>,
    pub app_bindings: i64,
}

impl AcsCard {
    /// The holder can approve in the app: a usable bound phone.
    pub fn has_app(&self) -> bool {
        self.card.holder_user_id.is_some() && self.app_bindings > 0
    }

    pub fn key6_locked(&self, now: i64) -> bool {
        self.key6_permanent || self.key6_locked_until.is_some_and(|t| t > now)
    }
}

pub async fn for_acs(conn: &mut Conn, lookup: &[u8]) -> Result<Option<AcsCard>> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect();
    let row = sqlx::query(&format!(
        "SELECT {}, COALESCE(a.permanent, 0) AS k6_permanent, a.locked_until AS k6_locked_until, \
         (SELECT COUNT(*) FROM bindings b WHERE b.user_id = c.holder_user_id AND b.status = 'active' \
          AND b.pin_reset = 0) AS app_bindings \
         FROM cards c LEFT JOIN attempt_counters a ON a.subject = c.id AND a.secret = 'key6' \
         WHERE c.pan_lookup = $1",
        columns.join(", ")
    ))
    .bind(lookup)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(AcsCard {
            card: from_row(&r)?,
            key6_permanent: r.try_get::<i64, _>("k6_permanent")? != 0,
            key6_locked_until: r.try_get("k6_locked_until")?,
            app_bindings: r.try_get("app_bindings")?,
        })
    })
    .transpose()
}

/// Inserts a card; [`StoreError::Conflict`]`("card")` when its PAN is already on file.
pub async fn insert(conn: &mut Conn, card: &NewCard<'_>, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO cards (id, pan_lookup, pan_sealed, last4, brand, kind, corporate, holder_user_id, phone, \
         expiry, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(card.id)
    .bind(card.pan_lookup)
    .bind(card.pan_sealed)
    .bind(card.last4)
    .bind(card.brand)
    .bind(card.kind)
    .bind(flag(card.corporate))
    .bind(card.holder_user_id)
    .bind(card.phone)
    .bind(card.expiry)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::unique(e, "card"))?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<Card>> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM cards WHERE id = $1")).bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_pan_lookup(conn: &mut Conn, lookup: &[u8]) -> Result<Option<Card>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM cards WHERE pan_lookup = $1"))
        .bind(lookup)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The cards a user holds, oldest first.
pub async fn for_holder(conn: &mut Conn, user_id: &str) -> Result<Vec<Card>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM cards WHERE holder_user_id = $1 ORDER BY created_at, id"))
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn set_phone(conn: &mut Conn, id: &str, phone: &str, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE cards SET phone = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(phone)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_holder(conn: &mut Conn, id: &str, user_id: &str, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE cards SET holder_user_id = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the card its first holder; `false` when it already has one.
pub async fn set_holder_if_none(conn: &mut Conn, id: &str, user_id: &str, now: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE cards SET holder_user_id = $2, updated_at = $3 WHERE id = $1 AND holder_user_id IS NULL")
            .bind(id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_enrolled(conn: &mut Conn, id: &str, enrolled: bool, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE cards SET enrolled = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(flag(enrolled))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_key6(conn: &mut Conn, id: &str, sealed: &[u8], now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE cards SET key6_sealed = $2, key6_set_at = $3, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(sealed)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts a purchase exempted as low value (RTS art. 16), if the counters are still what
/// the decision read: `false` means another AReq for this card got there first and the
/// decision must be taken again.
pub async fn count_low_value(conn: &mut Conn, id: &str, seen: (i64, i64), eur_cents: i64, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE cards SET lv_count = lv_count + 1, lv_eur_cents = lv_eur_cents + $4, updated_at = $5 \
         WHERE id = $1 AND lv_count = $2 AND lv_eur_cents = $3",
    )
    .bind(id)
    .bind(seen.0)
    .bind(seen.1)
    .bind(eur_cents)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A purchase was authenticated with SCA: the low-value counters start again (RTS art. 16).
pub async fn reset_low_value(conn: &mut Conn, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE cards SET lv_count = 0, lv_eur_cents = 0, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
