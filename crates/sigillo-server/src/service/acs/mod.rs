//! The 3-D Secure Access Control Server's use cases (issue 5; EMV 3DS 2.2.0, DESIGN flow 7).
//!
//! An AReq from the Directory Server is validated by `sigillo-core` (nothing is stored
//! for a bad one: it gets an `Erro`), its card is found by the PAN's keyed digest, the
//! pure [`decision`](sigillo_core::threeds::decision) picks frictionless, challenge,
//! reject or not authenticated, and the answer is recorded with the transaction. The
//! browser challenge ([`challenge`]) and the RReq delivery ([`rreq`]) follow.
//!
//! Frictionless answers are kept in the transactions table, not the audit trail: at
//! thousands per second they would serialise on the audit chain's head, and the table
//! already is the ACS's record of what it answered. Every challenge outcome, Key6
//! failure and block is audited (P11).

pub mod challenge;
pub(crate) mod journal;
pub mod rreq;

use super::{ServiceError, ServiceResult, Services};
use journal::{Entry, OwnedTransaction, Written};
use serde::Serialize;
use sigillo_core::threeds::authval::{self, AuthValueInput, Brand};
use sigillo_core::threeds::decision::{self, CardState, Decision, DecisionConfig, LowValueHistory};
use sigillo_core::threeds::messages::{
    AReq, ARes, AuthenticationType, ChallengeMandated, DeviceChannel, ERROR_COMPONENT_ACS, Erro, ErrorCode,
    TransStatus, TransStatusReason,
};
use sigillo_core::threeds::validate::parse_areq;
use sigillo_store::repo::cards::{self, Card};
use std::time::Duration;

/// What the ACS answers the Directory Server.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AcsAnswer {
    ARes(Box<ARes>),
    Erro(Box<Erro>),
}

/// Card state a decision reads, and what the transaction then records.
struct CardFacts {
    card: Card,
    brand: Brand,
    state: CardState,
}

