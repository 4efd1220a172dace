//! Operations the customer approves (DESIGN.md flows 3 and 4): a pushed login and
//! payments. Each is stored as the canonical bytes the phone shows and signs (P5); it is
//! decided once (P8), by the phone (push), by an offline code from the app, or by an SMS
//! OTP bound to it, and every change wakes whoever waits on it ([`crate::events`]).
//!
//! Offline codes are checked against every active binding of the user, without
//! counting, to find the one that made it; that binding then goes through the counted
//! check (which refuses a suspended or blocked PIN), and a code no binding made counts
//! as a wrong PIN on each of them (P2: a wrong PIN gives a wrong code).

use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use crate::events::Topic;
use serde_json::json;
use sigillo_core::device::matching;
use sigillo_core::device::messages::Operation as OperationBytes;
use sigillo_core::device::offline::{self, OfflinePurpose, TransactionQr};
use sigillo_core::time::UnixMillis;
use sigillo_store::Conn;
use sigillo_store::repo::bindings::{self, Binding, BindingStatus};
use sigillo_store::repo::operations::{self, NewOperation, Operation};
use sigillo_store::repo::users::User;
use std::time::Duration;
use zeroize::Zeroizing;

/// An operation as the customer's surfaces show it.
#[derive(Clone, Debug)]
pub struct OperationView {
    pub id: String,
    pub kind: String,
    /// What it is about (a card for a Key6 view or unlock).
    pub subject: Option<String>,
    /// `pending`, `approved`, `rejected`, `expired`, `failed` or `canceled`.
    pub status: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The labelled fields decoded from the stored bytes (what the phone shows).
    pub fields: Vec<(String, String)>,
    /// How it may still be approved: `push`, `otp` (the app's offline code), `sms`.
    pub methods: Vec<&'static str>,
    /// The signed transaction QR, while a payment is pending and a phone is bound.
    pub qr: Option<String>,
    /// How it was decided.
    pub method: Option<String>,
}

impl OperationView {
    pub fn field(&self, label: &str) -> Option<&str> {
        self.fields.iter().find(|(l, _)| l == label).map(|(_, v)| v.as_str())
    }
}

/// The offline key of `purpose` for a binding, from its sealed factor OTP keys.
fn binding_offline_key(otp: &[u8], binding: &str, purpose: OfflinePurpose) -> Zeroizing<[u8; 32]> {
    let mut kp = Zeroizing::new([0u8; 32]);
    let mut kk = Zeroizing::new([0u8; 32]);
    kp.copy_from_slice(&otp[..32]);
    kk.copy_from_slice(&otp[32..64]);
    offline::offline_key(&kp, &kk, binding, purpose)
}

/// Whether a binding can make codes and approve: active, not waiting for a PIN reset.
/// (`users::for_login` asks the same in SQL.)
fn usable(b: &Binding) -> bool {
    b.status == BindingStatus::Active && !b.pin_reset
}

impl Services {
    /// The user's active bindings that can make codes and approve (not waiting for a PIN
    /// reset).
    pub(crate) async fn usable_bindings(&self, user_id: &str) -> ServiceResult<Vec<Binding>> {
        let mut conn = self.store.conn().await?;
        let all = bindings::for_user(&mut conn, user_id).await?;
        Ok(all.into_iter().filter(usable).collect())
    }

    /// Wakes everyone waiting on `op`: the browser (its operation or login flow) and the
    /// user's phones. Call after the change committed.
    pub(crate) async fn operation_changed(&self, op: &Operation) {
        if op.requested_by.as_deref().is_some_and(|r| r.starts_with("integration:")) {
            // The fast path; the sweep queues it if this fails (or the node stops here).
            let fresh = async {
                let mut conn = self.store.conn().await?;
                operations::get(&mut conn, &op.id).await.map_err(ServiceError::from)
            };
            if let Ok(Some(fresh)) = fresh.await {
                if fresh.status != "pending" {
                    if let Err(e) = self.queue_outcome(&fresh).await {
                        tracing::warn!(error = %e, operation = %op.id, "webhook not queued yet; the sweep will");
                    }
                }
            }
        }
        if op.kind == super::acs::challenge::PURCHASE_KIND {
            // A purchase approved (or refused) in the app ends its 3-D Secure challenge.
            if let Err(e) = self.purchase_operation_decided(&op.id).await {
                tracing::warn!(error = %e, operation = %op.id, "challenge not ended yet; the page or the sweep will");
            }
        }
        let mut topics = vec![Topic::Operation(op.id.clone()), Topic::User(op.user_id.clone())];
        topics.extend(op.flow_id.iter().map(|f| Topic::Flow(f.clone())));
        self.events.publish_all(&topics).await;
    }

    /// After a correct password, in the caller's transaction: a login operation for the
    /// user's phones with number matching, if a phone can still take it. Returns the
    /// operation's id (the caller audits it, last) and the number the page shows.
    pub(crate) async fn push_login_in(
        &self,
        tx: &mut Conn,
        user: &User,
        flow_id: &str,
        origin: &Origin,
        now: UnixMillis,
    ) -> ServiceResult<Option<(String, u8)>> {
        let usable = bindings::for_user(tx, &user.id).await?.into_iter().any(|b| usable(&b));
        if !usable {
            return Ok(None);
        }
        let numbers = matching::draw(&mut rand::rngs::OsRng);
        let id = sigillo_store::new_id();
        let ttl = self.cfg.operations.ttl_secs.min(self.cfg.security.login_flow_secs);
        let expires = now.plus(Duration::from_secs(ttl));
        let when = chrono_like(now.0);
        let about = [("channel", origin.channel), ("time", when.as_str())];
        let bytes = matching::login_operation(&id, expires.0 as u64, numbers.shown, &about).encode();
        let new = NewOperation {
            id: &id,
            user_id: &user.id,
            kind: matching::LOGIN_KIND,
            data: &bytes,
            expires_at: expires.0,
            flow_id: Some(flow_id),
            match_number: Some(i64::from(numbers.correct)),
            requested_by: Some("customer"),
            ..NewOperation::default()
        };
        operations::create(tx, &new, now.0).await?;
        self.notify_phones(tx, &user.id, &id, matching::LOGIN_KIND, expires, now).await?;
        Ok(Some((id, numbers.correct)))
    }

