//! Authentication of the phone's requests (PROTOCOL.md §6): a server challenge used once
//! (P8), a possession signature, and for two-factor requests a knowledge (PIN) or
//! biometry signature that is counted against the binding before it is checked (P2).
//!
//! A bad possession signature is refused without counting: it proves nothing about the
//! PIN and would let anyone who knows a binding id block it. A bad second factor is a
//! wrong PIN (or a tampered key) and counts; the limit in a row (five at most) suspends
//! the PIN for a while and the next time blocks the binding, and//! the customer gets an SMS.

use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::notify::texts;
use serde_json::json;
use sigillo_core::attempts::{Lock, Secret};
use sigillo_core::device::keys::{self, Factor};
use sigillo_core::device::messages::Signatures;
use sigillo_core::device::{b64, unb64};
use sigillo_core::token;
use sigillo_store::repo::bindings::{self, Binding, BindingStatus};
use sigillo_store::repo::users::{self, User};
use sigillo_store::repo::{attempts, challenges};
use std::time::Duration;

/// How long a challenge may wait for its signed request.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(120);

/// The factors a request must prove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The phone alone (status, removal, rejecting an operation, push token).
    Possession,
    /// Possession and the PIN.
    Knowledge,
    /// Possession and either the PIN or biometry (approvals, in-app login).
    TwoFactors,
}

/// What a phone sent to authenticate a request, as the surface extracted it.
#[derive(Clone, Debug)]
pub struct DeviceProof {
    pub binding: String,
    pub challenge: Vec<u8>,
    pub signatures: Signatures,
}

/// An authenticated phone: its binding and user, and the second factor it proved.
#[derive(Clone, Debug)]
pub struct DeviceCtx {
    pub binding: Binding,
    pub user: User,
    pub second_factor: Option<Factor>,
}

impl DeviceCtx {
    pub fn actor(&self) -> Actor {
        Actor::User(self.user.id.clone())
    }
}

impl Services {
    /// A fresh challenge for a binding that is not removed. Unknown and removed bindings
    /// get the uniform failure.
    pub async fn device_challenge(&self, binding_id: &str) -> ServiceResult<(String, i64)> {
        let now = self.now();
        let mut conn = self.store.conn().await?;
        match bindings::get(&mut conn, binding_id).await? {
            Some(b) if b.status != BindingStatus::Removed => {}
            _ => return Err(ServiceError::AuthFailed),
        }
        let mut raw = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
        let expires = now.plus(CHALLENGE_TTL).0;
        challenges::create(&mut conn, &token::digest(&b64(&raw)), binding_id, now.0, expires).await?;
        Ok((b64(&raw), expires))
    }

    /// Checks a phone's proof for a request whose signed message `message(factor)`
    /// builds. `allowed` lists the binding statuses the request is valid in.
    pub async fn authenticate_device(
        &self,
        proof: &DeviceProof,
        need: Need,
        allowed: &[BindingStatus],
        message: &(dyn Fn(Factor) -> Vec<u8> + Sync),
        origin: &Origin,
    ) -> ServiceResult<DeviceCtx> {
        let now = self.now();
        let (binding, user) = {
            let mut conn = self.store.conn().await?;
            let binding = bindings::get(&mut conn, &proof.binding).await?.ok_or(ServiceError::AuthFailed)?;
            // P8: the challenge is spent whatever follows, so a request is never evaluated twice.
            if !challenges::consume(&mut conn, &token::digest(&b64(&proof.challenge)), &binding.id, now.0).await? {
                drop(conn);
                self.device_refused(&binding, "challenge", origin).await?;
                return Err(ServiceError::AuthFailed);
            }
            let user = users::by_id(&mut conn, &binding.user_id).await?.ok_or(ServiceError::AuthFailed)?;
            (binding, user)
        };
        let possession_ok = proof
            .signatures
            .get(Factor::Possession)
            .is_some_and(|sig| keys::verify(&binding.possession_key, &message(Factor::Possession), sig));
        if !possession_ok {
            self.device_refused(&binding, "possession_signature", origin).await?;
            return Err(ServiceError::AuthFailed);
        }
        if !allowed.contains(&binding.status) {
            self.device_refused(&binding, binding.status.as_str(), origin).await?;
            return Err(ServiceError::AuthFailed);
        }
        if need != Need::Possession && matches!(user.status, users::UserStatus::Locked | users::UserStatus::Blocked) {
            self.device_refused(&binding, "user_locked", origin).await?;
            return Err(ServiceError::AuthFailed);
        }
        let second = match need {
            Need::Possession => None,
            Need::Knowledge => Some(Factor::Knowledge),
            Need::TwoFactors if proof.signatures.get(Factor::Knowledge).is_some() => Some(Factor::Knowledge),
            Need::TwoFactors => Some(Factor::Biometry),
        };
        if let Some(factor) = second {
            let key = match factor {
                Factor::Knowledge if !binding.pin_reset => Some(self.open_knowledge_key(&binding)?),
                Factor::Biometry => binding.biometry_key.clone(),
                _ => None,
            };
            let (Some(key), Some(sig)) = (key, proof.signatures.get(factor)) else {
                self.device_refused(&binding, "factor_unavailable", origin).await?;
                return Err(ServiceError::AuthFailed);
            };
            self.counted_check(&binding, &user, || keys::verify(&key, &message(factor), sig), origin).await?;
        }
        // "Last used" is for people (the devices page): to the minute is enough, and a
        // write (a commit, an fsync) per request is not.
        if binding.last_used_at.is_none_or(|t| t < now.0 - 60_000) {
            let mut conn = self.store.conn().await?;
            bindings::touch(&mut conn, &binding.id, now.0).await?;
        }
        Ok(DeviceCtx { binding, user, second_factor: second })
    }

