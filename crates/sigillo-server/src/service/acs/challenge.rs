//! The browser challenge (EMV 3DS 2.2.0 §5.9, browser flow): the first CReq opens it,
//! the holder approves in the app or types SMS OTP + Key6, and the outcome ends it once.
//!
//! The challenge pages live in the merchant's iframe, where third-party cookies may not
//! arrive, so each page carries a random token instead: the CReq answer mints it, the
//! store keeps its digest, and every later request must show it (constant-time compare).
//! The token is also what makes the forms CSRF-proof.

use super::{pan_digest, parse_brand};
use crate::events::Topic;
use crate::notify::texts;
use crate::service::cards::brand_label;
use crate::service::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use serde_json::json;
use sha2::{Digest, Sha256};
use sigillo_core::attempts::{Lock, Secret};
use sigillo_core::device::messages::Operation as OperationData;
use sigillo_core::identity;
use sigillo_core::sms_otp;
use sigillo_core::threeds::authval::{self, AuthValueInput, EciOutcome};
use sigillo_core::threeds::challenge::{
    CReq, CRes, ChallengeCancel, ChallengeCompletionInd, ChallengeOutcome, FailureStatus, parse_creq,
};
use sigillo_core::threeds::messages::{Erro, MessageVersion, TransStatus, TransStatusReason};
use sigillo_core::time::UnixMillis;
use sigillo_store::repo::attempts;
use sigillo_store::repo::cards::{self, Card};
use sigillo_store::repo::operations::{self, NewOperation};
use sigillo_store::repo::threeds::{self, Outcome, Transaction};
use std::time::Duration;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The operation kind of a purchase approved in the app.
pub const PURCHASE_KIND: &str = "card_purchase";

/// What a challenge page shows.
#[derive(Clone, Debug)]
pub struct ChallengeView {
    pub acs_trans_id: String,
    pub merchant: String,
    /// The amount with its decimals (`49.99`), and the currency's code (`EUR`).
    pub amount: String,
    pub currency: String,
    pub brand: String,
    pub last4: String,
    pub window_size: String,
    pub app: bool,
    pub sms_key6: bool,
    /// The method chosen so far (`app`, `sms_key6`).
    pub method: Option<String>,
    /// The app operation being waited for.
    pub operation_id: Option<String>,
    /// Where the SMS went (masked), and how many more may be sent.
    pub otp_sent_to: Option<String>,
    pub otp_sends_left: u32,
    pub expires_at: i64,
}

/// The final CRes, for the browser to post to the merchant's `notificationURL`.
#[derive(Clone, Debug)]
pub struct CresPost {
    pub notification_url: String,
    pub cres: String,
    pub session_data: Option<String>,
    pub trans_status: String,
}

/// Where a challenge stands.
#[derive(Clone, Debug)]
pub enum ChallengeState {
    Open(Box<ChallengeView>),
    Done(CresPost),
}

/// A CReq that cannot open a challenge, and why.
#[derive(Debug)]
pub enum CreqRefusal {
    /// Not a valid CReq: the Erro says which field (EMV 3DS: the ACS shows an error and
    /// the requestor learns it from the RReq/time-out; sigillo also records it).
    Invalid(Box<Erro>),
    /// A valid CReq for no running challenge: unknown ids, a second CReq, one after the
    /// time-out or after the RReq (P8).
    NotOpen,
}

