//! Bindings: a user on a phone, with the public keys of its factors (P3) and its sealed
//! OTP keys (P7). Lifecycle: pending_approval → pending_commit → active ⇄ blocked → removed.

use crate::{Conn, Result, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingStatus {
    /// A second phone, waiting for a bound phone to approve it.
    PendingApproval,
    /// Keys exchanged; the phone has not yet confirmed it stored them.
    PendingCommit,
    Active,
    /// Five consecutive failures (P2): unblocked on the web or by an operator.
    Blocked,
    Removed,
}

impl BindingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingApproval => "pending_approval",
            Self::PendingCommit => "pending_commit",
            Self::Active => "active",
            Self::Blocked => "blocked",
            Self::Removed => "removed",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending_approval" => Self::PendingApproval,
            "pending_commit" => Self::PendingCommit,
            "active" => Self::Active,
            "blocked" => Self::Blocked,
            "removed" => Self::Removed,
            other => return Err(StoreError::Corrupt(format!("binding status {other}"))),
        })
    }
}

#[derive(Clone, Debug)]
pub struct Binding {
    pub id: String,
    pub user_id: String,
    pub status: BindingStatus,
    pub device_name: String,
    pub platform: String,
    pub possession_key: Vec<u8>,
    pub knowledge_key: Vec<u8>,
    pub biometry_key: Option<Vec<u8>>,
    pub server_key: Vec<u8>,
    pub knowledge_server_key: Vec<u8>,
    pub otp_keys: Vec<u8>,
    pub fingerprint: String,
    pub pin_reset: bool,
    pub is_primary: bool,
    pub push_provider: Option<String>,
    pub created_at: i64,
    pub committed_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

fn from_row(r: &AnyRow) -> Result<Binding> {
    Ok(Binding {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        status: BindingStatus::parse(r.try_get("status")?)?,
        device_name: r.try_get("device_name")?,
        platform: r.try_get("platform")?,
        possession_key: r.try_get("possession_key")?,
        knowledge_key: r.try_get("knowledge_key")?,
        biometry_key: r.try_get("biometry_key")?,
        server_key: r.try_get("server_key")?,
        knowledge_server_key: r.try_get("knowledge_server_key")?,
        otp_keys: r.try_get("otp_keys")?,
        fingerprint: r.try_get("fingerprint")?,
        pin_reset: r.try_get::<i64, _>("pin_reset")? != 0,
        is_primary: r.try_get::<i64, _>("is_primary")? != 0,
        push_provider: r.try_get("push_provider")?,
        created_at: r.try_get("created_at")?,
        committed_at: r.try_get("committed_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

/// A new binding, as the activation creates it.
#[derive(Clone, Debug)]
pub struct NewBinding<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub status: BindingStatus,
    pub device_name: &'a str,
    pub platform: &'a str,
    pub possession_key: &'a [u8],
    pub knowledge_key: &'a [u8],
    pub biometry_key: Option<&'a [u8]>,
    pub server_key: &'a [u8],
    pub otp_keys: &'a [u8],
    pub fingerprint: &'a str,
}

pub async fn create(conn: &mut Conn, b: &NewBinding<'_>, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO bindings (id, user_id, status, device_name, platform, possession_key, knowledge_key, \
         biometry_key, server_key, knowledge_server_key, otp_keys, fingerprint, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12)",
    )
    .bind(b.id)
    .bind(b.user_id)
    .bind(b.status.as_str())
    .bind(b.device_name)
    .bind(b.platform)
    .bind(b.possession_key)
    .bind(b.knowledge_key)
    .bind(b.biometry_key)
    .bind(b.server_key)
    .bind(b.otp_keys)
    .bind(b.fingerprint)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<Binding>> {
    let row = sqlx::query("SELECT * FROM bindings WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(from_row).transpose()
}

/// The user's bindings that are not removed, oldest first.
pub async fn for_user(conn: &mut Conn, user_id: &str) -> Result<Vec<Binding>> {
    let rows = sqlx::query("SELECT * FROM bindings WHERE user_id = $1 AND status <> 'removed' ORDER BY created_at, id")
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// How many of the user's bindings are active.
pub async fn count_active(conn: &mut Conn, user_id: &str) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM bindings WHERE user_id = $1 AND status = 'active'")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// Moves a binding from `from` to `to`; `false` when it was no longer in `from`.
pub async fn transition(conn: &mut Conn, id: &str, from: BindingStatus, to: BindingStatus, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE bindings SET status = $3, \
         committed_at = CASE WHEN $3 = 'active' AND committed_at IS NULL THEN $4 ELSE committed_at END \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes a binding (any status but removed); `false` if it already was.
pub async fn remove(conn: &mut Conn, id: &str, reason: &str, now: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE bindings SET status = 'removed', removed_at = $2, removed_reason = $3, push_token = NULL \
         WHERE id = $1 AND status <> 'removed'",
    )
    .bind(id)
    .bind(now)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes the user's bindings still waiting for approval or commit that were created
/// before `before` (an abandoned second phone, an app that never confirmed); returns their ids.
pub async fn expire_unfinished(conn: &mut Conn, user_id: &str, before: i64, now: i64) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "UPDATE bindings SET status = 'removed', removed_at = $3, removed_reason = 'expired' \
         WHERE user_id = $1 AND status IN ('pending_approval', 'pending_commit') AND created_at < $2 RETURNING id",
    )
    .bind(user_id)
    .bind(before)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// Unblocks a blocked binding; the phone must then set a new PIN (`pin_reset`).
pub async fn unblock(conn: &mut Conn, id: &str) -> Result<bool> {
    let r = sqlx::query("UPDATE bindings SET status = 'active', pin_reset = 1 WHERE id = $1 AND status = 'blocked'")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Replaces the knowledge key (a PIN change or a PIN reset) with its new server key and
/// the resealed OTP keys; clears `pin_reset`.
pub async fn replace_knowledge_key(
    conn: &mut Conn,
    id: &str,
    knowledge_key: &[u8],
    knowledge_server_key: &[u8],
    otp_keys: &[u8],
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE bindings SET knowledge_key = $2, knowledge_server_key = $3, otp_keys = $4, pin_reset = 0 \
         WHERE id = $1 AND status = 'active'",
    )
    .bind(id)
    .bind(knowledge_key)
    .bind(knowledge_server_key)
    .bind(otp_keys)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_biometry_key(conn: &mut Conn, id: &str, key: Option<&[u8]>) -> Result<bool> {
    let r = sqlx::query("UPDATE bindings SET biometry_key = $2 WHERE id = $1 AND status = 'active'")
        .bind(id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_push_token(conn: &mut Conn, id: &str, provider: &str, token: &str) -> Result<bool> {
    let r = sqlx::query("UPDATE bindings SET push_provider = $2, push_token = $3 WHERE id = $1 AND status = 'active'")
        .bind(id)
        .bind(provider)
        .bind(token)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_primary(conn: &mut Conn, id: &str, primary: bool) -> Result<bool> {
    let r = sqlx::query("UPDATE bindings SET is_primary = $2 WHERE id = $1 AND status <> 'removed'")
        .bind(id)
        .bind(super::flag(primary))
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE bindings SET last_used_at = $2 WHERE id = $1").bind(id).bind(now).execute(&mut *conn).await?;
    Ok(())
}

/// Accepts a login-OTP time step for a binding once (P8): `false` if this or a later
/// step was accepted before.
pub async fn accept_login_otp_step(conn: &mut Conn, id: &str, step: i64) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE bindings SET login_otp_step = $2 WHERE id = $1 AND (login_otp_step IS NULL OR login_otp_step < $2)",
    )
    .bind(id)
    .bind(step)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Where a phone is woken: an active binding with a registered push token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTarget {
    pub binding_id: String,
    pub provider: String,
    pub token: String,
}

/// The phones to wake for the user: active bindings that are their phone's primary user
/// (DESIGN flow 3: the push goes to the primary devices) and registered a push token,
/// oldest first.
pub async fn push_targets(conn: &mut Conn, user_id: &str) -> Result<Vec<PushTarget>> {
    let rows = sqlx::query(
        "SELECT id, push_provider, push_token FROM bindings \
         WHERE user_id = $1 AND status = 'active' AND is_primary = 1 \
           AND push_provider IS NOT NULL AND push_token IS NOT NULL \
         ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PushTarget {
                binding_id: r.try_get("id")?,
                provider: r.try_get("push_provider")?,
                token: r.try_get("push_token")?,
            })
        })
        .collect()
}

/// The binding's current push token while it is active (`None` when it has none, or is
/// no longer active).
pub async fn active_push_token(conn: &mut Conn, id: &str) -> Result<Option<(String, String)>> {
    let row = sqlx::query(
        "SELECT push_provider, push_token FROM bindings WHERE id = $1 AND status = 'active' \
         AND push_provider IS NOT NULL AND push_token IS NOT NULL",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((r.try_get("push_provider")?, r.try_get("push_token")?))).transpose()
}

/// Forgets a push token the provider called dead (APNs `Unregistered`, FCM `UNREGISTERED`).
/// Only that token: if the phone registered a new one meanwhile, it stays. `false` when
/// nothing changed.
pub async fn clear_push_token(conn: &mut Conn, id: &str, provider: &str, token: &str) -> Result<bool> {
    let r =
        sqlx::query("UPDATE bindings SET push_token = NULL WHERE id = $1 AND push_provider = $2 AND push_token = $3")
            .bind(id)
            .bind(provider)
            .bind(token)
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}
