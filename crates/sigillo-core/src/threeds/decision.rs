//! The ACS's authentication decision for an AReq, as a pure function: [`decide`].
//!
//! Inputs are plain fields (the card's state, the transaction, the cardholder's low-value
//! history since the last SCA, the configuration); the transaction uses the message
//! enumerations of [`super::messages`] and is read from an AReq by [`Transaction::from_areq`]. The output is a [`Decision`] that maps onto the ARes `transStatus` and
//! `transStatusReason` (EMV 3DS 2.2.0 data elements).
//!
//! The rules, in the order they are applied:
//! 1. Unknown card → `N`, reason 08 "No Card record".
//! 2. Card not enrolled in 3-D Secure → `U`, reason 13 "Cardholder not enrolled in service".
//! 3. Key6 blocked (RTS art. 4(3)(b): five consecutive failures) → `R`, reason 01
//!    "Card authentication failed".
//! 4. 3RI (device channel 03: no cardholder present, so no challenge possible and no payer
//!    initiation) → `U`, reason 21 "3RI transaction not supported".
//! 5. Frictionless `Y` only through an exemption of the PSD2 RTS, and only when the requestor
//!    did not request or mandate a challenge (`threeDSRequestorChallengeInd` 03, 04, 09), the
//!    message category is PA and the currency is EUR:
//!    - art. 18 TRA: indicator 05 and a configured limit and amount ≤ limit;
//!    - art. 16 low value: amount ≤ 30 EUR and (cumulative ≤ 100 EUR or count ≤ 5 since the
//!      last SCA, this transaction included).
//! 6. Otherwise a challenge (`C`, PSD2 art. 97 / RTS art. 4: SCA is the rule) with the methods
//!    the card has; a card with none cannot be challenged → `U`, reason 13.
//!
//! The reason codes are those of EMV 3DS 2.2.0 `transStatusReason` (01–26 defined, 27–79
//! reserved for EMVCo, 80–99 for the DS).

use super::authval::{self, Brand, EciOutcome};
use super::messages::{AReq, ChallengeInd, DeviceChannel, MessageCategory, TransStatusReason};
use super::validate::expected_exponent;
use thiserror::Error;

/// ISO 4217 numeric code of the euro, the only currency the RTS exemptions are counted in.
pub const EUR: u16 = 978;

/// RTS art. 16(a): a low-value remote transaction is at most EUR 30.
pub const RTS16_MAX_EUR_CENTS: u64 = 3_000;
/// RTS art. 16(b): cumulative at most EUR 100 since the last SCA.
pub const RTS16_CUMULATIVE_MAX_EUR_CENTS: u64 = 10_000;
/// RTS art. 16(c): at most five consecutive transactions since the last SCA.
pub const RTS16_MAX_COUNT: u32 = 5;
/// RTS art. 18 and Annex: the highest Exemption Threshold Value for remote card payments,
/// EUR 500 (fraud rate ≤ 0.01 %). A configured TRA limit above it is capped to it.
pub const RTS18_MAX_ETV_EUR_CENTS: u64 = 50_000;

/// What the ACS knows about the card of the AReq's `acctNumber`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardState {
    /// No card record for this PAN.
    Unknown,
    /// The card exists but is not enrolled in 3-D Secure.
    NotEnrolled,
    /// Key6 is blocked after five consecutive failures (issue 5; RTS art. 4(3)(b)).
    Key6Blocked,
    /// Enrolled, with the challenge methods the holder has.
    Enrolled {
        brand: Brand,
        /// A bound device that can approve out of band ("approve in the app").
        has_app: bool,
        /// A 3-D Secure phone number for SMS OTP + Key6.
        has_sms_phone: bool,
    },
}