impl Services {
    /// The first CReq: opens the challenge once and mints the pages' token.
    pub async fn open_challenge(
        &self,
        creq: &str,
        session_data: Option<&str>,
        origin: &Origin,
    ) -> ServiceResult<Result<(String, ChallengeView), CreqRefusal>> {
        let creq: CReq = match parse_creq(creq) {
            Ok(c) => c,
            Err(erro) => {
                self.metrics.threeds_messages.with_label_values(&["creq", erro.error_code.code()]).inc();
                return Ok(Err(CreqRefusal::Invalid(erro)));
            }
        };
        // threeDSSessionData: at most 1024 characters, base64url (EMV 3DS 2.2.0 §5.9.1 /
        // Table A.1); anything else is not returned to the merchant.
        let session_data = session_data.filter(|s| {
            s.len() <= 1024 && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
        });
        let now = self.now();
        let token = random_token();
        let digest = token_digest(&token);
        let creq_deadline = now.0 - (self.cfg.acs.creq_timeout_secs * 1000) as i64;
        let mut db = self.store.begin().await?;
        let txn = threeds::get(&mut db, &creq.acs_trans_id).await?;
        let matches = txn.as_ref().is_some_and(|t| {
            t.server_trans_id == creq.three_ds_server_trans_id && t.message_version == creq.message_version.as_str()
        });
        let window = creq.challenge_window_size.code();
        if !matches
            || !threeds::open_challenge(
                &mut db,
                &creq.acs_trans_id,
                &window,
                session_data,
                &digest,
                creq_deadline,
                now.0,
            )
            .await?
        {
            drop(db);
            self.metrics.threeds_messages.with_label_values(&["creq", "refused"]).inc();
            let mut db = self.store.begin().await?;
            audit(
                &mut db,
                now,
                &Actor::Anonymous,
                "threeds.creq_refused",
                &creq.acs_trans_id,
                origin,
                json!({ "known": txn.is_some() }),
            )
            .await?;
            sigillo_store::commit(db).await?;
            return Ok(Err(CreqRefusal::NotOpen));
        }
        let subject = txn.as_ref().map(|t| t.card_id.clone()).unwrap_or_default();
        audit(
            &mut db,
            now,
            &Actor::Anonymous,
            "threeds.challenge_opened",
            &subject,
            origin,
            json!({ "acs_trans_id": creq.acs_trans_id }),
        )
        .await?;
        sigillo_store::commit(db).await?;
        self.metrics.threeds_messages.with_label_values(&["creq", "opened"]).inc();
        let view = match self.challenge(&creq.acs_trans_id, &token).await? {
            ChallengeState::Open(view) => *view,
            ChallengeState::Done(_) => return Ok(Err(CreqRefusal::NotOpen)),
        };
        Ok(Ok((token, view)))
    }

    /// The challenge a page token opens, as it stands; `NotFound` for a wrong token.
    pub async fn challenge(&self, acs_trans_id: &str, token: &str) -> ServiceResult<ChallengeState> {
        let (txn, card) = self.challenge_parts(acs_trans_id, token).await?;
        if txn.challenge.as_deref() == Some("done") {
            return Ok(ChallengeState::Done(self.cres_post(&txn)?));
        }
        if txn.expires_at <= self.now().0 {
            self.end_challenge(&txn, &card, Ending::TimedOut).await?;
            return Box::pin(self.challenge(acs_trans_id, token)).await;
        }
        if let Some(op_id) = &txn.operation_id {
            // The app may have answered while nobody listened (this node restarted).
            if self.purchase_operation_decided(op_id).await? {
                return Box::pin(self.challenge(acs_trans_id, token)).await;
            }
        }
        let methods = self.challenge_methods(&card).await?;
        let max = self.cfg.acs.otp_max_sends;
        let sent = u32::try_from(txn.otp_sends).unwrap_or(max);
        Ok(ChallengeState::Open(Box::new(ChallengeView {
            acs_trans_id: txn.acs_trans_id.clone(),
            merchant: display_text(&txn.merchant_name),
            amount: format_amount(txn.amount_minor, txn.exponent),
            currency: currency_code(txn.currency),
            brand: card.brand.clone(),
            last4: card.last4.clone(),
            window_size: txn.window_size.clone().unwrap_or_else(|| "05".into()),
            app: methods.0,
            sms_key6: methods.1,
            method: txn.method.clone(),
            operation_id: txn.operation_id.clone(),
            otp_sent_to: (txn.otp_sends > 0).then(|| identity::mask_phone(&card.phone)),
            otp_sends_left: max.saturating_sub(sent),
            expires_at: txn.expires_at,
        })))
    }

