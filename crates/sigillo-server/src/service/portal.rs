//! The card holders' portal ("Area Riservata", DESIGN flow 9; issue 5): for holders
//! without web banking, who manage their cards' Key6 there.
//!
//! - **Registration** ("Iscriviti"): the card data (PAN and expiry) → an SMS OTP to the
//!   card's 3-D Secure phone → a password → the UserID. Done again, it is the way back
//!   from a forgotten password or a locked user: same UserID, new password.
//! - **Forgotten UserID**: the card data → the UserID by SMS to the card's phone.
//! - **Login**: UserID + password → SMS OTP to that phone → a session of scope `portal`,
//!   which web banking refuses (and the portal refuses web banking's).
//!
//! The card data are no secret of the holder's alone, so they never open anything by
//! themselves: every answer to them is the same whether they matched a card or not (no
//! card-testing oracle, P9), and what they unlock goes only to the card's phone. Wrong
//! card data and wrong registration codes count together per card (`Secret::CardData`,
//! P2); right card data give their attempt back, and only a completed registration
//! starts the count again.

use super::login::{Grant, flow_id};
use super::session::SCOPE_PORTAL;
use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::notify::texts::{self, OtpPurpose};
use serde_json::json;
use sigillo_core::attempts::{Lock, Secret};
use sigillo_core::threeds::messages::{Pan, luhn_valid};
use sigillo_core::{identity, sms_otp, token};
use sigillo_store::repo::cards::{self, Card};
use sigillo_store::repo::users::{self, User, UserStatus};
use sigillo_store::repo::{attempts, flows, portal, sessions};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long a registration waits for its code and password.
const REGISTRATION_SECS: u64 = 600;

/// SMS that card data may make the portal send to one card's phone (registration codes,
/// UserIDs, notes) before it pauses for [`CARD_SMS_PAUSE_SECS`]: a stranger who knows a
/// card's data cannot flood its holder with messages.
const CARD_SMS_BUDGET: u32 = 5;
const CARD_SMS_PAUSE_SECS: u64 = 3600;

/// The card data as typed: the PAN (spaces allowed) and the expiry as printed on the card
/// (`MM/AA`, `MMAA` or `MM/AAAA`).
pub struct CardData<'a> {
    pub pan: &'a str,
    pub expiry: &'a str,
}

/// The card data, checked for shape: the PAN and the expiry as the store keeps it (YYMM).
struct TypedCard {
    pan: Pan,
    expiry: String,
}

impl CardData<'_> {
    fn parse(&self) -> ServiceResult<TypedCard> {
        let compact: String = self.pan.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        // A mistyped number (Luhn) is said at once: it says nothing about the bank's cards.
        let pan = Pan::parse(&compact).filter(|p| luhn_valid(p.expose())).ok_or(ServiceError::Invalid("card_pan"))?;
        let expiry = expiry_yymm(self.expiry).ok_or(ServiceError::Invalid("card_expiry"))?;
        Ok(TypedCard { pan, expiry })
    }
}

/// `MM/AA` (or `MMAA`, `MM/AAAA`) as printed on the card → `YYMM` as EMV and the store
/// keep it.
fn expiry_yymm(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '/' | '-')).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (month, year) = match digits.len() {
        4 => (&digits[..2], &digits[2..]),
        6 => (&digits[..2], &digits[4..]),
        _ => return None,
    };
    let m: u8 = month.parse().ok()?;
    (1..=12).contains(&m).then(|| format!("{year}{month}"))
}

/// A registration under way, as the next page needs it: the handle the browser keeps.
#[derive(Debug)]
pub struct RegistrationStarted {
    pub handle: String,
}

/// Who holds a card whose data were typed right.
enum Holder {
    Nobody,
    Portal(User),
    /// A web banking customer: the card is managed there, not in the portal.
    Banking,
}