/// The transaction, as far as the decision is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// `purchaseAmount` in minor units of `currency` (cents for EUR); 0 for an NPA without one.
    pub amount_minor: u64,
    /// `purchaseCurrency`, ISO 4217 numeric; 0 for an NPA without one.
    pub currency: u16,
    pub category: MessageCategory,
    pub channel: DeviceChannel,
    /// `threeDSRequestorChallengeInd`; absent means 01, no preference (Table A.1).
    pub challenge_ind: Option<ChallengeInd>,
}

/// Why an AReq's purchase fields do not make a [`Transaction`]. `parse_areq` refuses all of
/// these already, so meeting one means the AReq did not come through it.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum TransactionError {
    #[error("a payment AReq without purchaseAmount, purchaseCurrency or purchaseExponent")]
    MissingPurchase,
    #[error("purchaseAmount is not a number of minor units that fits in 64 bits")]
    Amount,
    #[error("purchaseCurrency is not a three-digit ISO 4217 code")]
    Currency,
    #[error("purchaseExponent is not the currency's ISO 4217 minor unit")]
    Exponent,
}

impl Transaction {
    /// The decision's view of a validated AReq. `purchaseAmount` is already in minor units
    /// (Table A.1: "minor units of currency with all punctuation removed"), and
    /// `purchaseExponent` must be the currency's ISO 4217 minor unit, so the amount is taken
    /// as it is: amounts in different currencies are never compared here (exemptions are EUR
    /// only). An NPA without purchase fields gives amount 0 and currency 0.
    pub fn from_areq(areq: &AReq) -> Result<Transaction, TransactionError> {
        let purchase = (&areq.purchase_amount, &areq.purchase_currency, &areq.purchase_exponent);
        let (amount_minor, currency) = match purchase {
            (Some(amount), Some(currency), Some(exponent)) => {
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                if !digits(amount) {
                    return Err(TransactionError::Amount);
                }
                // Leading zeros are allowed (Table A.1 shows `012345`); u64 parsing takes them.
                let amount_minor: u64 = amount.parse().map_err(|_| TransactionError::Amount)?;
                if currency.len() != 3 || !digits(currency) {
                    return Err(TransactionError::Currency);
                }
                let numeric: u16 = currency.parse().map_err(|_| TransactionError::Currency)?;
                if exponent != expected_exponent(currency) {
                    return Err(TransactionError::Exponent);
                }
                (amount_minor, numeric)
            }
            (None, None, None) if areq.message_category != MessageCategory::Payment => (0, 0),
            _ => return Err(TransactionError::MissingPurchase),
        };
        Ok(Transaction {
            amount_minor,
            currency,
            category: areq.message_category,
            channel: areq.device_channel,
            challenge_ind: areq.three_ds_requestor_challenge_ind,
        })
    }

    /// Whether the requestor asked for, or is mandated to have, a challenge.
    fn wants_challenge(&self) -> bool {
        self.challenge_ind.is_some_and(ChallengeInd::wants_challenge)
    }
}

/// The cardholder's remote payments since the last SCA, **excluding** this one. The caller
/// keeps them: it adds every payment that went through without SCA (whatever the exemption)
/// and resets both on every successful SCA (RTS art. 16(b), (c): "since the last application
/// of strong customer authentication").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LowValueHistory {
    pub count_since_sca: u32,
    pub cumulative_eur_cents_since_sca: u64,
}

/// The frictionless cases the bank enables. Values above the RTS limits are capped to them
/// when deciding, so no configuration can make sigillo exempt more than the RTS allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionConfig {
    /// RTS art. 16 low-value exemption on or off.
    pub low_value_enabled: bool,
    /// Per transaction; RTS art. 16(a) maximum 3000.
    pub low_value_max_eur_cents: u64,
    /// Cumulative since the last SCA, this one included; RTS art. 16(b) maximum 10000.
    pub low_value_cumulative_max_eur_cents: u64,
    /// Count since the last SCA, this one included; RTS art. 16(c) maximum 5.
    pub low_value_max_count: u32,
    /// The amount up to which the requestor's TRA (indicator 05) is accepted, RTS art. 18(1)
    /// and Annex; `None` turns the TRA exemption off.
    pub tra_limit_eur_cents: Option<u64>,
}

