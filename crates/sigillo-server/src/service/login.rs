//! Login: user code or alias + password, then a second factor, then a session.
//!
//! The second factor is the bound phone's approval (push with number matching), the
//! app's offline login OTP, or an SMS OTP to the certified phone (possession of the SIM)
//! for customers without the app (and, where the bank allows it, for everyone). A flow
//! is identified by a random handle the client holds;
//! the store keeps only its digest. Every failure, whatever its cause, is the same
//! [`ServiceError::AuthFailed`] (P9); the cause goes to the audit trail.

use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::events::Topic;
use crate::notify::texts::{self, OtpPurpose};
use serde_json::json;
use sigillo_core::attempts::Secret;
use sigillo_core::device::matching;
use sigillo_core::device::offline::OfflinePurpose;
use sigillo_core::oath::totp;
use sigillo_core::time::UnixMillis;
use sigillo_core::{identity, sms_otp, token};
use sigillo_store::repo::bindings::{self, Binding};
use sigillo_store::repo::flows::{self, Flow};
use sigillo_store::repo::operations;
use sigillo_store::repo::users::{self, LoginUser, User, UserStatus};
use std::time::Duration;

/// The answer to a correct password: the flow to finish with a second factor.
#[derive(Debug)]
pub struct FlowStarted {
    pub flow: String,
    /// `push`, `otp` (the app's login OTP), `sms`.
    pub methods: Vec<&'static str>,
    /// Number matching: the number the customer picks on the phone.
    pub number: Option<u8>,
}

#[derive(Debug)]
pub struct OtpSent {
    /// The certified phone, masked.
    pub to: String,
    pub sends_left: u32,
}

/// A session handed out once a login flow is approved.
#[derive(Debug)]
pub struct Grant {
    pub token: String,
    pub must_change_password: bool,
    /// A former hardware-token customer signed in with an SMS code, no phone bound: show
    /// the page that recommends the app (DESIGN flow 10).
    pub recommend_app: bool,
}

#[derive(Debug)]
pub struct FlowStatus {
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: &'static str,
    pub grant: Option<Grant>,
}

/// A login flow as a waiting page sees it ([`Services::peek_login`]).
#[derive(Debug)]
pub struct LoginPeek {
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: &'static str,
    /// Why it was rejected, when the page may say: `wrong_number`.
    pub reason: Option<&'static str>,
    /// The number the page shows (number matching), when a login was pushed.
    pub number: Option<u8>,
    /// As in [`FlowStarted::methods`].
    pub methods: Vec<&'static str>,
}

const LOGIN: OfflinePurpose = OfflinePurpose::Login;

/// The store's key for a flow handle.
pub fn flow_id(handle: &str) -> String {
    hex::encode(token::digest(handle))
}

impl Services {
    /// Step one: the password. Starts a flow on success.
    ///
    /// The hot path is two round trips to the database before the hash (the user with
    /// whether a phone can take the login, then the attempt's reservation, committed: P2)
    /// and one transaction after it (bench/login).
    pub async fn start_login(&self, username: &str, password: &str, origin: &Origin) -> ServiceResult<FlowStarted> {
        // A login needs the SMS code as much as the password: a lock on either refuses it.
        let refused = |u: &User| matches!(u.status, UserStatus::Locked | UserStatus::Blocked);
        // One pooled connection for both: each checkout costs a round trip to SQLite's
        // worker thread when it goes back to the pool.
        let (found, reservation) = {
            let mut conn = self.store.conn().await?;
            let found = users::for_login(&mut conn, username).await?;
            let reservation = match &found {
                Some(f) if !refused(&f.user) => {
                    self.reserve_in(&mut conn, &f.user, Secret::Password, Some(Secret::SmsOtp)).await?
                }
                _ => None,
            };
            (found, reservation)
        };
        let Some(LoginUser { user, has_usable_phone }) = found else {
            self.verify_secret(None, password).await?;
            self.login_failed(None, "unknown_user", origin).await?;
            return Err(ServiceError::AuthFailed);
        };
        let Some(reservation) = reservation else {
            if !refused(&user) {
                self.refused_locked(&user, Secret::Password, origin).await?;
            }
            self.verify_secret(None, password).await?;
            self.login_failed(Some(&user), "locked", origin).await?;
            return Err(ServiceError::AuthFailed);
        };
        if !self.verify_secret(Some(&user.password_hash), password).await? {
            self.record_outcome(&user, Secret::Password, reservation, false, origin).await?;
            self.metrics.logins.with_label_values(&["failure"]).inc();
            return Err(ServiceError::AuthFailed);
        }
        let (flow, number) = self.open_login_flow(&user, has_usable_phone, origin).await?;
        let methods = match number {
            Some(_) if self.cfg.operations.sms_for_app_users => vec!["push", "otp", "sms"],
            Some(_) => vec!["push", "otp"],
            None => vec!["sms"],
        };
        Ok(FlowStarted { flow, methods, number })
    }