impl Services {
    /// Answers one AReq (the raw body as the DS posted it).
    pub async fn handle_areq(&self, raw: &[u8]) -> ServiceResult<AcsAnswer> {
        let areq = match parse_areq(raw) {
            Ok(areq) => areq,
            Err(erro) => {
                self.metrics.threeds_messages.with_label_values(&["areq", erro.error_code.code()]).inc();
                tracing::info!(code = erro.error_code.code(), detail = %erro.error_detail, "AReq refused");
                return Ok(AcsAnswer::Erro(erro));
            }
        };
        let erro = |code: ErrorCode, detail: &str| AcsAnswer::Erro(erro_for(&areq, code, detail));
        let Some(ds_url) = areq.ds_url.as_deref() else {
            return Ok(erro(ErrorCode::RequiredMissing, "dsURL"));
        };
        if !self.ds_url_allowed(ds_url) {
            tracing::warn!("AReq with a dsURL outside acs.ds_url_prefixes");
            return Ok(erro(ErrorCode::AccessDenied, "dsURL"));
        }
        let tx = match decision::Transaction::from_areq(&areq) {
            Ok(tx) => tx,
            Err(e) => return Ok(erro(ErrorCode::InvalidFormat, transaction_field(e))),
        };
        let now = self.now();
        let acs_trans_id = uuid::Uuid::new_v4().to_string();
        let lookup = self.pan_lookup(areq.acct_number.expose());
        let config = self.decision_config();
        // A low-value exemption counts against the card's counters; two AReqs for one card
        // may read the same counters, so the write is conditional and the loser decides again.
        for _ in 0..8 {
            let facts = self.card_facts(&lookup).await?;
            let history = facts.as_ref().map_or_else(LowValueHistory::default, |f| LowValueHistory {
                count_since_sca: u32::try_from(f.card.lv_count).unwrap_or(u32::MAX),
                cumulative_eur_cents_since_sca: u64::try_from(f.card.lv_eur_cents).unwrap_or(u64::MAX),
            });
            let state = facts.as_ref().map_or(CardState::Unknown, |f| f.state);
            let mut decided = decision::decide(state, &tx, history, &config);
            let mut ares = self.ares_for(&areq, &acs_trans_id);
            ares.trans_status = TransStatus::from_code(decided.trans_status()).unwrap_or(TransStatus::Unavailable);
            ares.trans_status_reason = decided.trans_status_reason().map(str::to_owned);
            if areq.device_channel == DeviceChannel::App && matches!(decided, Decision::Challenge { .. }) {
                // sigillo challenges in the browser only, not through a 3DS SDK in an app.
                decided = Decision::NotAuthenticated {
                    status: decision::NotAuthenticatedStatus::U,
                    reason: TransStatusReason::UnsupportedDevice,
                };
                ares.trans_status = TransStatus::Unavailable;
                ares.trans_status_reason = decided.trans_status_reason().map(str::to_owned);
            }
            let Some(facts) = facts else {
                self.count_ares(&ares);
                return Ok(AcsAnswer::ARes(Box::new(ares)));
            };
            let mut exemption = None;
            match decided {
                Decision::Frictionless { exemption: e, eci } => {
                    exemption = Some(e);
                    let pan_digest = pan_digest(&facts.card);
                    let input = AuthValueInput {
                        acs_trans_id: &acs_trans_id,
                        ds_trans_id: &areq.ds_trans_id,
                        pan_digest: &pan_digest,
                        amount_minor: tx.amount_minor,
                        currency: tx.currency,
                        merchant_name: areq.merchant_name.as_deref().unwrap_or_default(),
                        purchase_date: areq.purchase_date.as_deref().unwrap_or_default(),
                        trans_status: "Y",
                    };
                    ares.authentication_value = Some(self.authentication_value(facts.brand, &input));
                    ares.eci = Some(eci.to_owned());
                }
                Decision::Challenge { .. } => {
                    ares.acs_url = Some(self.acs_challenge_url());
                    ares.acs_challenge_mandated = Some(ChallengeMandated::Yes);
                    ares.authentication_type = Some(AuthenticationType::Dynamic);
                }
                Decision::Reject { .. } | Decision::NotAuthenticated { .. } => {}
            }
            let challenge = matches!(decided, Decision::Challenge { .. }).then_some("awaiting");
            let txn = OwnedTransaction {
                acs_trans_id: acs_trans_id.clone(),
                server_trans_id: areq.three_ds_server_trans_id.clone(),
                ds_trans_id: areq.ds_trans_id.clone(),
                card_id: facts.card.id.clone(),
                message_version: areq.message_version.as_str().to_owned(),
                message_category: areq.message_category.code().into_owned(),
                amount_minor: i64::try_from(tx.amount_minor).ok(),
                currency: Some(i64::from(tx.currency)),
                exponent: areq.purchase_exponent.as_deref().and_then(|e| e.parse().ok()),
                merchant_name: areq.merchant_name.clone().unwrap_or_default(),
                purchase_date: areq.purchase_date.clone(),
                ds_url: ds_url.to_owned(),
                notification_url: areq.notification_url.clone(),
                status: ares.trans_status.code().into_owned(),
                status_reason: ares.trans_status_reason.clone(),
                exemption: exemption.map(exemption_name),
                challenge,
                auth_value: ares.authentication_value.clone(),
                eci: ares.eci.clone(),
                created_at: now.0,
                expires_at: now.plus(Duration::from_secs(self.cfg.acs.challenge_ttl_secs)).0,
            };
            // RTS art. 16: every payment let through without SCA counts towards the limits.
            let low_value = exemption.map(|_| {
                let seen = (facts.card.lv_count, facts.card.lv_eur_cents);
                (facts.card.id.clone(), seen, i64::try_from(tx.amount_minor).unwrap_or(i64::MAX))
            });
            match self.journal.write(Entry { txn, low_value }).await? {
                Written::Stored => {}
                Written::LowValueRaced => continue,
                Written::Duplicate => return Ok(erro(ErrorCode::TransactionDataInvalid, "dsTransID")),
            }
            self.count_ares(&ares);
            return Ok(AcsAnswer::ARes(Box::new(ares)));
        }
        Err(ServiceError::Internal(anyhow::anyhow!("low-value counters kept changing under this AReq")))
    }

    fn count_ares(&self, ares: &ARes) {
        self.metrics.threeds_messages.with_label_values(&["ares", &ares.trans_status.code()]).inc();
    }

    /// The card of a PAN digest and its state for the decision, in one read.
    async fn card_facts(&self, lookup: &[u8; 32]) -> ServiceResult<Option<CardFacts>> {
        let found = {
            let mut conn = self.store.conn().await?;
            cards::for_acs(&mut conn, lookup).await?
        };
        let Some(found) = found else {
            return Ok(None);
        };
        let brand = parse_brand(&found.card.brand)?;
        let state = if !found.card.enrolled {
            CardState::NotEnrolled
        } else if found.key6_locked(self.now().0) {
            CardState::Key6Blocked
        } else {
            CardState::Enrolled { brand, has_app: found.has_app(), has_sms_phone: found.card.key6_sealed.is_some() }
        };
        Ok(Some(CardFacts { card: found.card, brand, state }))
    }

