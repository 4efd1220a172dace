//! The RReq: after a challenge ends, the ACS tells the Directory Server the outcome
//! (EMV 3DS 2.2.0 §5.9.7 / §5.9.8), which passes it to the 3DS Server. It is sent at once
//! and retried with backoff by the sweep until an RRes comes back; a delivery attempt is
//! claimed in the store first, so two nodes never send the same attempt.

use super::parse_brand;
use crate::service::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use serde_json::{Value, json};
use sigillo_core::threeds::authval::{AUTH_VALUE_LEN, Brand};
use sigillo_core::threeds::challenge::{
    AuthenticationMethod, ChallengeCancel, ChallengeOutcome, FailureStatus, RReqFacts, RResOrErro, parse_rres_or_erro,
    rreq,
};
use sigillo_core::threeds::messages::{
    AuthenticationType, MessageCategory, MessageVersion, TransStatus, TransStatusReason,
};
use sigillo_store::repo::cards;
use sigillo_store::repo::threeds::{self, Transaction};
use std::time::Duration;

/// How long one attempt may take (the DS answers an RReq at once).
pub const RREQ_TIMEOUT: Duration = Duration::from_secs(5);
/// Backoff between attempts: 2 s, 4 s, 8 s … at most this.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl Services {
    /// Delivers the RReq of a finished challenge, if one is due. Failures are logged and
    /// left for the sweep.
    pub(crate) async fn deliver_rreq(&self, acs_trans_id: &str) {
        let txn = async {
            let mut conn = self.store.conn().await?;
            threeds::get(&mut conn, acs_trans_id).await
        };
        match txn.await {
            Ok(Some(txn)) if txn.rreq_state.as_deref() == Some("pending") => {
                if let Err(e) = self.attempt_rreq(&txn).await {
                    tracing::warn!(error = %e, acs_trans_id, "RReq attempt");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, acs_trans_id, "RReq not loaded"),
        }
    }

    /// Ends the challenges that timed out, then retries the RReqs that are due.
    pub async fn sweep_threeds(&self) -> ServiceResult<(usize, usize)> {
        let ended = self.sweep_challenges().await?;
        Ok((ended, self.sweep_rreqs().await?))
    }

    /// RReqs whose next attempt is due.
    async fn sweep_rreqs(&self) -> ServiceResult<usize> {
        let due = {
            let mut conn = self.store.conn().await?;
            threeds::rreqs_due(&mut conn, self.now().0, 50).await?
        };
        let mut sent = 0;
        for txn in &due {
            if self.attempt_rreq(txn).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    /// One attempt; `true` when the DS acknowledged it.
    async fn attempt_rreq(&self, txn: &Transaction) -> ServiceResult<bool> {
        let now = self.now();
        let lease = now.plus(RREQ_TIMEOUT * 2).0;
        {
            let mut conn = self.store.conn().await?;
            if !threeds::claim_rreq(&mut conn, &txn.acs_trans_id, txn.rreq_attempts, lease).await? {
                return Ok(false);
            }
        }
        let brand = {
            let mut conn = self.store.conn().await?;
            let card = cards::get(&mut conn, &txn.card_id).await?.ok_or(ServiceError::NotFound)?;
            parse_brand(&card.brand)?
        };
        let body = rreq_body(txn, brand)?;
        let result = self.post_rreq(&txn.ds_url, &body, txn).await;
        let attempts = txn.rreq_attempts + 1;
        let mut conn = self.store.conn().await?;
        match result {
            Ok(()) => {
                threeds::rreq_delivered(&mut conn, &txn.acs_trans_id).await?;
                self.metrics.threeds_messages.with_label_values(&["rreq", "delivered"]).inc();
                Ok(true)
            }
            Err(RreqError::Retry(error)) if attempts < i64::from(self.cfg.acs.rreq_max_attempts) => {
                let backoff = Duration::from_secs(1u64 << attempts.clamp(1, 16)).min(MAX_BACKOFF);
                threeds::rreq_failed(&mut conn, &txn.acs_trans_id, &error, Some(now.plus(backoff).0)).await?;
                self.metrics.threeds_messages.with_label_values(&["rreq", "retry"]).inc();
                tracing::info!(acs_trans_id = %txn.acs_trans_id, attempts, error, "RReq to be retried");
                Ok(false)
            }
            Err(RreqError::Retry(error) | RreqError::Refused(error)) => {
                threeds::rreq_failed(&mut conn, &txn.acs_trans_id, &error, None).await?;
                drop(conn);
                self.metrics.threeds_messages.with_label_values(&["rreq", "failed"]).inc();
                tracing::warn!(acs_trans_id = %txn.acs_trans_id, attempts, error, "RReq given up");
                let mut db = self.store.begin().await?;
                audit(
                    &mut db,
                    now,
                    &Actor::System,
                    "threeds.rreq_failed",
                    &txn.card_id,
                    &Origin::internal(),
                    json!({ "acs_trans_id": txn.acs_trans_id, "attempts": attempts, "error": error }),
                )
                .await?;
                sigillo_store::commit(db).await?;
                Ok(false)
            }
        }
    }

    async fn post_rreq(&self, url: &str, body: &Value, txn: &Transaction) -> Result<(), RreqError> {
        let response = self
            .ds_http
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| RreqError::Retry(format!("transport: {}", e.without_url())))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| RreqError::Retry(format!("body: {}", e.without_url())))?;
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(RreqError::Retry(format!("HTTP {}", status.as_u16())));
        }
        match parse_rres_or_erro(&bytes) {
            Ok(RResOrErro::RRes(rres)) if rres.acs_trans_id == txn.acs_trans_id => Ok(()),
            Ok(RResOrErro::RRes(_)) => Err(RreqError::Refused("RRes for another transaction".into())),
            Ok(RResOrErro::Erro(erro)) => {
                Err(RreqError::Refused(format!("DS Erro {}: {}", erro.error_code.code(), erro.error_detail)))
            }
            Err(erro) => Err(RreqError::Refused(format!("unreadable answer: {}", erro.error_detail))),
        }
    }
}

