//! The activation of an acquired bank's customer (DESIGN flow 10, issue 6; the seed guides
//! "Attivazione Internet Banking"): the bank → the old customer code and password → an SMS
//! code to the certified phone → the phone confirmed and the email chosen → the email
//! validated by a link → a new password (and an alias) → the new user code and a security
//! code; a confirmation email. The new user exists, and the legacy credential is consumed,
//! only at the end, in one transaction: an abandoned activation can start again, and of
//! two racing ones exactly one finishes (P8).
//!
//! Every step is attempt-limited (P2): the old password per credential (subject
//! `legacy:BANK:CODE`, the lockout policy, alerts by SMS to the certified phone), the SMS
//! code per activation and per credential. Every failure of the first two steps is the
//! same [`ServiceError::AuthFailed`] (P9). Before the bank's opening date nothing is
//! looked at: the answer is the date.

use super::login::flow_id;
use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::notify::texts;
use serde::Serialize;
use serde_json::json;
use sigillo_core::attempts::Secret;
use sigillo_core::legacy::LegacyHash;
use sigillo_core::{identity, security_code, sms_otp, token};
use sigillo_store::StoreError;
use sigillo_store::repo::attempts;
use sigillo_store::repo::legacy::{self, Activation, LegacyCredential};
use sigillo_store::repo::users::{self, NewUser, User, UserStatus};
use std::time::Duration;

/// How long an activation may take, from the old password to the new one.
const ACTIVATION_SECS: u64 = 1800;

/// Where an activation stands, for its pages.
#[derive(Clone, Debug, Serialize)]
pub struct ActivationView {
    pub bank: String,
    /// `otp`, `confirm`, `email`, `password`, `done` or `failed`.
    pub step: String,
    /// The certified phone, masked.
    pub phone: String,
    /// The email to validate (in full: the customer has passed SCA), once chosen or imported.
    pub email: Option<String>,
    pub email_verified: bool,
    /// The customer used a hardware token: SMS codes until a phone is bound.
    pub hardware_token: bool,
}

/// The end of an activation: what the customer keeps.
#[derive(Clone, Debug, Serialize)]
pub struct Activated {
    pub user_code: String,
    pub alias: Option<String>,
    /// The security code (20 characters) that recovery asks for: shown once.
    pub security_code: String,
    pub hardware_token: bool,
}

/// An acquired bank as the first page lists it.
#[derive(Clone, Debug, Serialize)]
pub struct BankChoice {
    pub id: String,
    pub name: String,
    pub credentials_label: String,
    /// Activation is open now.
    pub open: bool,
    /// When it opens ("2026-11-28"), shown until then.
    pub opens_on: String,
    pub closed: bool,
}

fn subject(bank_id: &str, code: &str) -> String {
    super::legacy::legacy_subject(bank_id, code)
}

impl Services {
    /// The acquired banks and whether each is open now.
    pub fn activation_banks(&self) -> Vec<BankChoice> {
        let now = self.now().0;
        self.cfg
            .legacy
            .banks
            .iter()
            .map(|b| {
                let (opens, closes) = b.window().unwrap_or((i64::MAX, None));
                BankChoice {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    credentials_label: b.credentials_label.clone(),
                    open: now >= opens && closes.is_none_or(|c| now < c),
                    opens_on: b.opens_at.get(..10).unwrap_or_default().to_owned(),
                    closed: closes.is_some_and(|c| now >= c),
                }
            })
            .collect()
    }

    /// The bank if activation is open now; `NotYetOpen` with its date before, `FlowOver`
    /// after it closed.
    pub fn open_bank(&self, bank_id: &str) -> ServiceResult<BankChoice> {
        let bank = self.activation_banks().into_iter().find(|b| b.id == bank_id).ok_or(ServiceError::NotFound)?;
        if bank.closed {
            return Err(ServiceError::FlowOver);
        }
        if !bank.open {
            return Err(ServiceError::NotYetOpen(bank.opens_on));
        }
        Ok(bank)
    }

