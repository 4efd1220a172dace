//! Users: the web banking identities and their credentials' hashes.

use super::flag;
use crate::{Conn, Result, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    /// Logged in with an envelope's initial password: may only set a new one.
    MustChangePassword,
    /// Too many failures: the customer unlocks with the security code.
    Locked,
    /// Blocked by the bank: only an operator can lift it.
    Blocked,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::MustChangePassword => "must_change_password",
            Self::Locked => "locked",
            Self::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "active" => Self::Active,
            "must_change_password" => Self::MustChangePassword,
            "locked" => Self::Locked,
            "blocked" => Self::Blocked,
            other => return Err(StoreError::Corrupt(format!("user status {other:?}"))),
        })
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub user_code: String,
    pub alias: Option<String>,
    pub password_hash: String,
    pub security_code_hash: String,
    pub password_initial: bool,
    pub phone: String,
    pub phone_certified: bool,
    pub email: Option<String>,
    pub email_verified: bool,
    pub status: UserStatus,
    /// A card-portal user ("Area Riservata", realm `card_portal`): `user_code` is its
    /// UserID, and web banking never finds it.
    pub portal: bool,
    /// A former hardware-token customer of an acquired bank: its logins recommend the app
    /// while it has no phone to approve with (DESIGN flow 10).
    pub recommend_app: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug)]
pub struct NewUser<'a> {
    pub user_code: &'a str,
    pub password_hash: &'a str,
    pub security_code_hash: &'a str,
    pub phone: &'a str,
    pub email: Option<&'a str>,
    pub status: UserStatus,
}

const COLUMNS: &str = "id, user_code, alias, password_hash, security_code_hash, password_initial, phone, phone_certified, \
                       email, email_verified, status, realm, recommend_app, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        user_code: row.try_get("user_code")?,
        alias: row.try_get("alias")?,
        password_hash: row.try_get("password_hash")?,
        security_code_hash: row.try_get("security_code_hash")?,
        password_initial: row.try_get::<i64, _>("password_initial")? != 0,
        phone: row.try_get("phone")?,
        phone_certified: row.try_get::<i64, _>("phone_certified")? != 0,
        email: row.try_get("email")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        status: UserStatus::parse(&row.try_get::<String, _>("status")?)?,
        portal: row.try_get::<String, _>("realm")? == PORTAL_REALM,
        recommend_app: row.try_get::<i64, _>("recommend_app")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Inserts a user. A taken user code gives `Conflict("user_code")`: the caller draws another.
pub async fn insert(conn: &mut Conn, u: &NewUser<'_>, now: i64) -> Result<User> {
    let id = crate::new_id();
    sqlx::query(
        "INSERT INTO users (id, user_code, password_hash, security_code_hash, phone, email, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(u.user_code)
    .bind(u.password_hash)
    .bind(u.security_code_hash)
    .bind(u.phone)
    .bind(u.email)
    .bind(u.status.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::unique(e, "user_code"))?;
    by_id(conn, &id).await?.ok_or(StoreError::NotFound)
}

/// The realm of card-portal users.
const PORTAL_REALM: &str = "card_portal";

/// A card-portal user, whose UserID is already known to be unique: its phone (the card's
/// 3-D Secure phone) counts as certified, since registering proved it by SMS OTP.
pub async fn insert_portal(
    conn: &mut Conn,
    user_id: &str,
    password_hash: &str,
    security_code_hash: &str,
    phone: &str,
    now: i64,
) -> Result<User> {
    let id = crate::new_id();
    sqlx::query(
        "INSERT INTO users (id, user_code, password_hash, security_code_hash, password_initial, phone, phone_certified, \
         status, realm, created_at, updated_at) VALUES ($1, $2, $3, $4, 0, $5, 1, 'active', $6, $7, $7)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(password_hash)
    .bind(security_code_hash)
    .bind(phone)
    .bind(PORTAL_REALM)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::unique(e, "user_code"))?;
    by_id(conn, &id).await?.ok_or(StoreError::NotFound)
}

/// The card-portal user with this UserID.
pub async fn portal_by_user_id(conn: &mut Conn, user_id: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE user_code = $1 AND realm = $2"))
        .bind(user_id.trim())
        .bind(PORTAL_REALM)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// A portal user's phone follows its card's 3-D Secure phone (the only one it has).
pub async fn set_portal_phone(conn: &mut Conn, id: &str, phone: &str, now: i64) -> Result<bool> {
    let done =
        sqlx::query("UPDATE users SET phone = $2, phone_certified = 1, updated_at = $3 WHERE id = $1 AND realm = $4")
            .bind(id)
            .bind(phone)
            .bind(now)
            .bind(PORTAL_REALM)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_id(conn: &mut Conn, id: &str) -> Result<Option<User>> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1")).bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_user_code(conn: &mut Conn, user_code: &str) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE user_code = $1"))
        .bind(user_code)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Looks a web banking user up by user code or by alias (case-insensitive), as the login
/// form does; card-portal users are not found ([`portal_by_user_id`]).
pub async fn by_username(conn: &mut Conn, username: &str) -> Result<Option<User>> {
    let (column, key) = username_key(username);
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE {column} = $1 AND realm = 'banking'"))
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The column a login name is looked up in, and the value to match: a user code as
/// typed, an alias case-insensitively.
fn username_key(username: &str) -> (&'static str, String) {
    let username = username.trim();
    if sigillo_core::identity::looks_like_user_code(username) {
        ("user_code", username.to_owned())
    } else {
        ("alias_norm", username.to_ascii_lowercase())
    }
}

/// A user as a password login needs them: the row, and whether a phone could take the
/// login (an active binding not waiting for a PIN reset), read in the same statement.
#[derive(Clone, Debug)]
pub struct LoginUser {
    pub user: User,
    pub has_usable_phone: bool,
}

/// [`by_username`] for a password login, with [`LoginUser::has_usable_phone`]: one
/// statement instead of a second lookup after the password check (bench/login).
pub async fn for_login(conn: &mut Conn, username: &str) -> Result<Option<LoginUser>> {
    let (column, key) = username_key(username);
    // COUNT, not EXISTS: an integer on both databases (EXISTS is a boolean on PostgreSQL).
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, (SELECT COUNT(*) FROM bindings b WHERE b.user_id = users.id AND b.status = 'active' \
                              AND b.pin_reset = 0) AS usable_phones \
         FROM users WHERE {column} = $1 AND realm = 'banking'"
    ))
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref()
        .map(|r| Ok(LoginUser { user: from_row(r)?, has_usable_phone: r.try_get::<i64, _>("usable_phones")? > 0 }))
        .transpose()
}