enum RreqError {
    /// Worth another attempt (transport, 5xx).
    Retry(String),
    /// The DS answered, but not with an RRes for this RReq: another attempt would not help.
    Refused(String),
}

/// The RReq JSON for a finished transaction, rebuilt from what `finish` stored.
fn rreq_body(txn: &Transaction, brand: Brand) -> ServiceResult<Value> {
    let bad = |what: &str| ServiceError::Internal(anyhow::anyhow!("stored 3-D Secure transaction: bad {what}"));
    let version = MessageVersion::parse(&txn.message_version).ok_or_else(|| bad("messageVersion"))?;
    let category = MessageCategory::from_code(&txn.message_category).ok_or_else(|| bad("messageCategory"))?;
    let status = TransStatus::from_code(&txn.status).ok_or_else(|| bad("transStatus"))?;
    let failure = match status {
        TransStatus::Unavailable => FailureStatus::Unavailable,
        TransStatus::Rejected => FailureStatus::Rejected,
        _ => FailureStatus::NotAuthenticated,
    };
    let outcome = match (status, &txn.challenge_cancel) {
        (TransStatus::Authenticated, _) => {
            let text = txn.auth_value.as_deref().ok_or_else(|| bad("authenticationValue"))?;
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text)
                .map_err(|_| bad("authenticationValue"))?;
            let authentication_value: [u8; AUTH_VALUE_LEN] =
                bytes.as_slice().try_into().map_err(|_| bad("authenticationValue"))?;
            ChallengeOutcome::Authenticated { authentication_value }
        }
        (_, Some(cancel)) => ChallengeOutcome::Cancelled {
            cancel: ChallengeCancel::from_code(cancel).ok_or_else(|| bad("challengeCancel"))?,
            status: failure,
        },
        (_, None) => ChallengeOutcome::Failed {
            status: failure,
            reason: txn
                .status_reason
                .as_deref()
                .and_then(TransStatusReason::from_code)
                .unwrap_or(TransStatusReason::CardAuthenticationFailed),
        },
    };
    let (authentication_type, authentication_method) = match txn.method.as_deref() {
        Some("app") => (AuthenticationType::OutOfBand, AuthenticationMethod::OobOther),
        Some("sms_key6") => (AuthenticationType::Dynamic, AuthenticationMethod::SmsOtp),
        _ => (AuthenticationType::Dynamic, AuthenticationMethod::Other),
    };
    let facts = RReqFacts {
        message_version: version,
        three_ds_server_trans_id: txn.server_trans_id.clone(),
        ds_trans_id: txn.ds_trans_id.clone(),
        acs_trans_id: txn.acs_trans_id.clone(),
        sdk_trans_id: None,
        category,
        brand,
        authentication_type,
        authentication_method,
        interaction_counter: u8::try_from(txn.interactions).unwrap_or(99),
        outcome,
        acs_rendering_type: None,
    };
    Ok(serde_json::to_value(rreq(&facts)).map_err(anyhow::Error::from)?)
}