    /// "Approve in the app": an operation showing merchant, amount and card is pushed to
    /// the holder's phones; the page waits for it.
    pub async fn challenge_use_app(&self, acs_trans_id: &str, token: &str, origin: &Origin) -> ServiceResult<String> {
        let (txn, card) = self.open_parts(acs_trans_id, token).await?;
        if let Some(op) = &txn.operation_id {
            return Ok(op.clone());
        }
        let user_id = card.holder_user_id.clone().ok_or(ServiceError::Forbidden)?;
        if !self.challenge_methods(&card).await?.0 {
            return Err(ServiceError::Forbidden);
        }
        let now = self.now();
        let id = sigillo_store::new_id();
        let expires = UnixMillis(txn.expires_at);
        let data = OperationData {
            id: id.clone(),
            kind: PURCHASE_KIND.into(),
            expires_at_ms: u64::try_from(txn.expires_at).unwrap_or(0),
            fields: vec![
                ("merchant".into(), display_text(&txn.merchant_name)),
                ("amount".into(), format_amount(txn.amount_minor, txn.exponent)),
                ("currency".into(), currency_code(txn.currency)),
                ("card".into(), format!("{} •••• {}", brand_label(&card.brand), card.last4)),
            ],
        };
        let bytes = data.encode();
        let new = NewOperation {
            id: &id,
            user_id: &user_id,
            kind: PURCHASE_KIND,
            subject: Some(&txn.acs_trans_id),
            data: &bytes,
            expires_at: expires.0,
            requested_by: Some("acs"),
            ..NewOperation::default()
        };
        let mut db = self.store.begin().await?;
        if !threeds::set_method(&mut db, &txn.acs_trans_id, "app", Some(&id)).await? {
            return Err(ServiceError::FlowOver);
        }
        operations::create(&mut db, &new, now.0).await?;
        self.notify_phones(&mut db, &user_id, &id, PURCHASE_KIND, expires, now).await?;
        audit(
            &mut db,
            now,
            &Actor::Anonymous,
            "operation.created",
            &user_id,
            origin,
            json!({ "operation": id, "kind": PURCHASE_KIND, "acs_trans_id": txn.acs_trans_id }),
        )
        .await?;
        sigillo_store::commit(db).await?;
        self.events.publish(Topic::User(user_id)).await;
        Ok(id)
    }

    /// "SMS OTP + Key6": sends (or resends, at most `acs.otp_max_sends` in all) an SMS
    /// to the card's 3-D Secure phone that names the merchant and the amount.
    pub async fn challenge_send_otp(&self, acs_trans_id: &str, token: &str, origin: &Origin) -> ServiceResult<()> {
        let (txn, card) = self.open_parts(acs_trans_id, token).await?;
        if !self.challenge_methods(&card).await?.1 {
            return Err(ServiceError::Forbidden);
        }
        let now = self.now();
        let code = sms_otp::generate(&mut rand::rngs::OsRng);
        let digest = sms_otp::digest(&self.otp_key, &otp_binding(&txn.acs_trans_id), &code);
        let ttl = self.cfg.security.otp_ttl_secs;
        let expires = now.plus(Duration::from_secs(ttl)).0.min(txn.expires_at);
        let text = texts::purchase_otp_sms(
            &code,
            &format_amount(txn.amount_minor, txn.exponent),
            &currency_code(txn.currency),
            &display_text(&txn.merchant_name),
            &card.last4,
            ttl.div_ceil(60),
        );
        let mut db = self.store.begin().await?;
        if !threeds::set_otp(&mut db, &txn.acs_trans_id, &digest, expires, i64::from(self.cfg.acs.otp_max_sends))
            .await?
        {
            return Err(ServiceError::TooManyCodes);
        }
        if txn.method.as_deref() != Some("sms_key6") {
            threeds::set_method(&mut db, &txn.acs_trans_id, "sms_key6", None).await?;
        }
        self.queue_sms(&mut db, &card.phone, &text, now).await?;
        audit(
            &mut db,
            now,
            &Actor::Anonymous,
            "otp.sent",
            &card.id,
            origin,
            json!({ "purpose": "threeds", "acs_trans_id": txn.acs_trans_id, "send": txn.otp_sends + 1 }),
        )
        .await?;
        sigillo_store::commit(db).await?;
        self.metrics.otp_sent.with_label_values(&["sms"]).inc();
        Ok(())
    }