    /// Step one: the old customer code and password. On success the activation opens and
    /// its SMS code goes to the certified phone; returns the activation's handle.
    pub async fn start_activation(
        &self,
        bank_id: &str,
        code: &str,
        password: &str,
        origin: &Origin,
    ) -> ServiceResult<String> {
        self.open_bank(bank_id)?;
        let code = code.trim();
        let credential = {
            let mut conn = self.store.conn().await?;
            legacy::get(&mut conn, bank_id, code).await?.filter(|c| c.status == "pending")
        };
        let Some(credential) = credential else {
            self.verify_secret(None, password).await?;
            self.legacy_activation_refused(bank_id, None, "unknown_or_used", origin).await?;
            return Err(ServiceError::AuthFailed);
        };
        let limit = self.cfg.security.lockout.limit();
        let who = subject(bank_id, code);
        let reservation = {
            let mut conn = self.store.conn().await?;
            attempts::reserve_unless(&mut conn, &who, Secret::Password, Some(Secret::SmsOtp), limit, self.now().0)
                .await?
        };
        let Some(reservation) = reservation else {
            self.verify_secret(None, password).await?;
            self.legacy_activation_refused(bank_id, Some(code), "locked", origin).await?;
            return Err(ServiceError::AuthFailed);
        };
        let ok = self.verify_legacy_password(bank_id, &credential, password).await?;
        self.legacy_outcome(&credential, Secret::Password, reservation, ok, origin).await?;
        if !ok {
            return Err(ServiceError::AuthFailed);
        }
        let now = self.now();
        let handle = token::generate(&mut rand::rngs::OsRng);
        let expires = now.plus(Duration::from_secs(ACTIVATION_SECS)).0;
        let mut tx = self.store.begin().await?;
        legacy::create_activation(
            &mut tx,
            &flow_id(&handle),
            bank_id,
            code,
            credential.email.as_deref(),
            now.0,
            expires,
        )
        .await?;
        audit(&mut tx, now, &Actor::Anonymous, "activation.started", &who, origin, json!({})).await?;
        sigillo_store::commit(tx).await?;
        self.send_activation_otp(&handle, origin).await?;
        Ok(handle)
    }