impl Services {
    /// Finds the card the data describe, counting the attempt on the card. `None` for no
    /// card, wrong data or a card whose data are locked; the cause goes to the audit trail.
    async fn card_by_data(&self, data: &CardData<'_>, action: &str, origin: &Origin) -> ServiceResult<Option<Card>> {
        let typed = data.parse()?;
        let lookup = self.pan_lookup(typed.pan.expose());
        let now = self.now();
        let limit = self.cfg.security.lockout.limit();
        let (card, reservation) = {
            let mut conn = self.store.conn().await?;
            match cards::by_pan_lookup(&mut conn, &lookup).await? {
                Some(card) => {
                    let r = attempts::reserve(&mut conn, &card.id, Secret::CardData, limit, now.0).await?;
                    (Some(card), r)
                }
                None => (None, None),
            }
        };
        let refuse = |reason: &'static str, subject: String| async move {
            let mut tx = self.store.begin().await?;
            audit(&mut tx, now, &Actor::Anonymous, action, &subject, origin, json!({ "outcome": reason })).await?;
            sigillo_store::commit(tx).await?;
            Ok::<_, ServiceError>(None)
        };
        let Some(card) = card else { return refuse("unknown_card", String::new()).await };
        let Some(reservation) = reservation else { return refuse("locked", card.id.clone()).await };
        let expiry_ok = card.expiry.as_deref().is_some_and(|e| bool::from(e.as_bytes().ct_eq(typed.expiry.as_bytes())));
        if !expiry_ok {
            self.card_data_failed(&card, reservation.failures, reservation.lock_count, origin).await?;
            return refuse("wrong_data", card.id.clone()).await;
        }
        // Right data are half of the proof: the attempt is given back, and the count starts
        // again only once the card's phone has confirmed (a completed registration).
        let mut conn = self.store.conn().await?;
        attempts::release(&mut conn, &card.id, Secret::CardData, now.0).await?;
        Ok(Some(card))
    }

    /// A wrong card datum or registration code: on the limit the card's data lock, and the
    /// card's phone hears of it at once (P2, RTS art. 4(3)(b)).
    async fn card_data_failed(
        &self,
        card: &Card,
        failures: u32,
        lock_count: u32,
        origin: &Origin,
    ) -> ServiceResult<()> {
        let now = self.now();
        let policy = self.cfg.security.lockout;
        self.metrics.auth_failures.with_label_values(&[Secret::CardData.as_str()]).inc();
        let mut tx = self.store.begin().await?;
        if failures >= policy.limit() {
            let lock = policy.lock_after(lock_count, now);
            if attempts::lock(&mut tx, &card.id, Secret::CardData, policy.limit(), lock, now.0).await? {
                let (text, detail) = match lock {
                    Lock::Temporary { until, .. } => {
                        let minutes = u64::try_from((until.0 - now.0).max(0) / 60_000).unwrap_or(0).max(1);
                        (texts::card_data_locked_sms(&card.last4, Some(minutes)), json!({ "until": until.0 }))
                    }
                    Lock::Permanent => (texts::card_data_locked_sms(&card.last4, None), json!({ "permanent": true })),
                };
                self.queue_sms(&mut tx, &card.phone, &text, now).await?;
                audit(&mut tx, now, &Actor::System, "card_data.locked", &card.id, origin, detail).await?;
            }
        }
        audit(
            &mut tx,
            now,
            &Actor::Anonymous,
            "card_data.failed",
            &card.id,
            origin,
            json!({ "consecutive_failures": failures }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Takes one SMS from the card's budget; `false` when it is spent (then nothing is
    /// sent, and the answer stays the same). Spending the last one pauses the budget.
    async fn card_sms_allowed(&self, conn: &mut sigillo_store::Conn, card: &Card) -> ServiceResult<bool> {
        let now = self.now();
        let Some(r) = attempts::reserve(conn, &card.id, Secret::CardSms, CARD_SMS_BUDGET, now.0).await? else {
            return Ok(false);
        };
        if r.failures >= CARD_SMS_BUDGET {
            let pause = Lock::Temporary {
                until: now.plus(Duration::from_secs(CARD_SMS_PAUSE_SECS)),
                permanent_after_next: false,
            };
            attempts::lock(conn, &card.id, Secret::CardSms, CARD_SMS_BUDGET, pause, now.0).await?;
        }
        Ok(true)
    }

    async fn holder_of(&self, card: &Card) -> ServiceResult<Holder> {
        let Some(holder) = &card.holder_user_id else { return Ok(Holder::Nobody) };
        let mut conn = self.store.conn().await?;
        match users::by_id(&mut conn, holder).await? {
            Some(user) if user.portal => Ok(Holder::Portal(user)),
            Some(_) => Ok(Holder::Banking),
            None => Ok(Holder::Nobody),
        }
    }

    /// "Iscriviti", step one: the card data. The answer is the same whatever they matched;
    /// when they describe a card its phone gets a code (or, for a web banking customer's
    /// card, a note that the card is managed from web banking).
    pub async fn start_portal_registration(
        &self,
        data: &CardData<'_>,
        origin: &Origin,
    ) -> ServiceResult<RegistrationStarted> {
        let card = self.card_by_data(data, "portal.registration_refused", origin).await?;
        let holder = match &card {
            Some(c) => Some(self.holder_of(c).await?),
            None => None,
        };
        let now = self.now();
        let handle = token::generate(&mut rand::rngs::OsRng);
        let id = flow_id(&handle);
        let expires = now.plus(Duration::from_secs(REGISTRATION_SECS)).0;
        let mut tx = self.store.begin().await?;
        match (&card, &holder) {
            (Some(card), Some(Holder::Banking)) => {
                portal::create(&mut tx, &id, None, now.0, expires).await?;
                if self.card_sms_allowed(&mut tx, card).await? {
                    self.queue_sms(&mut tx, &card.phone, &texts::portal_card_in_banking_sms(&card.last4), now).await?;
                }
                audit(
                    &mut tx,
                    now,
                    &Actor::Anonymous,
                    "portal.registration_refused",
                    &card.id,
                    origin,
                    json!({
                        "outcome": "web_banking_holder",
                    }),
                )
                .await?;
            }
            (Some(card), _) => {
                portal::create(&mut tx, &id, Some(&card.id), now.0, expires).await?;
                audit(&mut tx, now, &Actor::Anonymous, "portal.registration_started", &card.id, origin, json!({}))
                    .await?;
            }
            (None, _) => portal::create(&mut tx, &id, None, now.0, expires).await?,
        }
        sigillo_store::commit(tx).await?;
        self.send_registration_otp(&handle, origin).await?;
        Ok(RegistrationStarted { handle })
    }

    /// Sends (again) the registration's code to the card's phone, at most `otp_max_sends`
    /// times. A registration without a card counts its sends the same way and sends nothing.
    pub async fn send_registration_otp(&self, handle: &str, origin: &Origin) -> ServiceResult<()> {
        let id = flow_id(handle);
        let now = self.now();
        let (reg, card) = {
            let mut conn = self.store.conn().await?;
            let reg = portal::get(&mut conn, &id).await?.ok_or(ServiceError::FlowOver)?;
            let card = match &reg.card_id {
                Some(card_id) => cards::get(&mut conn, card_id).await?,
                None => None,
            };
            (reg, card)
        };
        let ttl = self.cfg.security.otp_ttl_secs;
        let code = sms_otp::generate(&mut rand::rngs::OsRng);
        let digest = card.as_ref().map(|_| sms_otp::digest(&self.otp_key, &reg.id, &code));
        let until = now.plus(Duration::from_secs(ttl)).0;
        let max = i64::from(self.cfg.security.otp_max_sends);
        let mut tx = self.store.begin().await?;
        if !portal::set_otp(&mut tx, &reg.id, digest.as_ref().map(|d| d.as_slice()), until, max, now.0).await? {
            return Err(if reg.status == "pending" && reg.expires_at > now.0 {
                ServiceError::TooManyCodes
            } else {
                ServiceError::FlowOver
            });
        }
        if let Some(card) = card.as_ref() {
            if !self.card_sms_allowed(&mut tx, card).await? {
                audit(&mut tx, now, &Actor::System, "card_sms.paused", &card.id, origin, json!({})).await?;
                sigillo_store::commit(tx).await?;
                return Ok(());
            }
            let text = texts::portal_registration_otp_sms(&code, &card.last4, ttl.div_ceil(60));
            self.queue_sms(&mut tx, &card.phone, &text, now).await?;
            audit(
                &mut tx,
                now,
                &Actor::Anonymous,
                "otp.sent",
                &card.id,
                origin,
                json!({
                    "purpose": "portal_registration", "channel_to": "sms", "send": reg.otp_sends + 1,
                }),
            )
            .await?;
            self.metrics.otp_sent.with_label_values(&["sms"]).inc();
        }
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// "Iscriviti", step two: the SMS code and the new password. Creates the portal user
    /// (or, for a card that has one, gives it the new password, unlocks it and ends its
    /// sessions) and returns the UserID. Every failure is the same `AuthFailed` (P9).
    pub async fn complete_portal_registration(
        &self,
        handle: &str,
        code: &str,
        new_password: &str,
        origin: &Origin,
    ) -> ServiceResult<String> {
        // The policy is checked before the code is spent, so a refused password costs no try.
        self.cfg.security.password.check(new_password, &[]).map_err(|e| ServiceError::Invalid(e.code()))?;
        let id = flow_id(handle);
        let now = self.now();
        let limit = self.cfg.security.lockout.limit();
        let (reg, card, reservation) = {
            let mut conn = self.store.conn().await?;
            let reg = portal::get(&mut conn, &id).await?.ok_or(ServiceError::AuthFailed)?;
            if reg.status != "pending" || reg.expires_at <= now.0 {
                return Err(ServiceError::AuthFailed);
            }
            let card = match &reg.card_id {
                Some(card_id) => cards::get(&mut conn, card_id).await?,
                None => None,
            };
            let reservation = match &card {
                Some(card) => attempts::reserve(&mut conn, &card.id, Secret::CardData, limit, now.0).await?,
                None => None,
            };
            (reg, card, reservation)
        };
        let (Some(card), Some(reservation)) = (card, reservation) else {
            // No card behind it, or the card's data are locked meanwhile: a wrong code.
            let mut conn = self.store.conn().await?;
            let failures = portal::fail_attempt(&mut conn, &reg.id, i64::from(limit)).await?;
            drop(conn);
            if let Some(card_id) = &reg.card_id {
                let mut tx = self.store.begin().await?;
                portal::fail(&mut tx, &reg.id).await?;
                audit(
                    &mut tx,
                    now,
                    &Actor::Anonymous,
                    "portal.registration_refused",
                    card_id,
                    origin,
                    json!({
                        "outcome": "locked",
                    }),
                )
                .await?;
                sigillo_store::commit(tx).await?;
            } else {
                tracing::debug!(failures, "portal registration without a card");
            }
            return Err(ServiceError::AuthFailed);
        };
        // Hashed before the transaction opens, so no write lock waits on Argon2; a card's
        // data lock bounds how often a stranger can make us hash.
        let hash = self.hash_secret(new_password).await?;
        // A portal user has no envelope: its security code is a random secret nobody
        // holds, and its way back is registering again with the card.
        let unusable = match card.holder_user_id {
            None => Some(self.hash_secret(&token::generate(&mut rand::rngs::OsRng)).await?),
            Some(_) => None,
        };
        let digest = sms_otp::digest(&self.otp_key, &reg.id, code.trim());
        let mut tx = self.store.begin().await?;
        if !portal::complete_with_otp(&mut tx, &reg.id, &digest, now.0).await? {
            drop(tx);
            let mut conn = self.store.conn().await?;
            portal::fail_attempt(&mut conn, &reg.id, i64::from(limit)).await?;
            drop(conn);
            self.card_data_failed(&card, reservation.failures, reservation.lock_count, origin).await?;
            return Err(ServiceError::AuthFailed);
        }
        let (user, created) = match (self.portal_holder_in(&mut tx, &card).await?, unusable) {
            (Some(user), _) => {
                users::set_password(&mut tx, &user.id, &hash, false, UserStatus::Active, now.0).await?;
                users::set_portal_phone(&mut tx, &user.id, &card.phone, now.0).await?;
                attempts::reset_all(&mut tx, &user.id).await?;
                sessions::end_all_for_user(&mut tx, &user.id, "portal_registration", now.0).await?;
                (user, false)
            }
            (None, Some(unusable)) => (self.new_portal_user(&mut tx, &card, &hash, &unusable).await?, true),
            (None, None) => return Err(ServiceError::AuthFailed),
        };
        attempts::succeed(&mut tx, &card.id, Secret::CardData, now.0).await?;
        attempts::reset(&mut tx, &card.id, Secret::CardSms).await?;
        self.queue_sms(&mut tx, &card.phone, &texts::portal_registered_sms(&user.user_code, created), now).await?;
        let actor = Actor::User(user.id.clone());
        let action = if created { "portal.registered" } else { "portal.password_reset" };
        audit(&mut tx, now, &actor, action, &user.id, origin, json!({ "card": card.id })).await?;
        sigillo_store::commit(tx).await?;
        Ok(user.user_code)
    }

    /// The card's portal holder, read again in the registration's transaction (another
    /// registration may have given the card one since).
    async fn portal_holder_in(&self, tx: &mut sigillo_store::Conn, card: &Card) -> ServiceResult<Option<User>> {
        let fresh = cards::get(tx, &card.id).await?.ok_or(ServiceError::AuthFailed)?;
        let Some(holder) = &fresh.holder_user_id else { return Ok(None) };
        match users::by_id(tx, holder).await? {
            Some(user) if user.portal => Ok(Some(user)),
            // The card went to a web banking customer since the registration began.
            _ => Err(ServiceError::AuthFailed),
        }
    }

    /// A new portal user holding `card`. The UserID is random (a collision draws again);
    /// the card takes its holder only if it still has none, so two registrations racing
    /// for one card make one user.
    async fn new_portal_user(
        &self,
        tx: &mut sigillo_store::Conn,
        card: &Card,
        hash: &str,
        unusable: &str,
    ) -> ServiceResult<User> {
        let now = self.now().0;
        for _ in 0..5 {
            // Drawn and checked in the transaction: a unique violation would abort it on
            // PostgreSQL, and ten random digits almost never meet.
            let user_id = identity::generate_portal_user_id(&mut rand::rngs::OsRng);
            if users::portal_by_user_id(tx, &user_id).await?.is_some() {
                continue;
            }
            let user = users::insert_portal(tx, &user_id, hash, unusable, &card.phone, now).await?;
            if !cards::set_holder_if_none(tx, &card.id, &user.id, now).await? {
                return Err(ServiceError::AuthFailed);
            }
            return Ok(user);
        }
        Err(ServiceError::Internal(anyhow::anyhow!("no free portal UserID after 5 draws")))
    }

    /// "Hai dimenticato lo UserID?": the card data → the UserID by SMS to the card's phone
    /// (or what to do instead). The same answer whatever the data matched.
    pub async fn remind_portal_user_id(&self, data: &CardData<'_>, origin: &Origin) -> ServiceResult<()> {
        let Some(card) = self.card_by_data(data, "portal.user_id_refused", origin).await? else { return Ok(()) };
        let text = match self.holder_of(&card).await? {
            Holder::Portal(user) => texts::portal_user_id_sms(&user.user_code),
            Holder::Banking => texts::portal_card_in_banking_sms(&card.last4),
            Holder::Nobody => texts::portal_not_registered_sms(&card.last4),
        };
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !self.card_sms_allowed(&mut tx, &card).await? {
            audit(&mut tx, now, &Actor::System, "card_sms.paused", &card.id, origin, json!({})).await?;
            sigillo_store::commit(tx).await?;
            return Ok(());
        }
        self.queue_sms(&mut tx, &card.phone, &text, now).await?;
        audit(&mut tx, now, &Actor::Anonymous, "portal.user_id_sent", &card.id, origin, json!({})).await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Portal login, step one: UserID + password. On success the SMS code goes out at once
    /// (a portal user has no app). Every failure is the same `AuthFailed` (P9).
    pub async fn start_portal_login(&self, user_id: &str, password: &str, origin: &Origin) -> ServiceResult<String> {
        let user = if identity::looks_like_portal_user_id(user_id.trim()) {
            let mut conn = self.store.conn().await?;
            users::portal_by_user_id(&mut conn, user_id).await?
        } else {
            None
        };
        let Some(user) = user else {
            self.verify_secret(None, password).await?;
            self.portal_login_failed(None, "unknown_user", origin).await?;
            return Err(ServiceError::AuthFailed);
        };
        if matches!(user.status, UserStatus::Locked | UserStatus::Blocked) {
            self.verify_secret(None, password).await?;
            self.portal_login_failed(Some(&user), "locked", origin).await?;
            return Err(ServiceError::AuthFailed);
        }
        let Some(reservation) =
            self.reserve_attempt_unless(&user, Secret::Password, Some(Secret::SmsOtp), origin).await?
        else {
            self.verify_secret(None, password).await?;
            self.portal_login_failed(Some(&user), "locked", origin).await?;
            return Err(ServiceError::AuthFailed);
        };
        if !self.verify_secret(Some(&user.password_hash), password).await? {
            self.record_outcome(&user, Secret::Password, reservation, false, origin).await?;
            self.metrics.logins.with_label_values(&["failure"]).inc();
            return Err(ServiceError::AuthFailed);
        }
        let handle = self.open_flow_after(&user, Secret::Password, OtpPurpose::PortalLogin, origin).await?;
        self.send_flow_otp(&handle, OtpPurpose::PortalLogin, origin).await?;
        Ok(handle)
    }

    async fn portal_login_failed(&self, user: Option<&User>, reason: &str, origin: &Origin) -> ServiceResult<()> {
        self.metrics.logins.with_label_values(&["failure"]).inc();
        let mut tx = self.store.begin().await?;
        let subject = user.map(|u| u.id.as_str()).unwrap_or_default();
        audit(
            &mut tx,
            self.now(),
            &Actor::Anonymous,
            "portal.login_failed",
            subject,
            origin,
            json!({
                "reason": reason,
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        Ok(())
    }

    /// Portal login, step two: the SMS code → a session of scope `portal` (once, P8).
    pub async fn submit_portal_otp(&self, handle: &str, code: &str, origin: &Origin) -> ServiceResult<Grant> {
        let (flow, user) = self.verify_flow_otp(handle, OtpPurpose::PortalLogin, code, origin).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !flows::transition(&mut tx, &flow.id, "approved", "consumed", now.0).await? {
            return Err(ServiceError::AuthFailed);
        }
        let token = token::generate(&mut rand::rngs::OsRng);
        let session =
            sessions::create(&mut tx, &token::digest(&token), &user.id, SCOPE_PORTAL, origin.channel, now.0).await?;
        audit(
            &mut tx,
            now,
            &Actor::User(user.id.clone()),
            "login.succeeded",
            &user.id,
            origin,
            json!({
                "session": session, "scope": SCOPE_PORTAL,
            }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.metrics.logins.with_label_values(&["success"]).inc();
        Ok(Grant { token, must_change_password: false, recommend_app: false })
    }
}

#[cfg(test)]
mod tests {
    use super::expiry_yymm;

    #[test]
    fn expiry_as_printed_becomes_yymm() {
        assert_eq!(expiry_yymm("12/30").as_deref(), Some("3012"));
        assert_eq!(expiry_yymm("0729").as_deref(), Some("2907"));
        assert_eq!(expiry_yymm("07/2029").as_deref(), Some("2907"));
        assert_eq!(expiry_yymm(" 01 / 27 ").as_deref(), Some("2701"));
        for bad in ["13/30", "00/30", "1/30", "12/3", "ab/cd", "", "12/30/1"] {
            assert_eq!(expiry_yymm(bad), None, "{bad}");
        }
    }
}
