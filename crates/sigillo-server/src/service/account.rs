//! The customer's own account: first access, password change, alias, email validation.

use super::login::{FlowStarted, OtpSent, flow_id};
use super::session::{SCOPE_FULL, SessionCtx};
use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::notify::texts::{self, OtpPurpose};
use serde_json::json;
use sigillo_core::attempts::Secret;
use sigillo_core::{identity, token};
use sigillo_store::Conn;
use sigillo_store::repo::users::{self, User, UserStatus};
use sigillo_store::repo::{email_verifications, sessions};
use std::time::Duration;

impl Services {
    /// Checks a new password against the policy and the user's identity.
    pub(crate) fn check_new_password(&self, user: &User, new: &str) -> ServiceResult<()> {
        let mut identity = vec![user.user_code.as_str()];
        identity.extend(user.alias.as_deref());
        self.cfg.security.password.check(new, &identity).map_err(|e| ServiceError::Invalid(e.code()))
    }

    /// Verifies the current password of a logged-in user, counted like a login attempt.
    async fn verify_current_password(&self, user: &User, current: &str, origin: &Origin) -> ServiceResult<bool> {
        let Some(reservation) = self.reserve_attempt(user, Secret::Password, origin).await? else {
            return Ok(false);
        };
        let ok = self.verify_secret(Some(&user.password_hash), current).await?;
        self.record_outcome(user, Secret::Password, reservation, ok, origin).await?;
        Ok(ok)
    }