    /// Checks the SMS OTP and the Key6 together. A wrong one of either counts one failure
    /// of the card's Key6 secret and gives the same answer (P9); the fifth blocks Key6 and
    /// fails the purchase. The fourth warns the holder by SMS first (P2).
    pub async fn challenge_verify(
        &self,
        acs_trans_id: &str,
        token: &str,
        otp: &str,
        key6: &str,
        origin: &Origin,
    ) -> ServiceResult<ChallengeState> {
        let (txn, card) = self.open_parts(acs_trans_id, token).await?;
        let now = self.now();
        let limit = self.cfg.security.lockout.limit();
        let reservation = {
            let mut conn = self.store.conn().await?;
            threeds::count_interaction(&mut conn, &txn.acs_trans_id).await?;
            attempts::reserve(&mut conn, &card.id, Secret::Key6, limit, now.0).await?
        };
        let Some(reservation) = reservation else {
            // Blocked meanwhile (another purchase): this one fails too.
            self.end_challenge(&txn, &card, Ending::Failed).await?;
            return Err(ServiceError::AuthFailed);
        };
        let otp_ok = match (&txn.otp_digest, txn.otp_expires_at) {
            (Some(stored), Some(until)) if until > now.0 => {
                let candidate = sms_otp::digest(&self.otp_key, &otp_binding(&txn.acs_trans_id), otp.trim());
                bool::from(candidate.as_slice().ct_eq(stored.as_slice()))
            }
            _ => false,
        };
        let key6_ok = match &card.key6_sealed {
            Some(sealed) => {
                let stored = self.open_key6(&card.id, sealed)?;
                sigillo_core::key6::key6_matches(stored.as_bytes(), key6.trim())
            }
            None => false,
        };
        if otp_ok && key6_ok {
            let mut db = self.store.begin().await?;
            attempts::succeed(&mut db, &card.id, Secret::Key6, now.0).await?;
            sigillo_store::commit(db).await?;
            self.end_challenge(&txn, &card, Ending::Authenticated { method: "sms_key6" }).await?;
            return self.challenge(acs_trans_id, token).await;
        }
        self.metrics.auth_failures.with_label_values(&[Secret::Key6.as_str()]).inc();
        let mut db = self.store.begin().await?;
        let blocked = reservation.failures >= limit
            && attempts::lock(&mut db, &card.id, Secret::Key6, limit, Lock::Permanent, now.0).await?;
        audit(
            &mut db,
            now,
            &Actor::Anonymous,
            if blocked { "key6.blocked" } else { "auth.failed" },
            &card.id,
            origin,
            json!({ "secret": "key6", "acs_trans_id": txn.acs_trans_id, "failures": reservation.failures }),
        )
        .await?;
        if blocked {
            self.queue_sms(&mut db, &card.phone, &texts::key6_blocked_sms(&card.last4), now).await?;
        } else if reservation.failures + 1 == limit {
            // One attempt left: the holder hears it before the block (P2, RTS art. 4).
            self.queue_sms(&mut db, &card.phone, &texts::key6_last_attempt_sms(&card.last4), now).await?;
        }
        sigillo_store::commit(db).await?;
        if blocked {
            self.end_challenge(&txn, &card, Ending::Failed).await?;
        }
        Err(ServiceError::AuthFailed)
    }