impl Default for DecisionConfig {
    /// The RTS art. 16 values, low value on, TRA off.
    fn default() -> Self {
        Self {
            low_value_enabled: true,
            low_value_max_eur_cents: RTS16_MAX_EUR_CENTS,
            low_value_cumulative_max_eur_cents: RTS16_CUMULATIVE_MAX_EUR_CENTS,
            low_value_max_count: RTS16_MAX_COUNT,
            tra_limit_eur_cents: None,
        }
    }
}

/// Why a transaction went through without a challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exemption {
    /// RTS art. 16.
    LowValue,
    /// RTS art. 18, on the requestor's indicator 05.
    Tra,
}

/// The challenge methods available for the card (issue 5: app approval, or SMS OTP + Key6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChallengeMethods {
    pub app: bool,
    pub sms_key6: bool,
}

/// `N` or `U`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotAuthenticatedStatus {
    /// `N`: not authenticated, transaction denied.
    N,
    /// `U`: authentication could not be performed.
    U,
}

/// The ACS's answer to an AReq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// `Y` without a challenge, with the ECI for an authenticated transaction.
    Frictionless { exemption: Exemption, eci: &'static str },
    /// `C`: challenge the cardholder with one of `methods`.
    Challenge { methods: ChallengeMethods },
    /// `R`: the issuer rejects; the merchant must not attempt authorisation.
    Reject { reason: TransStatusReason },
    /// `N` or `U`.
    NotAuthenticated { status: NotAuthenticatedStatus, reason: TransStatusReason },
}

impl Decision {
    /// The ARes `transStatus`.
    pub fn trans_status(&self) -> &'static str {
        match self {
            Self::Frictionless { .. } => "Y",
            Self::Challenge { .. } => "C",
            Self::Reject { .. } => "R",
            Self::NotAuthenticated { status: NotAuthenticatedStatus::N, .. } => "N",
            Self::NotAuthenticated { status: NotAuthenticatedStatus::U, .. } => "U",
        }
    }

    /// The ARes `transStatusReason`: present for `N`, `U` and `R` (EMV 3DS 2.2.0 requires it
    /// for those in the ARes), absent for `Y` and `C`.
    pub fn trans_status_reason(&self) -> Option<&'static str> {
        match self {
            Self::Frictionless { .. } | Self::Challenge { .. } => None,
            Self::Reject { reason } | Self::NotAuthenticated { reason, .. } => Some(reason.as_str()),
        }
    }
}

/// Decides the ARes for one AReq. See the module docs for the rules and their order.
pub fn decide(card: CardState, tx: &Transaction, history: LowValueHistory, config: &DecisionConfig) -> Decision {
    let (brand, has_app, has_sms_phone) = match card {
        // EMV 3DS reason 08: the PAN is in our ranges but we hold no record of it; deny.
        CardState::Unknown => {
            return Decision::NotAuthenticated {
                status: NotAuthenticatedStatus::N,
                reason: TransStatusReason::NoCardRecord,
            };
        }
        // Reason 13: we cannot authenticate this holder; `U` leaves the decision to
        // authorisation (which, under PSD2, soft-declines a payment that needs SCA).
        CardState::NotEnrolled => {
            return Decision::NotAuthenticated {
                status: NotAuthenticatedStatus::U,
                reason: TransStatusReason::CardholderNotEnrolled,
            };
        }
        // RTS art. 4(3)(b): after five consecutive failures the authentication is blocked, so
        // no exemption either; `R` tells the merchant not to attempt authorisation. Reason 01
        // because the block is the result of failed card authentications.
        CardState::Key6Blocked => return Decision::Reject { reason: TransStatusReason::CardAuthenticationFailed },
        CardState::Enrolled { brand, has_app, has_sms_phone } => (brand, has_app, has_sms_phone),
    };

    // EMV 3DS: in 3RI the cardholder is absent, so the ACS cannot challenge; the RTS
    // exemptions are for payer-initiated transactions. sigillo does not support 3RI: reason 21.
    if tx.channel == DeviceChannel::ThreeRi {
        return Decision::NotAuthenticated {
            status: NotAuthenticatedStatus::U,
            reason: TransStatusReason::ThreeRiNotSupported,
        };
    }

    if let Some(exemption) = exemption(tx, history, config) {
        return Decision::Frictionless { exemption, eci: authval::eci(brand, EciOutcome::Authenticated) };
    }

    // PSD2 art. 97(1)(b) / RTS art. 4: SCA is the rule when no exemption applies.
    let methods = ChallengeMethods { app: has_app, sms_key6: has_sms_phone };
    if !methods.app && !methods.sms_key6 {
        // Enrolled but with no way to authenticate: as good as not enrolled (reason 13).
        return Decision::NotAuthenticated {
            status: NotAuthenticatedStatus::U,
            reason: TransStatusReason::CardholderNotEnrolled,
        };
    }
    Decision::Challenge { methods }
}

