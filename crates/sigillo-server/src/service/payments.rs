//! Payments (DESIGN.md flow 4): the customer asks, the phone approves. A payment is
//! validated in the core (IBAN checksum, ISO 4217 currency and decimals, payee limits)
//! before anything is stored, then stored as the canonical bytes the phone signs (P5). It
//! is approved by the phone (push, in [`super::approvals`]), by the transaction OTP from
//! the signed QR, or by an SMS OTP whose text names amount and payee; each wrong code
//! counts against the operation and, for app codes, against the PIN (P2).

use super::cards::Key6Action;
use super::login::OtpSent;
use super::operations::OperationView;
use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::events::Topic;
use crate::notify::texts;
use serde_json::json;
use sigillo_core::attempts::Secret;
use sigillo_core::device::offline::{NONCE_LEN, OfflinePurpose, TransactionQr};
use sigillo_core::payment::{Payment, PaymentRequest};
use sigillo_core::{identity, sms_otp};
use sigillo_store::repo::cards;
use sigillo_store::repo::operations::{self, NewOperation, Operation};
use sigillo_store::repo::users::User;
use std::time::Duration;

/// How many of a customer's payments the list shows.
const RECENT: i64 = 50;

/// Whether the customer approves operations of `kind` with the surfaces' codes (SMS OTP,
/// and the transaction OTP for payments) besides the phone: payments and Key6 views and
/// unlocks; not logins (their own flow) nor 3-D Secure purchases (the challenge page).
fn approved_with_codes(kind: &str) -> bool {
    kind.starts_with("payment.") || kind == Key6Action::View.kind() || kind == Key6Action::Unlock.kind()
}

/// What an operation's SMS OTP is for, as the audit trail records it.
fn purpose(kind: &str) -> &str {
    if kind.starts_with("payment.") { "payment" } else { kind }
}

/// The key an operation's SMS OTP digest is bound to.
fn sms_binding(op_id: &str) -> String {
    format!("operation:{op_id}")
}