    fn decision_config(&self) -> DecisionConfig {
        DecisionConfig {
            low_value_enabled: self.cfg.acs.low_value_exemption,
            tra_limit_eur_cents: self.cfg.acs.tra_limit_eur_cents,
            ..DecisionConfig::default()
        }
    }

    /// The base64 `authenticationValue` for a transaction with this brand's key.
    pub(crate) fn authentication_value(&self, brand: Brand, input: &AuthValueInput<'_>) -> String {
        let key = match brand {
            Brand::Visa => &self.av_keys.visa,
            Brand::Mastercard => &self.av_keys.mastercard,
        };
        authval::to_base64(&authval::authentication_value(key, brand, input))
    }

    /// An ARes for `areq` with the ids and the ACS's own fields; the caller sets the outcome.
    fn ares_for(&self, areq: &AReq, acs_trans_id: &str) -> ARes {
        ARes {
            message_type: "ARes".into(),
            message_version: areq.message_version,
            three_ds_server_trans_id: areq.three_ds_server_trans_id.clone(),
            ds_trans_id: areq.ds_trans_id.clone(),
            ds_reference_number: Some(areq.ds_reference_number.clone()),
            sdk_trans_id: areq.sdk_trans_id.clone(),
            acs_trans_id: acs_trans_id.to_owned(),
            acs_reference_number: self.cfg.acs.reference_number.clone(),
            acs_operator_id: self.cfg.acs.operator_id.clone(),
            trans_status: TransStatus::Unavailable,
            trans_status_reason: None,
            acs_url: None,
            acs_challenge_mandated: None,
            authentication_type: None,
            authentication_value: None,
            eci: None,
            message_extension: None,
        }
    }

    /// `acsURL`: where the browser posts the CReq.
    pub fn acs_challenge_url(&self) -> String {
        let base = if self.cfg.acs.public_url.is_empty() { &self.cfg.public_url } else { &self.cfg.acs.public_url };
        format!("{}/3ds/v2/challenge", base.trim_end_matches('/'))
    }

    fn ds_url_allowed(&self, url: &str) -> bool {
        let prefixes = &self.cfg.acs.ds_url_prefixes;
        if prefixes.is_empty() {
            return self.cfg.dev_mode && (url.starts_with("http://") || url.starts_with("https://"));
        }
        prefixes.iter().any(|p| url.starts_with(p.as_str()))
    }
}

/// An `Erro` about a well-formed AReq whose content the ACS cannot accept.
fn erro_for(areq: &AReq, code: ErrorCode, detail: &str) -> Box<Erro> {
    Box::new(Erro {
        message_type: "Erro".into(),
        message_version: areq.message_version.as_str().into(),
        error_code: code,
        error_component: ERROR_COMPONENT_ACS.into(),
        error_description: code.description().into(),
        error_detail: detail.into(),
        error_message_type: Some("AReq".into()),
        three_ds_server_trans_id: Some(areq.three_ds_server_trans_id.clone()),
        ds_trans_id: Some(areq.ds_trans_id.clone()),
        acs_trans_id: None,
        sdk_trans_id: areq.sdk_trans_id.clone(),
    })
}

/// The card's PAN digest as the authentication value binds it (the keyed look-up digest,
/// so the full PAN need not be opened).
pub(crate) fn pan_digest(card: &Card) -> [u8; 32] {
    card.pan_lookup.as_slice().try_into().unwrap_or([0; 32])
}

pub(crate) fn parse_brand(brand: &str) -> ServiceResult<Brand> {
    match brand {
        "visa" => Ok(Brand::Visa),
        "mastercard" => Ok(Brand::Mastercard),
        other => Err(ServiceError::Internal(anyhow::anyhow!("card brand {other:?} in the store"))),
    }
}

/// The AReq element a [`decision::TransactionError`] is about, for `errorDetail`.
fn transaction_field(e: decision::TransactionError) -> &'static str {
    match e {
        decision::TransactionError::MissingPurchase | decision::TransactionError::Amount => "purchaseAmount",
        decision::TransactionError::Currency => "purchaseCurrency",
        decision::TransactionError::Exponent => "purchaseExponent",
    }
}

fn exemption_name(e: decision::Exemption) -> &'static str {
    match e {
        decision::Exemption::LowValue => "low_value",
        decision::Exemption::Tra => "tra",
    }
}
