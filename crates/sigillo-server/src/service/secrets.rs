//! Attempt-limited verification of any secret (RTS art. 4(3)(b), DESIGN P2).
//!
//! Every verification is sandwiched: [`Services::reserve_attempt`] counts it *before*
//! the secret is checked (so parallel guesses cannot overtake the limit), then
//! [`Services::record_outcome`] resets the count on success, or on the last allowed
//! failure locks the secret, alerts the customer and, for a permanent lock, locks the user.

use super::{Actor, Origin, ServiceResult, Services, audit};
use crate::notify::texts;
use serde_json::json;
use sigillo_core::attempts::{Lock, Secret};
use sigillo_store::Conn;
use sigillo_store::repo::attempts::{self, Reservation};
use sigillo_store::repo::sessions;
use sigillo_store::repo::users::{self, User, UserStatus};

impl Services {
    /// Counts one attempt at `secret` for `user`; `None` when the secret is locked.
    pub(crate) async fn reserve_attempt(
        &self,
        user: &User,
        secret: Secret,
        origin: &Origin,
    ) -> ServiceResult<Option<Reservation>> {
        self.reserve_attempt_unless(user, secret, None, origin).await
    }

    /// [`Self::reserve_attempt`], refused too while `guard` is locked (a login needs its
    /// SMS code as much as its password). One statement when allowed; a refusal is audited.
    pub(crate) async fn reserve_attempt_unless(
        &self,
        user: &User,
        secret: Secret,
        guard: Option<Secret>,
        origin: &Origin,
    ) -> ServiceResult<Option<Reservation>> {
        let reservation = {
            let mut conn = self.store.conn().await?;
            self.reserve_in(&mut conn, user, secret, guard).await?
        };
        if reservation.is_none() {
            self.refused_locked(user, secret, origin).await?;
        }
        Ok(reservation)
    }

    /// The reservation of [`Self::reserve_attempt_unless`] alone, on a connection the
    /// caller holds (a login reserves on the one it found the user with); a refusal is
    /// the caller's to audit ([`Self::refused_locked`]). Not in a transaction: the count
    /// must be committed before the secret is checked.
    pub(crate) async fn reserve_in(
        &self,
        conn: &mut Conn,
        user: &User,
        secret: Secret,
        guard: Option<Secret>,
    ) -> ServiceResult<Option<Reservation>> {
        let limit = self.cfg.security.lockout.limit();
        Ok(attempts::reserve_unless(conn, &user.id, secret, guard, limit, self.now().0).await?)
    }

    /// Audits an attempt refused because `secret` (or its guard) is locked.
    pub(crate) async fn refused_locked(&self, user: &User, secret: Secret, origin: &Origin) -> ServiceResult<()> {
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            self.now(),
            &Actor::Anonymous,
            "auth.refused_locked",
            &user.id,
            origin,
            json!({ "secret": secret.as_str() }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Records the outcome of a reserved attempt. Returns the lock it caused, if any.
    pub(crate) async fn record_outcome(
        &self,
        user: &User,
        secret: Secret,
        reservation: Reservation,
        ok: bool,
        origin: &Origin,
    ) -> ServiceResult<Option<Lock>> {
        let now = self.now();
        let policy = self.cfg.security.lockout;
        let mut tx = self.store.begin().await?;
        if ok {
            attempts::succeed(&mut tx, &user.id, secret, now.0).await?;
            sigillo_store::commit(tx).await?;
            return Ok(None);
        }
        self.metrics.auth_failures.with_label_values(&[secret.as_str()]).inc();
        let mut applied = None;
        if reservation.failures >= policy.limit() {
            let lock = policy.lock_after(reservation.lock_count, now);
            if attempts::lock(&mut tx, &user.id, secret, policy.limit(), lock, now.0).await? {
                self.apply_lock(&mut tx, user, secret, lock, origin).await?;
                applied = Some(lock);
            }
        }
        // Audit last: the audit head is locked from the first append to the commit, so
        // every transaction takes its row locks before it (a fixed order, no deadlocks).
        audit(
            &mut tx,
            now,
            &Actor::Anonymous,
            &format!("{}.failed", secret.as_str()),
            &user.id,
            origin,
            json!({ "consecutive_failures": reservation.failures }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(applied)
    }

    /// The consequences of a lock: the customer is told at once (RTS art. 4: before a
    /// block is made permanent), and a permanent lock locks the user and ends its sessions.
    async fn apply_lock(
        &self,
        tx: &mut sigillo_store::Conn,
        user: &User,
        secret: Secret,
        lock: Lock,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let now = self.now();
        match lock {
            Lock::Temporary { until, permanent_after_next } => {
                let minutes = u64::try_from((until.0 - now.0).max(0) / 60_000).unwrap_or(0).max(1);
                self.queue_sms(
                    tx,
                    &user.phone,
                    &texts::temporary_lock_sms(secret.as_str(), minutes, permanent_after_next),
                    now,
                )
                .await?;
                if let Some(email) = &user.email {
                    let mail = texts::temporary_lock_email(secret.as_str(), minutes, permanent_after_next);
                    self.queue_email(tx, email, &mail.subject, &mail.body, now).await?;
                }
                audit(
                    tx,
                    now,
                    &Actor::System,
                    "lock.temporary",
                    &user.id,
                    origin,
                    json!({
                        "secret": secret.as_str(), "until": until.0, "permanent_after_next": permanent_after_next,
                    }),
                )
                .await?;
            }
            Lock::Permanent => {
                if user.status != UserStatus::Blocked {
                    users::set_status(tx, &user.id, UserStatus::Locked, now.0).await?;
                }
                sessions::end_all_for_user(tx, &user.id, "locked", now.0).await?;
                let text = if user.portal {
                    texts::portal_permanent_lock_sms(secret.as_str())
                } else {
                    texts::permanent_lock_sms(secret.as_str())
                };
                self.queue_sms(tx, &user.phone, &text, now).await?;
                if let Some(email) = &user.email {
                    let mail = texts::permanent_lock_email(secret.as_str());
                    self.queue_email(tx, email, &mail.subject, &mail.body, now).await?;
                }
                audit(
                    tx,
                    now,
                    &Actor::System,
                    "lock.permanent",
                    &user.id,
                    origin,
                    json!({ "secret": secret.as_str() }),
                )
                .await?;
            }
        }
        Ok(())
    }
}