impl Services {
    /// Validates and stores a payment for `user`'s approval, and wakes their phones.
    /// `requested_by` is `customer` or `integration:<client>`.
    pub async fn create_payment(
        &self,
        user: &User,
        request: &PaymentRequest<'_>,
        requested_by: &str,
        client_ref: Option<&str>,
        callback_url: Option<&str>,
        origin: &Origin,
    ) -> ServiceResult<OperationView> {
        let payment = Payment::validate(request)
            .map_err(|e| ServiceError::BadRequest { field: e.field(), message: e.to_string() })?;
        let now = self.now();
        let id = sigillo_store::new_id();
        let expires = now.plus(Duration::from_secs(self.cfg.operations.ttl_secs));
        let bytes = payment.operation(&id, expires.0 as u64).encode();
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let qr_signature = TransactionQr { operation: bytes.clone(), nonce: nonce.to_vec() }.sign(&self.master_key);
        let new = NewOperation {
            id: &id,
            user_id: &user.id,
            kind: payment.kind(),
            data: &bytes,
            expires_at: expires.0,
            nonce: Some(&nonce),
            qr_signature: Some(&qr_signature),
            requested_by: Some(requested_by),
            client_ref,
            callback_url,
            ..NewOperation::default()
        };
        let mut tx = self.store.begin().await?;
        operations::create(&mut tx, &new, now.0).await?;
        self.notify_phones(&mut tx, &user.id, &id, payment.kind(), expires, now).await?;
        audit(
            &mut tx,
            now,
            &Actor::User(user.id.clone()),
            "operation.created",
            &user.id,
            origin,
            json!({ "operation": id, "kind": payment.kind(), "requested_by": requested_by }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.events.publish(Topic::User(user.id.clone())).await;
        self.operation_view(&user.id, &id).await
    }

    /// The customer's recent payments, newest first.
    pub async fn list_payments(&self, user_id: &str) -> ServiceResult<Vec<OperationView>> {
        let ops = {
            let mut conn = self.store.conn().await?;
            operations::recent_for_user(&mut conn, user_id, "payment.", RECENT).await?
        };
        let mut out = Vec::with_capacity(ops.len());
        for op in &ops {
            out.push(self.view(op).await?);
        }
        Ok(out)
    }

    /// A pending operation of `user` that the customer approves with a code (a payment,
    /// or a Key6 view or unlock): `NotFound` for another's or another kind, `FlowOver`
    /// once decided or expired.
    async fn pending_customer_operation(&self, user_id: &str, op_id: &str) -> ServiceResult<Operation> {
        let op = self.own_operation(user_id, op_id).await?;
        if !approved_with_codes(&op.kind) {
            return Err(ServiceError::NotFound);
        }
        if op.status_at(self.now().0) != "pending" {
            return Err(ServiceError::FlowOver);
        }
        Ok(op)
    }

    /// The SMS that carries an operation's OTP: it states what the code authorizes
    /// (RTS art. 5(1)(a) for payments; the card for a Key6 view or unlock), never a secret
    /// besides the code itself.
    async fn operation_sms_text(&self, op: &Operation, view: &OperationView, code: &str) -> ServiceResult<String> {
        let minutes = self.cfg.security.otp_ttl_secs.div_ceil(60);
        let key6 = [Key6Action::View, Key6Action::Unlock].into_iter().find(|a| a.kind() == op.kind);
        Ok(match key6 {
            Some(action) => {
                let card = {
                    let mut conn = self.store.conn().await?;
                    let subject = op.subject.as_deref().ok_or(ServiceError::NotFound)?;
                    cards::get(&mut conn, subject).await?.ok_or(ServiceError::NotFound)?
                };
                texts::key6_otp_sms(code, action == Key6Action::Unlock, &card.last4, minutes)
            }
            None => texts::payment_otp_sms(
                code,
                view.field("amount").unwrap_or_default(),
                view.field("currency").unwrap_or_default(),
                view.field("payee").unwrap_or_default(),
                minutes,
            ),
        })
    }

    /// Sends (again) the SMS OTP of a payment or a Key6 operation; the text says what it
    /// authorizes.
    pub async fn send_operation_sms(&self, user: &User, op_id: &str, origin: &Origin) -> ServiceResult<OtpSent> {
        let op = self.pending_customer_operation(&user.id, op_id).await?;
        let view = self.view(&op).await?;
        if !view.methods.contains(&"sms") {
            return Err(ServiceError::Forbidden);
        }
        let now = self.now();
        let code = sms_otp::generate(&mut rand::rngs::OsRng);
        let digest = sms_otp::digest(&self.otp_key, &sms_binding(&op.id), &code);
        let ttl = self.cfg.security.otp_ttl_secs;
        let max = self.cfg.security.otp_max_sends;
        let text = self.operation_sms_text(&op, &view, &code).await?;
        let expires = now.plus(Duration::from_secs(ttl)).0.min(op.expires_at);
        let mut tx = self.store.begin().await?;
        if !operations::set_sms(&mut tx, &op.id, &digest, expires, i64::from(max), now.0).await? {
            return Err(ServiceError::TooManyCodes);
        }
        self.queue_sms(&mut tx, &user.phone, &text, now).await?;
        audit(
            &mut tx,
            now,
            &Actor::User(user.id.clone()),
            "otp.sent",
            &user.id,
            origin,
            json!({ "purpose": purpose(&op.kind), "operation": op.id, "send": op.sms_sends + 1 }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.metrics.otp_sent.with_label_values(&["sms"]).inc();
        let sent = u32::try_from(op.sms_sends + 1).unwrap_or(max);
        Ok(OtpSent { to: identity::mask_phone(&user.phone), sends_left: max.saturating_sub(sent) })
    }

    /// Approves an operation with a code: for a payment the app's 8-digit transaction OTP
    /// (checked against the stored bytes and nonce, never anything the client sends: P5),
    /// and for any the operation's 6-digit SMS OTP. Accepted once (P8); wrong codes count
    /// (P2).
    pub async fn submit_operation_otp(
        &self,
        user: &User,
        op_id: &str,
        code: &str,
        origin: &Origin,
    ) -> ServiceResult<OperationView> {
        let op = self.pending_customer_operation(&user.id, op_id).await?;
        let now = self.now();
        let tx_otp_nonce = op.nonce.clone().filter(|_| code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()));
        let approved_by = if let Some(nonce) = tx_otp_nonce {
            let qr = TransactionQr { operation: op.data.clone(), nonce };
            let check = |key: &[u8; 32]| qr.verify_code(key, code);
            let candidates = self.usable_bindings(&user.id).await?;
            match self.check_offline_code(user, &candidates, OfflinePurpose::Transaction, &check, origin).await {
                Ok(binding) => {
                    let mut conn = self.store.conn().await?;
                    operations::decide(&mut conn, &op.id, "approved", Some(&binding.id), Some("transaction_otp"), now.0)
                        .await?
                        .then_some("transaction_otp")
                }
                Err(ServiceError::AuthFailed) => None,
                Err(e) => return Err(e),
            }
        } else if op.sms_digest.is_some() {
            let Some(reservation) = self.reserve_attempt(user, Secret::SmsOtp, origin).await? else {
                self.operation_failure(&op, "locked", origin).await?;
                return Err(ServiceError::AuthFailed);
            };
            let digest = sms_otp::digest(&self.otp_key, &sms_binding(&op.id), code);
            let ok = {
                let mut conn = self.store.conn().await?;
                operations::approve_with_sms(&mut conn, &op.id, &digest, now.0).await?
            };
            self.record_outcome(user, Secret::SmsOtp, reservation, ok, origin).await?;
            ok.then_some("sms")
        } else {
            None
        };
        let Some(method) = approved_by else {
            self.operation_failure(&op, "wrong_code", origin).await?;
            return Err(ServiceError::AuthFailed);
        };
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            now,
            &Actor::User(user.id.clone()),
            "operation.approved",
            &user.id,
            origin,
            json!({ "operation": op.id, "kind": op.kind, "method": method }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.operation_changed(&op).await;
        self.operation_view(&user.id, &op.id).await
    }

    /// The customer withdraws a pending payment or Key6 operation.
    pub async fn cancel_operation(&self, user: &User, op_id: &str, origin: &Origin) -> ServiceResult<OperationView> {
        let op = self.pending_customer_operation(&user.id, op_id).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !operations::cancel(&mut tx, &op.id, now.0).await? {
            return Err(ServiceError::FlowOver);
        }
        audit(
            &mut tx,
            now,
            &Actor::User(user.id.clone()),
            "operation.canceled",
            &user.id,
            origin,
            json!({ "operation": op.id, "kind": op.kind }),
        )
        .await?;
        sigillo_store::commit(tx).await?;
        self.operation_changed(&op).await;
        self.operation_view(&user.id, &op.id).await
    }
}