    /// Checks the old password against the imported hash (sealed at rest), off the async
    /// threads: bcrypt and PBKDF2 cost milliseconds.
    async fn verify_legacy_password(&self, bank_id: &str, c: &LegacyCredential, password: &str) -> ServiceResult<bool> {
        let aad = super::legacy::hash_aad(bank_id, &c.legacy_code);
        let opened = self
            .kek
            .open(aad.as_bytes(), &c.hash_sealed)
            .map_err(|_| ServiceError::Internal(anyhow::anyhow!("a legacy hash does not open")))?;
        let encoded = String::from_utf8(opened.to_vec())
            .map_err(|_| ServiceError::Internal(anyhow::anyhow!("a legacy hash is not text")))?;
        let hash = LegacyHash::parse(&encoded).map_err(|e| ServiceError::Internal(anyhow::anyhow!("{e}")))?;
        let password = zeroize::Zeroizing::new(password.to_owned());
        tokio::task::spawn_blocking(move || hash.verify(&password))
            .await
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("legacy hash check: {e}")))
    }

    /// Records an attempt at a credential's secret: the count starts again on success; on
    /// the limit the credential locks under the lockout policy and its phone hears of it.
    async fn legacy_outcome(
        &self,
        c: &LegacyCredential,
        secret: Secret,
        reservation: attempts::Reservation,
        ok: bool,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let now = self.now();
        let who = subject(&c.bank_id, &c.legacy_code);
        let policy = self.cfg.security.lockout;
        let mut tx = self.store.begin().await?;
        if ok {
            attempts::succeed(&mut tx, &who, secret, now.0).await?;
            sigillo_store::commit(tx).await?;
            return Ok(());
        }
        self.metrics.auth_failures.with_label_values(&[secret.as_str()]).inc();
        if reservation.failures >= policy.limit() {
            let lock = policy.lock_after(reservation.lock_count, now);
            if attempts::lock(&mut tx, &who, secret, policy.limit(), lock, now.0).await? {
                let text = match lock {
                    sigillo_core::attempts::Lock::Temporary { until, permanent_after_next } => {
                        let minutes = u64::try_from((until.0 - now.0).max(0) / 60_000).unwrap_or(0).max(1);
                        texts::activation_suspended_sms(minutes, permanent_after_next)
                    }
                    sigillo_core::attempts::Lock::Permanent => texts::activation_blocked_sms(),
                };
                self.queue_sms(&mut tx, &c.phone, &text, now).await?;
                audit(
                    &mut tx,
                    now,
                    &Actor::System,
                    "activation.locked",
                    &who,
                    origin,
                    json!({
                        "secret": secret.as_str(),
                    }),
                )
                .await?;
            }
        }
        audit(
            &mut tx,
            now,
            &Actor::Anonymous,
            "activation.failed",
            &who,
            origin,
            json!({
                "secret": secret.as_str(), "consecutive_failures": reservation.failures,
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    async fn legacy_activation_refused(
        &self,
        bank_id: &str,
        code: Option<&str>,
        reason: &str,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let who = code.map(|c| subject(bank_id, c)).unwrap_or_default();
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            self.now(),
            &Actor::Anonymous,
            "activation.refused",
            &who,
            origin,
            json!({
                "bank": bank_id, "reason": reason,
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// The activation and its credential, if the activation is live.
    async fn live_activation(&self, handle: &str) -> ServiceResult<(Activation, LegacyCredential)> {
        let mut conn = self.store.conn().await?;
        let act = legacy::activation(&mut conn, &flow_id(handle)).await?.ok_or(ServiceError::FlowOver)?;
        if act.expires_at <= self.now().0 || matches!(act.step.as_str(), "done" | "failed") {
            return Err(ServiceError::FlowOver);
        }
        let c = legacy::get(&mut conn, &act.bank_id, &act.legacy_code).await?.ok_or(ServiceError::FlowOver)?;
        if c.status != "pending" {
            // Another activation used the credential meanwhile: this one is over.
            legacy::fail_activation(&mut conn, &act.id).await?;
            return Err(ServiceError::FlowOver);
        }
        Ok((act, c))
    }

    /// Where an activation stands.
    pub async fn activation_view(&self, handle: &str) -> ServiceResult<ActivationView> {
        let mut conn = self.store.conn().await?;
        let act = legacy::activation(&mut conn, &flow_id(handle)).await?.ok_or(ServiceError::FlowOver)?;
        let c = legacy::get(&mut conn, &act.bank_id, &act.legacy_code).await?.ok_or(ServiceError::FlowOver)?;
        let expired = act.step != "done" && (act.expires_at <= self.now().0 || c.status != "pending");
        Ok(ActivationView {
            bank: act.bank_id,
            step: if expired { "failed".into() } else { act.step },
            phone: identity::mask_phone(&c.phone),
            email: act.email,
            email_verified: act.email_verified,
            hardware_token: c.token == "hardware",
        })
    }

    /// Sends (again) the activation's SMS code to the certified phone (at most
    /// `otp_max_sends`).
    pub async fn send_activation_otp(&self, handle: &str, origin: &Origin) -> ServiceResult<()> {
        let (act, c) = self.live_activation(handle).await?;
        let now = self.now();
        let code = sms_otp::generate(&mut rand::rngs::OsRng);
        let digest = sms_otp::digest(&self.otp_key, &act.id, &code);
        let ttl = self.cfg.security.otp_ttl_secs;
        let max = i64::from(self.cfg.security.otp_max_sends);
        let mut tx = self.store.begin().await?;
        if !legacy::set_activation_otp(&mut tx, &act.id, &digest, now.plus(Duration::from_secs(ttl)).0, max, now.0)
            .await?
        {
            return Err(if act.step == "otp" { ServiceError::TooManyCodes } else { ServiceError::FlowOver });
        }
        let bank = self.legacy_bank(&act.bank_id)?.name.clone();
        self.queue_sms(&mut tx, &c.phone, &texts::activation_otp_sms(&code, &bank, ttl.div_ceil(60)), now).await?;
        audit(
            &mut tx,
            now,
            &Actor::Anonymous,
            "otp.sent",
            &subject(&act.bank_id, &act.legacy_code),
            origin,
            json!({
                "purpose": "activation", "channel_to": "sms", "send": act.otp_sends + 1,
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.metrics.otp_sent.with_label_values(&["sms"]).inc();
        Ok(())
    }

    /// Step two: the SMS code (once, P8; wrong ones counted per activation and per
    /// credential). Every failure is `AuthFailed`.
    pub async fn submit_activation_otp(&self, handle: &str, code: &str, origin: &Origin) -> ServiceResult<()> {
        let (act, c) = self.live_activation(handle).await.map_err(|_| ServiceError::AuthFailed)?;
        let limit = self.cfg.security.lockout.limit();
        let reservation = {
            let mut conn = self.store.conn().await?;
            let who = subject(&act.bank_id, &act.legacy_code);
            attempts::reserve(&mut conn, &who, Secret::SmsOtp, limit, self.now().0).await?
        };
        let Some(reservation) = reservation else {
            let mut conn = self.store.conn().await?;
            legacy::fail_activation(&mut conn, &act.id).await?;
            return Err(ServiceError::AuthFailed);
        };
        let digest = sms_otp::digest(&self.otp_key, &act.id, code.trim());
        let ok = {
            let mut conn = self.store.conn().await?;
            let ok = legacy::accept_activation_otp(&mut conn, &act.id, &digest, self.now().0).await?;
            if !ok {
                legacy::fail_activation_otp(&mut conn, &act.id, i64::from(limit)).await?;
            }
            ok
        };
        self.legacy_outcome(&c, Secret::SmsOtp, reservation, ok, origin).await?;
        if ok { Ok(()) } else { Err(ServiceError::AuthFailed) }
    }

    /// Step three: the customer confirms the certified phone and chooses the email to
    /// validate (the imported one by default); the link goes out. Again for a resend or
    /// another address.
    pub async fn confirm_activation(&self, handle: &str, email: Option<&str>, origin: &Origin) -> ServiceResult<()> {
        let (act, _) = self.live_activation(handle).await?;
        if !matches!(act.step.as_str(), "confirm" | "email") {
            return Err(ServiceError::FlowOver);
        }
        let email = email.map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).or(act.email.clone());
        let Some(email) = email else { return Err(ServiceError::Invalid("email_required")) };
        let email = identity::normalize_email(&email).map_err(|_| ServiceError::Invalid("email"))?;
        let now = self.now();
        let link_token = token::generate(&mut rand::rngs::OsRng);
        let mut tx = self.store.begin().await?;
        if !legacy::set_activation_email(&mut tx, &act.id, &email, &token::digest(&link_token), now.0).await? {
            return Err(ServiceError::FlowOver);
        }
        let link = format!("{}/activation/email?token={link_token}", self.cfg.public_url.trim_end_matches('/'));
        let mail = texts::email_validation(&link);
        self.queue_email(&mut tx, &email, &mail.subject, &mail.body, now).await?;
        let who = subject(&act.bank_id, &act.legacy_code);
        audit(
            &mut tx,
            now,
            &Actor::Anonymous,
            "activation.phone_confirmed",
            &who,
            origin,
            json!({
                "email_to": identity::mask_email(&email),
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// The email's link: validates the activation's address, once.
    pub async fn verify_activation_email(&self, link_token: &str, origin: &Origin) -> ServiceResult<()> {
        let digest = token::digest(link_token);
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let act = legacy::activation_by_email_token(&mut tx, &digest).await?.ok_or(ServiceError::FlowOver)?;
        if !legacy::verify_activation_email(&mut tx, &digest, now.0).await? {
            return Err(ServiceError::FlowOver);
        }
        let who = subject(&act.bank_id, &act.legacy_code);
        audit(&mut tx, now, &Actor::Anonymous, "activation.email_verified", &who, origin, json!({})).await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// The end: the new password (the bank's policy) and an optional alias. Creates the
    /// user (phone certified, email validated), consumes the credential and sends the
    /// confirmation email, in one transaction.
    pub async fn complete_activation(
        &self,
        handle: &str,
        new_password: &str,
        alias: Option<&str>,
        origin: &Origin,
    ) -> ServiceResult<Activated> {
        let (act, c) = self.live_activation(handle).await?;
        if act.step != "password" || !act.email_verified {
            return Err(ServiceError::FlowOver);
        }
        let email = act.email.clone().ok_or(ServiceError::FlowOver)?;
        let alias = alias.map(str::trim).filter(|a| !a.is_empty()).map(super::account::normalized_alias).transpose()?;
        if let Some((_, norm)) = &alias {
            let mut conn = self.store.conn().await?;
            if users::by_username(&mut conn, norm).await?.is_some() {
                return Err(ServiceError::Taken("alias"));
            }
        }
        let mut identity_parts = vec![act.legacy_code.as_str()];
        identity_parts.extend(alias.as_ref().map(|(a, _)| a.as_str()));
        self.cfg.security.password.check(new_password, &identity_parts).map_err(|e| ServiceError::Invalid(e.code()))?;
        let hardware = c.token == "hardware" && self.legacy_bank(&act.bank_id)?.hardware_token_sms;
        let code = security_code::generate(&mut rand::rngs::OsRng);
        let password_hash = self.hash_secret(new_password).await?;
        let code_hash = self.hash_secret(&code).await?;
        let now = self.now();
        for _ in 0..20 {
            let user_code = identity::generate_user_code(&mut rand::rngs::OsRng);
            let mut tx = self.store.begin().await?;
            let new = NewUser {
                user_code: &user_code,
                password_hash: &password_hash,
                security_code_hash: &code_hash,
                phone: &c.phone,
                email: Some(&email),
                status: UserStatus::Active,
            };
            let user: User = match users::insert(&mut tx, &new, now.0).await {
                Ok(user) => user,
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            users::mark_migrated(&mut tx, &user.id, hardware, now.0).await?;
            if let Some((shown, norm)) = &alias {
                users::set_alias(&mut tx, &user.id, Some((shown.as_str(), norm.as_str())), now.0).await?;
            }
            if !legacy::finish_activation(&mut tx, &act, &user.id, now.0).await? {
                // Another activation of this credential finished first.
                return Err(ServiceError::FlowOver);
            }
            let mail = texts::access_confirmed(&user_code, alias.as_ref().map(|(a, _)| a.as_str()));
            self.queue_email(&mut tx, &email, &mail.subject, &mail.body, now).await?;
            let actor = Actor::User(user.id.clone());
            audit(&mut tx, now, &actor, "activation.completed", &user.id, origin, json!({
                "legacy": subject(&act.bank_id, &act.legacy_code), "user_code": user_code, "hardware_token": hardware,
            }))
            .await?;
            sigillo_store::commit(tx).await?;
            return Ok(Activated {
                user_code,
                alias: alias.map(|(a, _)| a),
                security_code: code,
                hardware_token: hardware,
            });
        }
        Err(ServiceError::Internal(anyhow::anyhow!("no free user code after 20 draws")))
    }
}