    /// First access: the envelope's initial password is replaced (the login just passed
    /// SCA: password + SMS OTP), an alias may be chosen, and the email validation link
    /// goes out. The session then becomes a full one.
    pub async fn complete_first_access(
        &self,
        ctx: &SessionCtx,
        current: &str,
        new: &str,
        alias: Option<&str>,
        origin: &Origin,
    ) -> ServiceResult<()> {
        if !ctx.must_change_password() {
            return Err(ServiceError::Forbidden);
        }
        let alias = alias.map(str::trim).filter(|a| !a.is_empty()).map(normalized_alias).transpose()?;
        let mut probe = ctx.user.clone();
        if let Some((shown, _)) = &alias {
            probe.alias = Some(shown.clone());
        }
        self.check_new_password(&probe, new)?;
        if new == current {
            return Err(ServiceError::Invalid("password_unchanged"));
        }
        if !self.verify_current_password(&ctx.user, current, origin).await? {
            return Err(ServiceError::AuthFailed);
        }
        let hash = self.hash_secret(new).await?;
        let now = self.now();
        let user = &ctx.user;
        let mut tx = self.store.begin().await?;
        if let Some((shown, norm)) = &alias {
            users::set_alias(&mut tx, &user.id, Some((shown, norm)), now.0).await?;
        }
        users::set_password(&mut tx, &user.id, &hash, false, UserStatus::Active, now.0).await?;
        sessions::set_scope(&mut tx, &ctx.session_id, SCOPE_FULL).await?;
        end_other_sessions(&mut tx, ctx, "password_changed", now.0).await?;
        if let (Some(email), false) = (&user.email, user.email_verified) {
            self.queue_email_validation(&mut tx, user, email).await?;
        }
        // Audit last (see `repo::audit::append`).
        if alias.is_some() {
            audit(&mut tx, now, &ctx.actor(), "alias.changed", &user.id, origin, json!({})).await?;
        }
        audit(&mut tx, now, &ctx.actor(), "password.changed", &user.id, origin, json!({ "first_access": true }))
            .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Writes a one-time validation link and the email that carries it.
    pub(crate) async fn queue_email_validation(&self, tx: &mut Conn, user: &User, email: &str) -> ServiceResult<()> {
        let now = self.now();
        let link_token = token::generate(&mut rand::rngs::OsRng);
        let expires = now.plus(Duration::from_secs(self.cfg.security.email_link_ttl_secs));
        email_verifications::create(tx, &token::digest(&link_token), &user.id, email, now.0, expires.0).await?;
        let link = format!("{}/email/verify?token={link_token}", self.cfg.public_url.trim_end_matches('/'));
        let mail = texts::email_validation(&link);
        self.queue_email(tx, email, &mail.subject, &mail.body, now).await?;
        audit(
            tx,
            now,
            &Actor::System,
            "email.validation_sent",
            &user.id,
            &Origin::internal(),
            json!({ "to": identity::mask_email(email) }),
        )
        .await?;
        Ok(())
    }

    /// Opens an email validation link (once). The customer then gets the confirmation
    /// that their access is active.
    pub async fn confirm_email(&self, link_token: &str, origin: &Origin) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (user_id, email) = email_verifications::consume(&mut tx, &token::digest(link_token), now.0)
            .await?
            .ok_or(ServiceError::FlowOver)?;
        let user = users::by_id(&mut tx, &user_id).await?.ok_or(ServiceError::FlowOver)?;
        if !users::verify_email(&mut tx, &user_id, &email, now.0).await? {
            return Err(ServiceError::FlowOver);
        }
        let mail = texts::access_confirmed(&user.user_code, user.alias.as_deref());
        self.queue_email(&mut tx, &email, &mail.subject, &mail.body, now).await?;
        audit(&mut tx, now, &Actor::User(user_id.clone()), "email.verified", &user_id, origin, json!({})).await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Sends a fresh validation link to the user's (unverified) address.
    pub async fn resend_email_validation(&self, ctx: &SessionCtx) -> ServiceResult<()> {
        let Some(email) = ctx.user.email.as_deref().filter(|_| !ctx.user.email_verified) else {
            return Err(ServiceError::Invalid("email_nothing_to_verify"));
        };
        let mut tx = self.store.begin().await?;
        self.queue_email_validation(&mut tx, &ctx.user, email).await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Starts a password change: an SMS OTP goes to the certified phone.
    pub async fn start_password_change(
        &self,
        ctx: &SessionCtx,
        origin: &Origin,
    ) -> ServiceResult<(FlowStarted, OtpSent)> {
        ctx.require_full()?;
        let flow = self.create_flow(&ctx.user, OtpPurpose::PasswordChange, origin).await?;
        let sent = self.send_flow_otp(&flow, OtpPurpose::PasswordChange, origin).await?;
        Ok((FlowStarted { flow, methods: vec!["sms"], number: None }, sent))
    }

    /// Changes the password of a full session: current password + SMS OTP of a flow this
    /// user started. Either being wrong gives the same failure (P9).
    pub async fn change_password(
        &self,
        ctx: &SessionCtx,
        current: &str,
        new: &str,
        flow: &str,
        code: &str,
        origin: &Origin,
    ) -> ServiceResult<()> {
        ctx.require_full()?;
        self.check_new_password(&ctx.user, new)?;
        if new == current {
            return Err(ServiceError::Invalid("password_unchanged"));
        }
        {
            let mut conn = self.store.conn().await?;
            let owned = sigillo_store::repo::flows::get(&mut conn, &flow_id(flow)).await?;
            if owned.is_none_or(|f| f.user_id != ctx.user.id) {
                return Err(ServiceError::AuthFailed);
            }
        }
        if !self.verify_current_password(&ctx.user, current, origin).await? {
            return Err(ServiceError::AuthFailed);
        }
        self.verify_flow_otp(flow, OtpPurpose::PasswordChange, code, origin).await?;
        let hash = self.hash_secret(new).await?;
        let now = self.now();
        let user = &ctx.user;
        let mut tx = self.store.begin().await?;
        users::set_password(&mut tx, &user.id, &hash, false, UserStatus::Active, now.0).await?;
        end_other_sessions(&mut tx, ctx, "password_changed", now.0).await?;
        self.queue_sms(&mut tx, &user.phone, &texts::password_changed_sms(), now).await?;
        if let Some(email) = &user.email {
            let mail = texts::password_changed_email();
            self.queue_email(&mut tx, email, &mail.subject, &mail.body, now).await?;
        }
        audit(&mut tx, now, &ctx.actor(), "password.changed", &user.id, origin, json!({ "first_access": false }))
            .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Sets or removes the alias (unique, case-insensitive).
    pub async fn set_alias(
        &self,
        ctx: &SessionCtx,
        alias: Option<&str>,
        origin: &Origin,
    ) -> ServiceResult<Option<String>> {
        ctx.require_full()?;
        let alias = alias.map(str::trim).filter(|a| !a.is_empty()).map(normalized_alias).transpose()?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        users::set_alias(&mut tx, &ctx.user.id, alias.as_ref().map(|(a, n)| (a.as_str(), n.as_str())), now.0).await?;
        audit(&mut tx, now, &ctx.actor(), "alias.changed", &ctx.user.id, origin, json!({ "removed": alias.is_none() }))
            .await?;
        sigillo_store::commit(tx).await?;
        Ok(alias.map(|(shown, _)| shown))
    }
}

/// The alias as typed (trimmed) and its normal form, or the rule it breaks.
pub(crate) fn normalized_alias(alias: &str) -> ServiceResult<(String, String)> {
    use identity::IdentityError as E;
    let norm = identity::normalize_alias(alias).map_err(|e| {
        ServiceError::Invalid(match e {
            E::AliasLength => "alias_length",
            E::AliasAllDigits => "alias_all_digits",
            _ => "alias_characters",
        })
    })?;
    Ok((alias.trim().to_owned(), norm))
}

async fn end_other_sessions(tx: &mut Conn, ctx: &SessionCtx, reason: &str, now: i64) -> ServiceResult<()> {
    sessions::end_others(tx, &ctx.user.id, &ctx.session_id, reason, now).await?;
    Ok(())
}
