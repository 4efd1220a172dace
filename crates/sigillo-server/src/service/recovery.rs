//! Recovery (DESIGN flow 6): a forgotten password or a locked user. The customer proves
//! the envelope's security code (knowledge) and the certified phone (possession, by
//! SMS OTP), then chooses a new password. A reissued envelope's security code unlocks
//! a locked user this way.

use super::login::FlowStarted;
use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::notify::texts::{self, OtpPurpose};
use serde_json::json;
use sigillo_core::attempts::Secret;
use sigillo_core::security_code;
use sigillo_store::repo::users::{self, UserStatus};
use sigillo_store::repo::{attempts, sessions};

impl Services {
    /// Step one: user code (or alias) + security code. Starts a recovery flow.
    pub async fn start_recovery(&self, username: &str, code: &str, origin: &Origin) -> ServiceResult<FlowStarted> {
        let user = {
            let mut conn = self.store.conn().await?;
            users::by_username(&mut conn, username).await?
        };
        let normalized = security_code::normalize(code).unwrap_or_default();
        let refuse = |reason: &'static str, user_id: String| async move {
            let mut tx = self.store.begin().await?;
            audit(
                &mut tx,
                self.now(),
                &Actor::Anonymous,
                "recovery.failed",
                &user_id,
                origin,
                json!({ "reason": reason }),
            )
            .await?;
            sigillo_store::commit(tx).await?;
            Err::<FlowStarted, _>(ServiceError::AuthFailed)
        };
        let Some(user) = user else {
            self.verify_secret(None, &normalized).await?;
            return refuse("unknown_user", String::new()).await;
        };
        if user.status == UserStatus::Blocked {
            self.verify_secret(None, &normalized).await?;
            return refuse("blocked", user.id.clone()).await;
        }
        let Some(reservation) = self.reserve_attempt(&user, Secret::SecurityCode, origin).await? else {
            self.verify_secret(None, &normalized).await?;
            return refuse("locked", user.id.clone()).await;
        };
        let ok = self.verify_secret(Some(&user.security_code_hash), &normalized).await? && !normalized.is_empty();
        if !ok {
            self.record_outcome(&user, Secret::SecurityCode, reservation, false, origin).await?;
            return Err(ServiceError::AuthFailed);
        }
        let flow = self.open_flow_after(&user, Secret::SecurityCode, OtpPurpose::Recovery, origin).await?;
        Ok(FlowStarted { flow, methods: vec!["sms"], number: None })
    }

    /// Step two: the SMS OTP and the new password. Unlocks the user, clears its
    /// counters and ends every session it had.
    pub async fn complete_recovery(&self, handle: &str, code: &str, new: &str, origin: &Origin) -> ServiceResult<()> {
        let user = {
            let mut conn = self.store.conn().await?;
            let flow = sigillo_store::repo::flows::get(&mut conn, &super::login::flow_id(handle))
                .await?
                .ok_or(ServiceError::FlowOver)?;
            users::by_id(&mut conn, &flow.user_id).await?.ok_or(ServiceError::FlowOver)?
        };
        // The policy is checked before the code is spent, so a rejected password costs no try.
        self.check_new_password(&user, new)?;
        let (_, user) = self.verify_flow_otp(handle, OtpPurpose::Recovery, code, origin).await?;
        let hash = self.hash_secret(new).await?;
        let now = self.now();
        let was_locked = user.status == UserStatus::Locked;
        let status = if user.status == UserStatus::Blocked { UserStatus::Blocked } else { UserStatus::Active };
        let mut tx = self.store.begin().await?;
        users::set_password(&mut tx, &user.id, &hash, false, status, now.0).await?;
        attempts::reset_all(&mut tx, &user.id).await?;
        sessions::end_all_for_user(&mut tx, &user.id, "recovery", now.0).await?;
        self.queue_sms(&mut tx, &user.phone, &texts::password_changed_sms(), now).await?;
        if let Some(email) = &user.email {
            let mail = texts::password_changed_email();
            self.queue_email(&mut tx, email, &mail.subject, &mail.body, now).await?;
        }
        let actor = Actor::User(user.id.clone());
        if was_locked {
            audit(&mut tx, now, &actor, "user.unlocked", &user.id, origin, json!({ "by": "security_code" })).await?;
        }
        audit(&mut tx, now, &actor, "recovery.completed", &user.id, origin, json!({})).await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }
}