    /// Finds the binding whose offline key of `purpose` makes `check` true, counting
    /// nothing.
    pub(crate) fn offline_match(
        &self,
        candidates: &[Binding],
        purpose: OfflinePurpose,
        check: &(dyn Fn(&[u8; 32]) -> bool + Sync),
    ) -> ServiceResult<Option<Binding>> {
        for b in candidates {
            let otp = self.open_otp_keys(b)?;
            if check(&binding_offline_key(&otp, &b.id, purpose)) {
                return Ok(Some(b.clone()));
            }
        }
        Ok(None)
    }

    /// An offline code from the app, counted (P2), against the user's usable bindings
    /// `candidates`: the binding when one made it and its PIN is not suspended or blocked; a code none made counts
    /// as a wrong PIN on every one of them and is `AuthFailed`.
    pub(crate) async fn check_offline_code(
        &self,
        user: &User,
        candidates: &[Binding],
        purpose: OfflinePurpose,
        check: &(dyn Fn(&[u8; 32]) -> bool + Sync),
        origin: &Origin,
    ) -> ServiceResult<Binding> {
        match self.offline_match(candidates, purpose, check)? {
            Some(b) => {
                self.counted_check(&b, user, || true, origin).await?;
                Ok(b)
            }
            None => {
                for b in candidates {
                    // Each answers AuthFailed; what matters is that each counted.
                    let _ = self.counted_check(b, user, || false, origin).await;
                }
                Err(ServiceError::AuthFailed)
            }
        }
    }

    /// A pending operation of `user`, or `NotFound` (also for another user's).
    pub(crate) async fn own_operation(&self, user_id: &str, op_id: &str) -> ServiceResult<Operation> {
        let mut conn = self.store.conn().await?;
        match operations::get(&mut conn, op_id).await? {
            Some(op) if op.user_id == user_id => Ok(op),
            _ => Err(ServiceError::NotFound),
        }
    }

    /// How an operation looks to its customer now.
    pub async fn operation_view(&self, user_id: &str, op_id: &str) -> ServiceResult<OperationView> {
        let op = self.own_operation(user_id, op_id).await?;
        self.view(&op).await
    }

    pub(crate) async fn view(&self, op: &Operation) -> ServiceResult<OperationView> {
        let now = self.now().0;
        let status = op.status_at(now).to_owned();
        let fields = OperationBytes::decode(&op.data).map(|o| o.fields).unwrap_or_default();
        let pending = status == "pending";
        let has_phone = pending && !self.usable_bindings(&op.user_id).await?.is_empty();
        let mut methods = Vec::new();
        if has_phone {
            methods.push("push");
            // The app's transaction OTP is computed over the signed QR: only operations
            // that have one (payments) can be approved with it.
            if op.nonce.is_some() {
                methods.push("otp");
            }
        }
        if pending && (!has_phone || self.cfg.operations.sms_for_app_users) {
            methods.push("sms");
        }
        let qr = match (&op.nonce, &op.qr_signature, has_phone) {
            (Some(nonce), Some(signature), true) => {
                Some(TransactionQr { operation: op.data.clone(), nonce: nonce.clone() }.payload_with(signature))
            }
            _ => None,
        };
        Ok(OperationView {
            id: op.id.clone(),
            kind: op.kind.clone(),
            subject: op.subject.clone(),
            status,
            created_at: op.created_at,
            expires_at: op.expires_at,
            fields,
            methods,
            qr,
            method: op.method.clone(),
        })
    }

    /// Counts a wrong answer against the operation itself (P2): at the limit it fails.
    pub(crate) async fn operation_failure(&self, op: &Operation, reason: &str, origin: &Origin) -> ServiceResult<()> {
        let now = self.now();
        let max = i64::from(self.cfg.operations.max_failures);
        let mut tx = self.store.begin().await?;
        let failures = operations::count_failure(&mut tx, &op.id, max, now.0).await?;
        audit(
            &mut tx,
            now,
            &Actor::Anonymous,
            "operation.code_failed",
            &op.user_id,
            origin,
            json!({ "operation": op.id, "reason": reason, "failures": failures }),
        )
        .await?;
        if failures.is_some_and(|n| n >= max) {
            audit(
                &mut tx,
                now,
                &Actor::System,
                "operation.failed",
                &op.user_id,
                origin,
                json!({ "operation": op.id, "reason": "too_many_failures" }),
            )
            .await?;
        }
        sigillo_store::commit(tx).await?;
        if failures.is_some_and(|n| n >= max) {
            self.operation_changed(op).await;
        }
        Ok(())
    }
}

/// `YYYY-MM-DD HH:MM UTC`: when a login was asked for, as the phone shows it.
pub(crate) fn chrono_like(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_civil() {
        assert_eq!(super::chrono_like(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::chrono_like(1_795_435_200_000), "2026-11-23 12:00 UTC");
        assert_eq!(super::chrono_like(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