    /// The holder cancels: `N` with `challengeCancel` 01.
    pub async fn challenge_cancel(&self, acs_trans_id: &str, token: &str) -> ServiceResult<ChallengeState> {
        let (txn, card) = self.open_parts(acs_trans_id, token).await?;
        self.end_challenge(&txn, &card, Ending::Canceled).await?;
        self.challenge(acs_trans_id, token).await
    }

    /// An app operation of a purchase changed: a decided one ends its challenge. `true`
    /// when this call ended it.
    pub(crate) async fn purchase_operation_decided(&self, op_id: &str) -> ServiceResult<bool> {
        let mut conn = self.store.conn().await?;
        let Some(op) = operations::get(&mut conn, op_id).await? else {
            return Ok(false);
        };
        let status = op.status_at(self.now().0).to_owned();
        if op.kind != PURCHASE_KIND || status == "pending" {
            return Ok(false);
        }
        let Some(txn) = threeds::by_operation(&mut conn, op_id).await? else {
            return Ok(false);
        };
        if txn.challenge.as_deref() != Some("open") {
            return Ok(false);
        }
        let Some(card) = cards::get(&mut conn, &txn.card_id).await? else {
            return Ok(false);
        };
        drop(conn);
        let ending = match status.as_str() {
            "approved" => Ending::Authenticated { method: "app" },
            "expired" => Ending::TimedOut,
            "canceled" => Ending::Canceled,
            _ => Ending::Failed,
        };
        self.end_challenge(&txn, &card, ending).await
    }