    /// The password just verified, in one transaction (one commit): its count starts
    /// again, the flow opens and, if `has_phone` said a phone could take it before the
    /// hash and one still can, the login is pushed to the phones. Returns the flow's
    /// handle and the number the page shows.
    async fn open_login_flow(
        &self,
        user: &User,
        has_phone: bool,
        origin: &Origin,
    ) -> ServiceResult<(String, Option<u8>)> {
        let now = self.now();
        let purpose = OtpPurpose::Login;
        // The counter's reset is the first statement: a write.
        let mut tx = self.store.begin_writing().await?;
        sigillo_store::repo::attempts::succeed(&mut tx, &user.id, Secret::Password, now.0).await?;
        let handle = self.insert_flow(&mut tx, user, purpose, now).await?;
        let pushed =
            if has_phone { self.push_login_in(&mut tx, user, &flow_id(&handle), origin, now).await? } else { None };
        // Audit last (see `record_outcome`).
        self.audit_flow_started(&mut tx, user, purpose, origin, now).await?;
        if let Some((op, _)) = &pushed {
            audit(
                &mut tx,
                now,
                &Actor::User(user.id.clone()),
                "operation.created",
                &user.id,
                origin,
                json!({ "operation": op, "kind": matching::LOGIN_KIND }),
            )
            .await?;
        }
        sigillo_store::commit(tx).await?;
        if pushed.is_some() {
            self.events.publish(Topic::User(user.id.clone())).await;
        }
        Ok((handle, pushed.map(|(_, number)| number)))
    }