/// The exemption that applies, if any. All exemptions need: no challenge requested or mandated
/// by the requestor, a payment (the RTS exemptions are for payment transactions, so never NPA),
/// in EUR (the RTS thresholds are in EUR; sigillo does no currency conversion).
fn exemption(tx: &Transaction, history: LowValueHistory, config: &DecisionConfig) -> Option<Exemption> {
    if tx.wants_challenge() || tx.category != MessageCategory::Payment || tx.currency != EUR {
        return None;
    }
    let amount = tx.amount_minor;

    // RTS art. 18(1), (2)(b): TRA up to the Exemption Threshold Value. sigillo accepts the
    // requestor's (acquirer's) TRA only when the requestor says it performed it (indicator 05)
    // and the bank configured a limit; the limit is capped at the Annex's highest ETV.
    if tx.challenge_ind == Some(ChallengeInd::NoChallengeTraPerformed) {
        if let Some(limit) = config.tra_limit_eur_cents {
            if amount <= limit.min(RTS18_MAX_ETV_EUR_CENTS) {
                return Some(Exemption::Tra);
            }
        }
    }

    // RTS art. 16: (a) amount ≤ EUR 30, and (b) cumulative ≤ EUR 100 or (c) ≤ 5 transactions
    // since the last SCA. Both counters include this transaction: the art. 16 text counts
    // "previous" transactions, and counting this one too is the stricter reading, under which
    // the 6th transaction and the one that takes the total over EUR 100 get SCA.
    // Either (b) or (c) suffices: as both only grow until an SCA resets them, any run of
    // exempted transactions this allows satisfies (b) throughout or (c) throughout.
    if config.low_value_enabled {
        let max = config.low_value_max_eur_cents.min(RTS16_MAX_EUR_CENTS);
        let cumulative_max = config.low_value_cumulative_max_eur_cents.min(RTS16_CUMULATIVE_MAX_EUR_CENTS);
        let max_count = config.low_value_max_count.min(RTS16_MAX_COUNT);
        let cumulative = history.cumulative_eur_cents_since_sca.saturating_add(amount);
        let count = history.count_since_sca.saturating_add(1);
        if amount <= max && (cumulative <= cumulative_max || count <= max_count) {
            return Some(Exemption::LowValue);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const VISA_BOTH: CardState = CardState::Enrolled { brand: Brand::Visa, has_app: true, has_sms_phone: true };
    const MC_SMS_ONLY: CardState =
        CardState::Enrolled { brand: Brand::Mastercard, has_app: false, has_sms_phone: true };
    const VISA_APP_ONLY: CardState = CardState::Enrolled { brand: Brand::Visa, has_app: true, has_sms_phone: false };
    const VISA_NO_METHOD: CardState = CardState::Enrolled { brand: Brand::Visa, has_app: false, has_sms_phone: false };

    const BOTH: ChallengeMethods = ChallengeMethods { app: true, sms_key6: true };
    const CHALLENGE: Expected = Expected::Status("C", None);
    const LOW_VALUE_VISA: Expected = Expected::Frictionless(Exemption::LowValue, "05");
    const TRA_VISA: Expected = Expected::Frictionless(Exemption::Tra, "05");

    /// What a row expects: the decision's kind and its ARes fields (for challenges with
    /// methods other than both, the exact methods).
    #[derive(Debug)]
    enum Expected {
        Frictionless(Exemption, &'static str),
        Status(&'static str, Option<&'static str>),
        Methods(ChallengeMethods),
    }

    fn tx(amount_minor: u64, ind: &str) -> Transaction {
        Transaction {
            amount_minor,
            currency: EUR,
            category: MessageCategory::Payment,
            channel: DeviceChannel::Browser,
            // "--" stands for an absent indicator.
            challenge_ind: (ind != "--").then(|| ChallengeInd::from_code(ind).unwrap()),
        }
    }

    fn hist(count_since_sca: u32, cumulative_eur_cents_since_sca: u64) -> LowValueHistory {
        LowValueHistory { count_since_sca, cumulative_eur_cents_since_sca }
    }

    fn tra(limit: u64) -> DecisionConfig {
        DecisionConfig { tra_limit_eur_cents: Some(limit), ..DecisionConfig::default() }
    }

    #[test]
    fn decision_table() {
        let default = DecisionConfig::default();
        let low_value_off = DecisionConfig { low_value_enabled: false, ..default };
        let usd = Transaction { currency: 840, ..tx(1_000, "01") };
        let npa = Transaction { category: MessageCategory::NonPayment, ..tx(0, "01") };
        let app_channel = Transaction { channel: DeviceChannel::App, ..tx(1_000, "02") };
        let three_ri = Transaction { channel: DeviceChannel::ThreeRi, ..tx(1_000, "01") };

        #[rustfmt::skip]
        let table: Vec<(&str, CardState, Transaction, LowValueHistory, DecisionConfig, Expected)> = vec![
            // Card state first: no exemption can override these.
            ("unknown card", CardState::Unknown, tx(1_000, "01"), hist(0, 0), default, Expected::Status("N", Some("08"))),
            ("not enrolled", CardState::NotEnrolled, tx(1_000, "01"), hist(0, 0), default, Expected::Status("U", Some("13"))),
            ("key6 blocked, even at low value", CardState::Key6Blocked, tx(100, "01"), hist(0, 0), default, Expected::Status("R", Some("01"))),
            ("3RI not supported", VISA_BOTH, three_ri, hist(0, 0), default, Expected::Status("U", Some("21"))),
            // RTS art. 16(a): the per-transaction boundary.
            ("30.00 EUR first since SCA", VISA_BOTH, tx(3_000, "01"), hist(0, 0), default, LOW_VALUE_VISA),
            ("30.01 EUR", VISA_BOTH, tx(3_001, "01"), hist(0, 0), default, CHALLENGE),
            ("low value, Mastercard ECI 02", MC_SMS_ONLY, tx(500, "02"), hist(0, 0), default, Expected::Frictionless(Exemption::LowValue, "02")),
            ("low value on the app channel", VISA_BOTH, app_channel, hist(0, 0), default, LOW_VALUE_VISA),
            // RTS art. 16(b): cumulative boundary (count already over 5, so only (b) can hold).
            ("cumulative exactly 100.00", VISA_BOTH, tx(1_000, "01"), hist(7, 9_000), default, LOW_VALUE_VISA),
            ("cumulative 100.01", VISA_BOTH, tx(1_001, "01"), hist(7, 9_000), default, CHALLENGE),
            // RTS art. 16(c): count boundary (cumulative already over 100, so only (c) can hold).
            ("5th transaction, cumulative 150", VISA_BOTH, tx(3_000, "01"), hist(4, 12_000), default, LOW_VALUE_VISA),
            ("6th transaction, cumulative 180", VISA_BOTH, tx(3_000, "01"), hist(5, 15_000), default, CHALLENGE),
            ("6th transaction, cumulative 60: (b) holds", VISA_BOTH, tx(1_000, "01"), hist(5, 5_000), default, LOW_VALUE_VISA),
            // Exemptions need PA, EUR, and the bank's consent.
            ("non-EUR never frictionless", VISA_BOTH, usd, hist(0, 0), default, CHALLENGE),
            ("NPA never frictionless", VISA_BOTH, npa, hist(0, 0), default, CHALLENGE),
            ("low value disabled", VISA_BOTH, tx(1_000, "01"), hist(0, 0), low_value_off, CHALLENGE),
            // The requestor asked for a challenge: never an exemption.
            ("no indicator with low value", VISA_BOTH, tx(1_000, "--"), hist(0, 0), default, LOW_VALUE_VISA),
            ("03 with low value", VISA_BOTH, tx(1_000, "03"), hist(0, 0), default, CHALLENGE),
            ("04 with low value", VISA_BOTH, tx(1_000, "04"), hist(0, 0), default, CHALLENGE),
            ("09 with low value", VISA_BOTH, tx(1_000, "09"), hist(0, 0), default, CHALLENGE),
            ("04 with TRA limit", VISA_BOTH, tx(1_000, "04"), hist(0, 0), tra(25_000), CHALLENGE),
            // RTS art. 18 TRA on indicator 05.
            ("05 at the TRA limit", VISA_BOTH, tx(25_000, "05"), hist(0, 0), tra(25_000), TRA_VISA),
            ("05 above the TRA limit", VISA_BOTH, tx(25_001, "05"), hist(0, 0), tra(25_000), CHALLENGE),
            ("05 without a configured limit", VISA_BOTH, tx(25_000, "05"), hist(0, 0), default, CHALLENGE),
            ("05 above the limit but low value", VISA_BOTH, tx(2_000, "05"), hist(0, 0), tra(1_000), LOW_VALUE_VISA),
            ("05 limit capped at the 500 EUR ETV", VISA_BOTH, tx(50_001, "05"), hist(0, 0), tra(100_000), CHALLENGE),
            ("TRA only on 05, not on 02", VISA_BOTH, tx(25_000, "02"), hist(0, 0), tra(25_000), CHALLENGE),
            ("05 in USD", VISA_BOTH, Transaction { currency: 840, ..tx(1_000, "05") }, hist(0, 0), tra(25_000), CHALLENGE),
            // Configuration above the RTS is capped to it.
            ("40 EUR configured: capped at 30", VISA_BOTH, tx(3_001, "01"), hist(0, 0), DecisionConfig { low_value_max_eur_cents: 4_000, ..default }, CHALLENGE),
            // Challenge methods.
            ("SMS + Key6 only", MC_SMS_ONLY, tx(5_000, "01"), hist(0, 0), default, Expected::Methods(ChallengeMethods { app: false, sms_key6: true })),
            ("app only", VISA_APP_ONLY, tx(5_000, "01"), hist(0, 0), default, Expected::Methods(ChallengeMethods { app: true, sms_key6: false })),
            ("both methods", VISA_BOTH, tx(5_000, "01"), hist(0, 0), default, Expected::Methods(BOTH)),
            ("no method: cannot challenge", VISA_NO_METHOD, tx(5_000, "01"), hist(0, 0), default, Expected::Status("U", Some("13"))),
            ("no method but low value", VISA_NO_METHOD, tx(1_000, "01"), hist(0, 0), default, LOW_VALUE_VISA),
        ];

        for (name, card, tx, history, config, expected) in table {
            let decision = decide(card, &tx, history, &config);
            match expected {
                Expected::Frictionless(exemption, eci) => {
                    assert_eq!(decision, Decision::Frictionless { exemption, eci }, "{name}");
                    assert_eq!((decision.trans_status(), decision.trans_status_reason()), ("Y", None), "{name}");
                }
                Expected::Status(status, reason) => {
                    assert_eq!(decision.trans_status(), status, "{name}: {decision:?}");
                    assert_eq!(decision.trans_status_reason(), reason, "{name}: {decision:?}");
                }
                Expected::Methods(methods) => {
                    assert_eq!(decision, Decision::Challenge { methods }, "{name}");
                    assert_eq!(decision.trans_status(), "C", "{name}");
                }
            }
        }
    }

    #[test]
    fn challenge_indicators_that_want_a_challenge() {
        let wanting: Vec<_> = (1..=9)
            .map(|n| format!("{n:02}"))
            .filter(|c| ChallengeInd::from_code(c).unwrap().wants_challenge())
            .collect();
        assert_eq!(wanting, ["03", "04", "09"]);
        assert!(!ChallengeInd::DsSpecific(85).wants_challenge());
    }

    #[test]
    fn transaction_from_areq() {
        let areq = |fields: serde_json::Value| {
            let mut v = serde_json::json!({
                "messageType": "AReq", "messageVersion": "2.2.0", "messageCategory": "01",
                "deviceChannel": "02", "threeDSServerTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
                "dsTransID": "9b9b9b9b-d2d2-4067-bcb1-b08d1690b26e", "acctNumber": "4111111111111111",
                "dsReferenceNumber": "DS", "threeDSServerRefNumber": "S",
                "threeDSRequestorID": "r", "threeDSRequestorName": "n", "threeDSRequestorURL": "https://x.example",
                "purchaseAmount": "001999", "purchaseCurrency": "978", "purchaseExponent": "2",
                "threeDSRequestorChallengeInd": "05"
            });
            for (k, val) in fields.as_object().unwrap() {
                if val.is_null() {
                    v.as_object_mut().unwrap().remove(k);
                } else {
                    v[k] = val.clone();
                }
            }
            serde_json::from_value::<AReq>(v).unwrap()
        };
        let tx = Transaction::from_areq(&areq(serde_json::json!({}))).unwrap();
        assert_eq!(
            tx,
            Transaction {
                amount_minor: 1_999,
                currency: EUR,
                category: MessageCategory::Payment,
                channel: DeviceChannel::Browser,
                challenge_ind: Some(ChallengeInd::NoChallengeTraPerformed),
            }
        );
        let jpy = areq(serde_json::json!({"purchaseCurrency": "392", "purchaseExponent": "0"}));
        assert_eq!(Transaction::from_areq(&jpy).map(|t| (t.amount_minor, t.currency)), Ok((1_999, 392)));
        let npa = areq(serde_json::json!({
            "messageCategory": "02", "purchaseAmount": null, "purchaseCurrency": null,
            "purchaseExponent": null, "threeDSRequestorChallengeInd": null
        }));
        let tx = Transaction::from_areq(&npa).unwrap();
        assert_eq!((tx.amount_minor, tx.currency, tx.challenge_ind), (0, 0, None));
        let cases = [
            (serde_json::json!({"purchaseAmount": null}), TransactionError::MissingPurchase),
            (serde_json::json!({"purchaseAmount": "99999999999999999999"}), TransactionError::Amount),
            (serde_json::json!({"purchaseAmount": "+1"}), TransactionError::Amount),
            (serde_json::json!({"purchaseCurrency": "EUR"}), TransactionError::Currency),
            (serde_json::json!({"purchaseExponent": "3"}), TransactionError::Exponent),
        ];
        for (fields, expected) in cases {
            assert_eq!(Transaction::from_areq(&areq(fields.clone())), Err(expected), "{fields}");
        }
    }

    #[test]
    fn counters_saturate_instead_of_overflowing() {
        let history = hist(u32::MAX, u64::MAX);
        let decision = decide(VISA_BOTH, &tx(1_000, "01"), history, &DecisionConfig::default());
        assert_eq!(decision, Decision::Challenge { methods: BOTH });
    }
}