    /// Challenges past their time: no CReq in time (`challengeCancel` 05) or no answer
    /// before the end (04). Their RReqs become due.
    pub(crate) async fn sweep_challenges(&self) -> ServiceResult<usize> {
        let now = self.now();
        let creq_deadline = now.0 - (self.cfg.acs.creq_timeout_secs * 1000) as i64;
        let due = {
            let mut conn = self.store.conn().await?;
            threeds::timed_out(&mut conn, creq_deadline, now.0, 100).await?
        };
        let mut ended = 0;
        for txn in due {
            let card = {
                let mut conn = self.store.conn().await?;
                cards::get(&mut conn, &txn.card_id).await?
            };
            let Some(card) = card else { continue };
            let ending = if txn.challenge.as_deref() == Some("awaiting") { Ending::NoCreq } else { Ending::TimedOut };
            if self.end_challenge(&txn, &card, ending).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    async fn end_challenge(&self, txn: &Transaction, card: &Card, ending: Ending) -> ServiceResult<bool> {
        let now = self.now();
        let brand = parse_brand(&card.brand)?;
        let (status, reason, cancel) = ending.status();
        let reason = reason.map(|r| r.code());
        let cancel = cancel.map(|c| c.code());
        let (auth_value, eci) = if status == TransStatus::Authenticated {
            let digest = pan_digest(card);
            let input = AuthValueInput {
                acs_trans_id: &txn.acs_trans_id,
                ds_trans_id: &txn.ds_trans_id,
                pan_digest: &digest,
                amount_minor: txn.amount_minor.and_then(|a| u64::try_from(a).ok()).unwrap_or(0),
                currency: txn.currency.and_then(|c| u16::try_from(c).ok()).unwrap_or(0),
                merchant_name: &txn.merchant_name,
                purchase_date: txn.purchase_date.as_deref().unwrap_or_default(),
                trans_status: "Y",
            };
            (Some(self.authentication_value(brand, &input)), Some(authval::eci(brand, EciOutcome::Authenticated)))
        } else {
            (None, Some(authval::eci(brand, EciOutcome::NotAuthenticated)))
        };
        let status_code = status.code();
        let outcome = Outcome {
            status: &status_code,
            status_reason: reason.as_deref(),
            challenge_cancel: cancel.as_deref(),
            auth_value: auth_value.as_deref(),
            eci,
        };
        let mut db = self.store.begin().await?;
        if !threeds::finish(&mut db, &txn.acs_trans_id, &outcome, now.0).await? {
            return Ok(false);
        }
        if status == TransStatus::Authenticated {
            // RTS art. 16: an SCA starts the low-value count again.
            cards::reset_low_value(&mut db, &card.id, now.0).await?;
        }
        if let (Some(op), false) = (&txn.operation_id, matches!(ending, Ending::Authenticated { method: "app" })) {
            operations::cancel(&mut db, op, now.0).await?;
        }
        audit(
            &mut db,
            now,
            &Actor::System,
            "threeds.challenge_finished",
            &card.id,
            &Origin::internal(),
            json!({
                "acs_trans_id": txn.acs_trans_id, "trans_status": status_code, "ending": ending.name(),
                "last4": card.last4,
            }),
        )
        .await?;
        sigillo_store::commit(db).await?;
        self.metrics.threeds_messages.with_label_values(&["challenge", &status_code]).inc();
        self.events.publish(Topic::Challenge(txn.acs_trans_id.clone())).await;
        // The RReq goes out now; the sweep retries it if the DS does not answer.
        self.deliver_rreq(&txn.acs_trans_id).await;
        Ok(true)
    }

    fn cres_post(&self, txn: &Transaction) -> ServiceResult<CresPost> {
        let notification_url = txn.notification_url.clone().ok_or(ServiceError::FlowOver)?;
        let status = TransStatus::from_code(&txn.status).ok_or(ServiceError::FlowOver)?;
        let version = MessageVersion::parse(&txn.message_version).ok_or(ServiceError::FlowOver)?;
        // Table A.15: a final CRes says Y or N; the RReq carries the precise status.
        let cres = CRes {
            message_type: "CRes".into(),
            message_version: version,
            three_ds_server_trans_id: txn.server_trans_id.clone(),
            acs_trans_id: txn.acs_trans_id.clone(),
            sdk_trans_id: None,
            challenge_completion_ind: ChallengeCompletionInd::Completed,
            trans_status: if status == TransStatus::Authenticated {
                TransStatus::Authenticated
            } else {
                TransStatus::NotAuthenticated
            },
            message_extension: None,
        };
        Ok(CresPost {
            notification_url,
            cres: cres.to_base64url(),
            session_data: txn.session_data.clone(),
            trans_status: txn.status.clone(),
        })
    }

    /// The transaction and card behind a page token; `NotFound` unless the token matches.
    async fn challenge_parts(&self, acs_trans_id: &str, token: &str) -> ServiceResult<(Transaction, Card)> {
        let mut conn = self.store.conn().await?;
        let txn = threeds::get(&mut conn, acs_trans_id).await?.ok_or(ServiceError::NotFound)?;
        let stored = txn.page_token.as_deref().ok_or(ServiceError::NotFound)?;
        if !bool::from(token_digest(token).as_slice().ct_eq(stored)) {
            return Err(ServiceError::NotFound);
        }
        let card = cards::get(&mut conn, &txn.card_id).await?.ok_or(ServiceError::NotFound)?;
        Ok((txn, card))
    }

    /// [`Self::challenge_parts`] of a challenge still running; `FlowOver` otherwise.
    async fn open_parts(&self, acs_trans_id: &str, token: &str) -> ServiceResult<(Transaction, Card)> {
        let (txn, card) = self.challenge_parts(acs_trans_id, token).await?;
        if txn.challenge.as_deref() != Some("open") || txn.expires_at <= self.now().0 {
            return Err(ServiceError::FlowOver);
        }
        Ok((txn, card))
    }

    /// (approve in the app, SMS OTP + Key6) as the card allows now.
    /// The same read and rule as the AReq's decision (`cards::for_acs`).
    async fn challenge_methods(&self, card: &Card) -> ServiceResult<(bool, bool)> {
        let mut conn = self.store.conn().await?;
        let found = cards::for_acs(&mut conn, &card.pan_lookup).await?.ok_or(ServiceError::NotFound)?;
        Ok((found.has_app(), found.card.key6_sealed.is_some()))
    }
}

/// How a challenge ended.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Authenticated {
        method: &'static str,
    },
    /// Wrong codes up to the block, or the app's rejection.
    Failed,
    Canceled,
    /// The holder did not finish in time (or walked away).
    TimedOut,
    /// No CReq came after the challenge ARes.
    NoCreq,
}