fn expect_one(result: sqlx::any::AnyQueryResult) -> Result<()> {
    if result.rows_affected() == 1 { Ok(()) } else { Err(StoreError::NotFound) }
}

/// Replaces the password. `initial` marks an envelope's password, which must be changed at first use.
pub async fn set_password(
    conn: &mut Conn,
    id: &str,
    hash: &str,
    initial: bool,
    status: UserStatus,
    now: i64,
) -> Result<()> {
    let r = sqlx::query(
        "UPDATE users SET password_hash = $2, password_initial = $3, status = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(hash)
    .bind(flag(initial))
    .bind(status.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    expect_one(r)
}

pub async fn set_security_code(conn: &mut Conn, id: &str, hash: &str, now: i64) -> Result<()> {
    let r = sqlx::query("UPDATE users SET security_code_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    expect_one(r)
}

pub async fn set_status(conn: &mut Conn, id: &str, status: UserStatus, now: i64) -> Result<()> {
    let r = sqlx::query("UPDATE users SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    expect_one(r)
}

/// Sets or clears the alias. `alias_norm` is the lowercase form uniqueness is checked on.
pub async fn set_alias(conn: &mut Conn, id: &str, alias: Option<(&str, &str)>, now: i64) -> Result<()> {
    let r = sqlx::query("UPDATE users SET alias = $2, alias_norm = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(alias.map(|a| a.0))
        .bind(alias.map(|a| a.1))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::unique(e, "alias"))?;
    expect_one(r)
}

pub async fn set_phone(conn: &mut Conn, id: &str, phone: &str, certified: bool, now: i64) -> Result<()> {
    let r = sqlx::query("UPDATE users SET phone = $2, phone_certified = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(phone)
        .bind(flag(certified))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    expect_one(r)
}

/// A customer who came from an acquired bank (DESIGN flow 10): password chosen (not an
/// envelope's), phone certified and email validated during the activation. `recommend_app`
/// for a former hardware-token customer, whose logins then recommend binding the app.
pub async fn mark_migrated(conn: &mut Conn, id: &str, recommend_app: bool, now: i64) -> Result<()> {
    let r = sqlx::query(
        "UPDATE users SET password_initial = 0, phone_certified = 1, email_verified = 1, recommend_app = $2, \
         updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(flag(recommend_app))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    expect_one(r)
}

/// Marks the phone certified, unless it changed meanwhile.
pub async fn certify_phone(conn: &mut Conn, id: &str, phone: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE users SET phone_certified = 1, updated_at = $3 WHERE id = $1 AND phone = $2 AND phone_certified = 0",
    )
    .bind(id)
    .bind(phone)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_email(conn: &mut Conn, id: &str, email: &str, verified: bool, now: i64) -> Result<()> {
    let r = sqlx::query("UPDATE users SET email = $2, email_verified = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(email)
        .bind(flag(verified))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    expect_one(r)
}

/// Marks `email` verified if it is still the user's address.
pub async fn verify_email(conn: &mut Conn, id: &str, email: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE users SET email_verified = 1, updated_at = $3 WHERE id = $1 AND email = $2 AND email_verified = 0",
    )
    .bind(id)
    .bind(email)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn count(conn: &mut Conn) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(&mut *conn).await?.try_get("n")?)
}