    /// A secret of the binding (a signature or an offline code) checked under its
    /// failure count: reserved first, reset on success, the binding blocked at the limit.
    pub(crate) async fn counted_check(
        &self,
        binding: &Binding,
        user: &User,
        check: impl FnOnce() -> bool,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let now = self.now();
        let limit = self.cfg.security.lockout.limit();
        let reservation = {
            let mut conn = self.store.conn().await?;
            attempts::reserve(&mut conn, &binding.id, Secret::Binding, limit, now.0).await?
        };
        let Some(reservation) = reservation else {
            self.device_refused(binding, "blocked", origin).await?;
            return Err(ServiceError::AuthFailed);
        };
        let ok = check();
        let mut tx = self.store.begin().await?;
        if ok {
            attempts::succeed(&mut tx, &binding.id, Secret::Binding, now.0).await?;
            sigillo_store::commit(tx).await?;
            return Ok(());
        }
        self.metrics.auth_failures.with_label_values(&[Secret::Binding.as_str()]).inc();
        // As for the user's secrets: the first time the limit is reached the binding is
        // suspended for a while and the customer alerted; after that, blocked until
        // unblocked (RTS art. 4: the alert comes before the block is permanent).
        let policy = self.cfg.security.lockout;
        if reservation.failures >= limit {
            let lock = policy.lock_after(reservation.lock_count, now);
            if attempts::lock(&mut tx, &binding.id, Secret::Binding, limit, lock, now.0).await? {
                self.apply_binding_lock(&mut tx, binding, user, lock, origin).await?;
            }
        }
        audit(
            &mut tx,
            now,
            &Actor::Anonymous,
            "binding.failed",
            &user.id,
            origin,
            json!({ "binding": binding.id, "consecutive_failures": reservation.failures }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Err(ServiceError::AuthFailed)
    }

    async fn apply_binding_lock(
        &self,
        tx: &mut sigillo_store::Conn,
        binding: &Binding,
        user: &User,
        lock: Lock,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let now = self.now();
        match lock {
            Lock::Temporary { until, .. } => {
                let minutes = u64::try_from((until.0 - now.0).max(0) / 60_000).unwrap_or(0).max(1);
                let limit = self.cfg.security.lockout.limit();
                let sms = texts::binding_suspended_sms(&binding.device_name, limit, minutes);
                self.queue_sms(tx, &user.phone, &sms, now).await?;
                if let Some(email) = &user.email {
                    let mail = texts::binding_suspended_email(&binding.device_name, limit, minutes);
                    self.queue_email(tx, email, &mail.subject, &mail.body, now).await?;
                }
                audit(
                    tx,
                    now,
                    &Actor::System,
                    "device.suspended",
                    &user.id,
                    origin,
                    json!({ "binding": binding.id, "until": until.0 }),
                )
                .await?;
            }
            Lock::Permanent if binding.status == BindingStatus::PendingCommit => {
                // Never active: there is nothing to unblock, so the half-made binding goes.
                bindings::remove(tx, &binding.id, "blocked_before_commit", now.0).await?;
                self.queue_sms(tx, &user.phone, &texts::binding_abandoned_sms(&binding.device_name), now).await?;
                audit(
                    tx,
                    now,
                    &Actor::System,
                    "device.removed",
                    &user.id,
                    origin,
                    json!({ "binding": binding.id, "reason": "blocked_before_commit" }),
                )
                .await?;
            }
            Lock::Permanent => {
                bindings::transition(tx, &binding.id, BindingStatus::Active, BindingStatus::Blocked, now.0).await?;
                self.queue_sms(tx, &user.phone, &texts::binding_blocked_sms(&binding.device_name), now).await?;
                if let Some(email) = &user.email {
                    let mail = texts::binding_blocked_email(&binding.device_name);
                    self.queue_email(tx, email, &mail.subject, &mail.body, now).await?;
                }
                audit(tx, now, &Actor::System, "device.blocked", &user.id, origin, json!({ "binding": binding.id }))
                    .await?;
            }
        }
        Ok(())
    }

    /// Audits a device request refused before any factor was counted.
    async fn device_refused(&self, binding: &Binding, reason: &str, origin: &Origin) -> ServiceResult<()> {
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            self.now(),
            &Actor::Anonymous,
            "device.request_refused",
            &binding.user_id,
            origin,
            json!({ "binding": binding.id, "reason": reason }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }
}

/// Parses the challenge as it travels (base64url); `None` if it is not.
pub fn parse_challenge(text: &str) -> Option<Vec<u8>> {
    unb64(text).filter(|c| c.len() == 32)
}