impl Ending {
    /// The `transStatus`, `transStatusReason` and `challengeCancel` this ending records
    /// (the RReq is built from them, see `rreq`).
    fn status(self) -> (TransStatus, Option<TransStatusReason>, Option<ChallengeCancel>) {
        // The reason of a cancel or time-out is the core's rule (`ChallengeOutcome::status`);
        // the message version does not change it for these.
        let cancelled = |cancel: ChallengeCancel, status| {
            let (status, reason) = ChallengeOutcome::Cancelled { cancel, status }.status(MessageVersion::V2_2_0);
            (status, reason, Some(cancel))
        };
        match self {
            Self::Authenticated { .. } => (TransStatus::Authenticated, None, None),
            Self::Failed => (TransStatus::NotAuthenticated, Some(TransStatusReason::CardAuthenticationFailed), None),
            Self::Canceled => cancelled(ChallengeCancel::CardholderCancelled, FailureStatus::NotAuthenticated),
            Self::TimedOut => cancelled(ChallengeCancel::AcsTimeoutOther, FailureStatus::NotAuthenticated),
            Self::NoCreq => cancelled(ChallengeCancel::AcsTimeoutFirstCReq, FailureStatus::Unavailable),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Authenticated { method } => method,
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::TimedOut => "timed_out",
            Self::NoCreq => "no_creq",
        }
    }
}

fn otp_binding(acs_trans_id: &str) -> String {
    format!("threeds:{acs_trans_id}")
}

fn random_token() -> String {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, bytes.as_mut_slice());
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes.as_slice())
}

fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A merchant name as a page or an SMS may show it: characters that could reorder or
/// hide text (controls, bidi, invisible marks) are dropped (cf. the payment rules, P5).
pub(crate) fn display_text(raw: &str) -> String {
    raw.chars().filter(|c| sigillo_core::payment::forbidden(*c).is_none()).take(40).collect()
}

/// `4999` with exponent 2 → `49.99`.
pub(crate) fn format_amount(minor: Option<i64>, exponent: Option<i64>) -> String {
    let minor = minor.unwrap_or(0).max(0);
    let exp = u32::try_from(exponent.unwrap_or(2).clamp(0, 4)).unwrap_or(2);
    if exp == 0 {
        return minor.to_string();
    }
    let unit = 10i64.pow(exp);
    format!("{}.{:0width$}", minor / unit, minor % unit, width = exp as usize)
}

/// The alphabetic code of an ISO 4217 numeric code for display; the number itself for a
/// currency outside this short list of the ones card purchases here mostly use.
pub(crate) fn currency_code(numeric: Option<i64>) -> String {
    match numeric {
        Some(978) => "EUR".into(),
        Some(840) => "USD".into(),
        Some(826) => "GBP".into(),
        Some(756) => "CHF".into(),
        Some(985) => "PLN".into(),
        Some(203) => "CZK".into(),
        Some(752) => "SEK".into(),
        Some(208) => "DKK".into(),
        Some(392) => "JPY".into(),
        Some(n) => format!("{n:03}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_show_their_decimals() {
        assert_eq!(format_amount(Some(4999), Some(2)), "49.99");
        assert_eq!(format_amount(Some(5), Some(2)), "0.05");
        assert_eq!(format_amount(Some(1200), Some(0)), "1200");
        assert_eq!(format_amount(Some(1), Some(3)), "0.001");
    }

    #[test]
    fn merchant_names_lose_what_could_hide_text() {
        assert_eq!(display_text("Shop\u{202E}gpj"), "Shopgpj");
        assert_eq!(display_text("Caffè Roma"), "Caffè Roma");
    }
}