    async fn login_failed(&self, user: Option<&User>, reason: &str, origin: &Origin) -> ServiceResult<()> {
        self.metrics.logins.with_label_values(&["failure"]).inc();
        let mut tx = self.store.begin().await?;
        let subject = user.map(|u| u.id.as_str()).unwrap_or_default();
        audit(&mut tx, self.now(), &Actor::Anonymous, "login.failed", subject, origin, json!({ "reason": reason }))
            .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Creates a pending flow for `user` and returns its handle.
    pub(crate) async fn create_flow(&self, user: &User, purpose: OtpPurpose, origin: &Origin) -> ServiceResult<String> {
        let mut tx = self.store.begin().await?;
        let handle = self.create_flow_in(&mut tx, user, purpose, origin).await?;
        sigillo_store::commit(tx).await?;
        Ok(handle)
    }

    /// The first factor (`secret`) just verified: its count starts again and the flow for
    /// the second factor opens, in one transaction (one commit on the hot path of a login).
    pub(crate) async fn open_flow_after(
        &self,
        user: &User,
        secret: Secret,
        purpose: OtpPurpose,
        origin: &Origin,
    ) -> ServiceResult<String> {
        let mut tx = self.store.begin().await?;
        sigillo_store::repo::attempts::succeed(&mut tx, &user.id, secret, self.now().0).await?;
        let handle = self.create_flow_in(&mut tx, user, purpose, origin).await?;
        sigillo_store::commit(tx).await?;
        Ok(handle)
    }

    async fn create_flow_in(
        &self,
        tx: &mut sigillo_store::Conn,
        user: &User,
        purpose: OtpPurpose,
        origin: &Origin,
    ) -> ServiceResult<String> {
        let now = self.now();
        let handle = self.insert_flow(tx, user, purpose, now).await?;
        self.audit_flow_started(tx, user, purpose, origin, now).await?;
        Ok(handle)
    }

    /// A new pending flow; returns its handle.
    async fn insert_flow(
        &self,
        tx: &mut sigillo_store::Conn,
        user: &User,
        purpose: OtpPurpose,
        now: UnixMillis,
    ) -> ServiceResult<String> {
        let handle = token::generate(&mut rand::rngs::OsRng);
        let expires = now.plus(Duration::from_secs(self.cfg.security.login_flow_secs));
        flows::create(tx, &flow_id(&handle), &user.id, purpose.as_str(), now.0, expires.0).await?;
        Ok(handle)
    }

    async fn audit_flow_started(
        &self,
        tx: &mut sigillo_store::Conn,
        user: &User,
        purpose: OtpPurpose,
        origin: &Origin,
        now: UnixMillis,
    ) -> ServiceResult<()> {
        let action = format!("{}.started", purpose.as_str());
        audit(tx, now, &Actor::User(user.id.clone()), &action, &user.id, origin, json!({})).await
    }

    /// Loads a pending, unexpired flow of the given purpose.
    async fn pending_flow(&self, handle: &str, purpose: OtpPurpose) -> ServiceResult<(Flow, User)> {
        let mut conn = self.store.conn().await?;
        let flow = flows::get(&mut conn, &flow_id(handle)).await?.ok_or(ServiceError::FlowOver)?;
        if flow.purpose != purpose.as_str() || flow.status != "pending" || flow.expires_at <= self.now().0 {
            return Err(ServiceError::FlowOver);
        }
        let user = users::by_id(&mut conn, &flow.user_id).await?.ok_or(ServiceError::FlowOver)?;
        Ok((flow, user))
    }

    /// Sends (or sends again) the flow's SMS OTP to the certified phone. A new code
    /// replaces the old one; the failure count is the user's and is not reset (P2).
    pub async fn send_flow_otp(&self, handle: &str, purpose: OtpPurpose, origin: &Origin) -> ServiceResult<OtpSent> {
        let (flow, user) = self.pending_flow(handle, purpose).await?;
        let now = self.now();
        let code = sms_otp::generate(&mut rand::rngs::OsRng);
        let digest = sms_otp::digest(&self.otp_key, &flow.id, &code);
        let ttl = self.cfg.security.otp_ttl_secs;
        let max = self.cfg.security.otp_max_sends;
        let mut tx = self.store.begin().await?;
        if !flows::set_otp(&mut tx, &flow.id, &digest, now.plus(Duration::from_secs(ttl)).0, i64::from(max), now.0)
            .await?
        {
            return Err(ServiceError::TooManyCodes);
        }
        self.queue_sms(&mut tx, &user.phone, &texts::otp_sms(purpose, &code, ttl.div_ceil(60)), now).await?;
        audit(
            &mut tx,
            now,
            &Actor::User(user.id.clone()),
            "otp.sent",
            &user.id,
            origin,
            json!({
                "purpose": purpose.as_str(), "channel_to": "sms", "send": flow.otp_sends + 1,
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.metrics.otp_sent.with_label_values(&["sms"]).inc();
        let sent = u32::try_from(flow.otp_sends + 1).unwrap_or(max);
        Ok(OtpSent { to: identity::mask_phone(&user.phone), sends_left: max.saturating_sub(sent) })
    }

    /// Checks the flow's SMS OTP, counted against the user's limit. On success the flow
    /// is approved (once: a replay or a concurrent duplicate fails, P8) and the phone
    /// counts as certified, since the customer has just proved they hold it.
    pub(crate) async fn verify_flow_otp(
        &self,
        handle: &str,
        purpose: OtpPurpose,
        code: &str,
        origin: &Origin,
    ) -> ServiceResult<(Flow, User)> {
        let (flow, user) = self.pending_flow(handle, purpose).await.map_err(|_| ServiceError::AuthFailed)?;
        let secret = if purpose == OtpPurpose::Recovery { Secret::RecoveryOtp } else { Secret::SmsOtp };
        let Some(reservation) = self.reserve_attempt(&user, secret, origin).await? else {
            // Refused: the code is locked, or the limit is taken for now by attempts still in
            // flight (20 concurrent submissions of one code). Only a lock ends the flow: the
            // attempts in flight may hold the right code.
            let locked = {
                let mut conn = self.store.conn().await?;
                sigillo_store::repo::attempts::get(&mut conn, &user.id, secret).await?.is_locked(self.now().0)
            };
            if locked {
                self.fail_flow(&flow, "locked").await?;
            }
            return Err(ServiceError::AuthFailed);
        };
        let digest = sms_otp::digest(&self.otp_key, &flow.id, code);
        let now = self.now();
        // The digest is keyed (HMAC), so comparing it in SQL leaks nothing an attacker can use.
        let approved = {
            let mut tx = self.store.begin().await?;
            let ok = flows::approve_with_otp(&mut tx, &flow.id, &digest, now.0).await?;
            if ok && !user.phone_certified && users::certify_phone(&mut tx, &user.id, &user.phone, now.0).await? {
                audit(&mut tx, now, &Actor::User(user.id.clone()), "phone.certified", &user.id, origin, json!({}))
                    .await?;
            }
            sigillo_store::commit(tx).await?;
            ok
        };
        let lock = self.record_outcome(&user, secret, reservation, approved, origin).await?;
        if !approved {
            if lock.is_some() {
                self.fail_flow(&flow, "locked").await?;
            }
            return Err(ServiceError::AuthFailed);
        }
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            now,
            &Actor::User(user.id.clone()),
            &format!("{}.second_factor_ok", purpose.as_str()),
            &user.id,
            origin,
            json!({ "method": "sms" }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok((flow, user))
    }

    async fn fail_flow(&self, flow: &Flow, reason: &str) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if flows::transition(&mut tx, &flow.id, "pending", "rejected", now.0).await? {
            audit(
                &mut tx,
                now,
                &Actor::System,
                "flow.rejected",
                &flow.user_id,
                &Origin::internal(),
                json!({ "reason": reason, "purpose": flow.purpose }),
            )
            .await?;
        }
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Step two of a login: the app's login OTP or the SMS OTP. Returns the session at
    /// once. With a bound phone a 6-digit code is first tried as a login OTP (uncounted);
    /// if no phone made it, it counts as a wrong PIN on each phone unless an SMS was sent
    /// for this flow, in which case it is checked (and counted) as that SMS code.
    pub async fn submit_login_otp(&self, handle: &str, code: &str, origin: &Origin) -> ServiceResult<Grant> {
        let (flow, user) = self.pending_flow(handle, OtpPurpose::Login).await.map_err(|_| ServiceError::AuthFailed)?;
        let candidates = self.usable_bindings(&user.id).await?;
        let method = if candidates.is_empty() {
            self.verify_flow_otp(handle, OtpPurpose::Login, code, origin).await?;
            "sms"
        } else {
            let now = self.now();
            let step = std::sync::OnceLock::new();
            let check = |key: &[u8; 32]| match totp::LOGIN.verify(key, now, code, None) {
                Some(s) => {
                    step.get_or_init(|| s);
                    true
                }
                None => false,
            };
            if flow.otp_sends > 0 && self.offline_match(&candidates, LOGIN, &check)?.is_none() {
                self.verify_flow_otp(handle, OtpPurpose::Login, code, origin).await?;
                "sms"
            } else {
                let binding = self.check_offline_code(&user, &candidates, LOGIN, &check, origin).await?;
                self.accept_login_otp(&flow, &user, &binding, step.get().copied(), origin).await?;
                "login_otp"
            }
        };
        // The session is claimed before anyone is woken: a stream waiting on this flow
        // must not take the session this request answers with.
        let grant = self.login_status(handle, origin).await?.grant;
        self.close_login_operation(&flow.id, method).await?;
        let mut grant = grant.ok_or(ServiceError::AuthFailed)?;
        grant.recommend_app = user.recommend_app && candidates.is_empty();
        Ok(grant)
    }

    /// A login OTP a binding made: its time step is accepted once (P8), then the flow is
    /// approved.
    async fn accept_login_otp(
        &self,
        flow: &Flow,
        user: &User,
        binding: &Binding,
        step: Option<u64>,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let now = self.now();
        let step = step.and_then(|s| i64::try_from(s).ok()).ok_or(ServiceError::AuthFailed)?;
        let mut tx = self.store.begin().await?;
        let fresh = bindings::accept_login_otp_step(&mut tx, &binding.id, step).await?;
        let approved = fresh && flows::transition(&mut tx, &flow.id, "pending", "approved", now.0).await?;
        let action = if approved { "login.second_factor_ok" } else { "login_otp.replayed" };
        audit(
            &mut tx,
            now,
            &Actor::User(user.id.clone()),
            action,
            &user.id,
            origin,
            json!({ "method": "login_otp", "binding": binding.id }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        if approved { Ok(()) } else { Err(ServiceError::AuthFailed) }
    }

    /// The login was approved another way (code or SMS): its pushed operation, if any,
    /// leaves the phones' lists.
    async fn close_login_operation(&self, flow_id: &str, method: &str) -> ServiceResult<()> {
        let now = self.now();
        let op = {
            let mut conn = self.store.conn().await?;
            operations::by_flow(&mut conn, flow_id).await?
        };
        let Some(op) = op else {
            self.events.publish(Topic::Flow(flow_id.to_owned())).await;
            return Ok(());
        };
        let mut conn = self.store.conn().await?;
        operations::decide(&mut conn, &op.id, "approved", None, Some(method), now.0).await?;
        drop(conn);
        self.operation_changed(&op).await;
        Ok(())
    }

    /// Where a login flow stands. The first call after approval claims the session
    /// (exactly once); later calls see `approved` without a token.
    pub async fn login_status(&self, handle: &str, origin: &Origin) -> ServiceResult<FlowStatus> {
        let now = self.now();
        let id = flow_id(handle);
        let flow = {
            let mut conn = self.store.conn().await?;
            flows::get(&mut conn, &id).await?.ok_or(ServiceError::NotFound)?
        };
        if flow.purpose != OtpPurpose::Login.as_str() {
            return Err(ServiceError::NotFound);
        }
        let status = match flow.status.as_str() {
            "pending" if flow.expires_at <= now.0 => "expired",
            "pending" => "pending",
            "approved" | "consumed" => "approved",
            _ => "rejected",
        };
        if flow.status != "approved" {
            return Ok(FlowStatus { status, grant: None });
        }
        let mut tx = self.store.begin().await?;
        if !flows::transition(&mut tx, &id, "approved", "consumed", now.0).await? {
            return Ok(FlowStatus { status, grant: None });
        }
        let user = users::by_id(&mut tx, &flow.user_id).await?.ok_or(ServiceError::NotFound)?;
        let grant = self.open_session(&mut tx, &user, origin).await?;
        sigillo_store::commit(tx).await?;
        self.metrics.logins.with_label_values(&["success"]).inc();
        Ok(FlowStatus { status, grant: Some(grant) })
    }

    /// Where a login flow stands, for a page that waits on it: like [`Self::login_status`]
    /// but it never claims the session (the page's own navigation does), and it also
    /// gives what the page shows. `reason` is `wrong_number` when the phone picked another
    /// number than the page showed. Unknown flows and other purposes are `NotFound`.
    pub async fn peek_login(&self, handle: &str) -> ServiceResult<LoginPeek> {
        let now = self.now();
        let id = flow_id(handle);
        let mut conn = self.store.conn().await?;
        let flow = flows::get(&mut conn, &id).await?.ok_or(ServiceError::NotFound)?;
        if flow.purpose != OtpPurpose::Login.as_str() {
            return Err(ServiceError::NotFound);
        }
        let op = operations::by_flow(&mut conn, &id).await?;
        drop(conn);
        let status = match flow.status.as_str() {
            "pending" if flow.expires_at <= now.0 => "expired",
            "pending" => "pending",
            "approved" | "consumed" => "approved",
            _ => "rejected",
        };
        let reason = op.as_ref().filter(|o| status == "rejected" && o.status == "failed").map(|_| "wrong_number");
        let number = op.as_ref().and_then(|o| o.match_number).and_then(|n| u8::try_from(n).ok());
        let methods = match number {
            Some(_) if self.cfg.operations.sms_for_app_users => vec!["push", "otp", "sms"],
            Some(_) => vec!["push", "otp"],
            None => vec!["sms"],
        };
        Ok(LoginPeek { status, reason, number, methods })
    }

    /// A new session for `user`, limited to the password change while the password is
    /// an envelope's initial one.
    pub(crate) async fn open_session(
        &self,
        tx: &mut sigillo_store::Conn,
        user: &User,
        origin: &Origin,
    ) -> ServiceResult<Grant> {
        let now = self.now();
        let token = token::generate(&mut rand::rngs::OsRng);
        let must_change = user.password_initial || user.status == UserStatus::MustChangePassword;
        let scope = if must_change { super::session::SCOPE_PASSWORD_ONLY } else { super::session::SCOPE_FULL };
        let session_id =
            sigillo_store::repo::sessions::create(tx, &token::digest(&token), &user.id, scope, origin.channel, now.0)
                .await?;
        audit(
            tx,
            now,
            &Actor::User(user.id.clone()),
            "login.succeeded",
            &user.id,
            origin,
            json!({ "session": session_id, "scope": scope }),
        )
        .await?;
        Ok(Grant { token, must_change_password: must_change, recommend_app: false })
    }
}
