//! A card purchase as a test or a demo describes it ([`Purchase`]), and the browser-channel
//! AReq that the simulated DS forwards to the ACS for it ([`build_areq`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One purchase to authenticate. Field defaults come from [`Purchase::new`]; over the JSON
/// control endpoint every field but `pan` and `amount_minor` may be left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Purchase {
    /// Card number (`acctNumber`).
    pub pan: String,
    /// `cardExpiryDate`, YYMM.
    pub expiry: String,
    /// `purchaseAmount` in minor units.
    pub amount_minor: u64,
    /// `purchaseCurrency`, ISO 4217 numeric (978 = EUR).
    pub currency: u16,
    /// `purchaseExponent`: decimals of the currency.
    pub exponent: u8,
    /// `merchantName`.
    pub merchant_name: String,
    /// `threeDSRequestorChallengeInd`, if the merchant states a preference ("01"–"09").
    pub challenge_ind: Option<String>,
    /// `challengeWindowSize` of the CReq ("01"–"05").
    pub window_size: String,
    /// `messageVersion`: "2.2.0" or "2.1.0".
    pub message_version: String,
    /// `messageCategory`: "01" payment (PA) or "02" non-payment (NPA).
    pub message_category: String,
}

impl Purchase {
    /// A euro payment of `amount_minor` cents with `pan`, version 2.2.0, a 390×400 window.
    pub fn new(pan: impl Into<String>, amount_minor: u64) -> Self {
        Self { pan: pan.into(), amount_minor, ..Self::default() }
    }
}

impl Default for Purchase {
    fn default() -> Self {
        Self {
            pan: String::new(),
            expiry: "3012".into(),
            amount_minor: 0,
            currency: 978,
            exponent: 2,
            merchant_name: "Sigillo Demo Shop".into(),
            challenge_ind: None,
            window_size: "02".into(),
            message_version: "2.2.0".into(),
            message_category: "01".into(),
        }
    }
}

/// The ids and addresses one AReq carries besides the purchase itself.
#[derive(Clone, Debug)]
pub struct AreqContext<'a> {
    pub three_ds_server_trans_id: &'a str,
    pub ds_trans_id: &'a str,
    /// The simulator's own base URL, e.g. `http://127.0.0.1:41234`.
    pub sim_base_url: &'a str,
    pub now: DateTime<Utc>,
}

/// The 3DS Requestor the simulator pretends to be; the values are stable so tests and
/// the ACS's logs can recognise them.
const REQUESTOR_ID: &str = "SIGILLO-SIM-REQ-0001";
const REQUESTOR_NAME: &str = "Sigillo 3DS simulator";
const SERVER_REF_NUMBER: &str = "3DS_LOA_SER_SGLS_020200_00001";
const SERVER_OPERATOR_ID: &str = "SIGILLO-SIM-OPERATOR";
const DS_REFERENCE_NUMBER: &str = "3DS_LOA_DIS_SGLS_020200_00001";

/// The AReq as the DS forwards it to the ACS for a browser (deviceChannel 02) purchase,
/// with the fields of EMV 3DS 2.2.0 Table A.1 that a browser payment carries.
pub fn build_areq(purchase: &Purchase, ctx: &AreqContext<'_>) -> Value {
    let base = ctx.sim_base_url.trim_end_matches('/');
    let mut areq = json!({
        "messageType": "AReq",
        "messageVersion": purchase.message_version,
        "messageCategory": purchase.message_category,
        "deviceChannel": "02",
        "threeDSServerTransID": ctx.three_ds_server_trans_id,
        "threeDSServerRefNumber": SERVER_REF_NUMBER,
        "threeDSServerOperatorID": SERVER_OPERATOR_ID,
        "threeDSRequestorID": REQUESTOR_ID,
        "threeDSRequestorName": REQUESTOR_NAME,
        "threeDSRequestorURL": format!("{base}/"),
        // 01: payment transaction.
        "threeDSRequestorAuthenticationInd": "01",
        // Y: the 3DS Method completed (the simulator does not run one; the ACS has none to offer).
        "threeDSCompInd": "Y",
        "dsTransID": ctx.ds_trans_id,
        "dsReferenceNumber": DS_REFERENCE_NUMBER,
        "dsURL": format!("{base}/ds/rreq"),
        "notificationURL": format!("{base}/merchant/notify"),
        "acctNumber": purchase.pan,
        "cardExpiryDate": purchase.expiry,
        "cardholderName": "Maria Rossi",
        "email": "maria.rossi@example.invalid",
        "purchaseAmount": purchase.amount_minor.to_string(),
        "purchaseCurrency": format!("{:03}", purchase.currency),
        "purchaseExponent": purchase.exponent.to_string(),
        "purchaseDate": ctx.now.format("%Y%m%d%H%M%S").to_string(),
        // 01: goods or service purchase.
        "transType": "01",
        "merchantName": purchase.merchant_name,
        // 5732: electronics stores.
        "mcc": "5732",
        "merchantCountryCode": "380",
        "acquirerBIN": "412345",
        "acquirerMerchantID": "SIGILLO-MERCHANT-01",
        "browserAcceptHeader": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "browserIP": "127.0.0.1",
        "browserJavaEnabled": false,
        "browserLanguage": "it-IT",
        "browserColorDepth": "24",
        "browserScreenHeight": "1080",
        "browserScreenWidth": "1920",
        // Minutes to add to local time for UTC, as JavaScript's getTimezoneOffset gives it (CET).
        "browserTZ": "-60",
        "browserUserAgent": "Mozilla/5.0 (X11; Linux x86_64) sigillo-3ds-sim",
    });
    if let Value::Object(fields) = &mut areq {
        // browserJavascriptEnabled is new in 2.2.0; a 2.1.0 message must not carry it.
        if purchase.message_version != "2.1.0" {
            fields.insert("browserJavascriptEnabled".into(), json!(true));
        }
        if let Some(ind) = &purchase.challenge_ind {
            fields.insert("threeDSRequestorChallengeInd".into(), json!(ind));
        }
    }
    areq
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(now: DateTime<Utc>) -> AreqContext<'static> {
        AreqContext { three_ds_server_trans_id: "s", ds_trans_id: "d", sim_base_url: "http://127.0.0.1:9/", now }
    }

    #[test]
    fn amounts_dates_and_urls_are_formatted_for_the_wire() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut purchase = Purchase::new("4000000000001000", 1250);
        purchase.currency = 36;
        let areq = build_areq(&purchase, &context(now));
        assert_eq!(areq["purchaseAmount"], "1250");
        assert_eq!(areq["purchaseCurrency"], "036");
        assert_eq!(areq["purchaseExponent"], "2");
        assert_eq!(areq["purchaseDate"], "20231114221320");
        assert_eq!(areq["dsURL"], "http://127.0.0.1:9/ds/rreq");
        assert_eq!(areq["notificationURL"], "http://127.0.0.1:9/merchant/notify");
        assert_eq!(areq["browserJavascriptEnabled"], true);
        assert!(areq.get("threeDSRequestorChallengeInd").is_none());
    }

    #[test]
    fn version_210_leaves_out_the_220_only_field() {
        let now = DateTime::from_timestamp(0, 0).unwrap();
        let mut purchase = Purchase::new("4000000000001000", 1);
        purchase.message_version = "2.1.0".into();
        purchase.challenge_ind = Some("04".into());
        let areq = build_areq(&purchase, &context(now));
        assert!(areq.get("browserJavascriptEnabled").is_none());
        assert_eq!(areq["threeDSRequestorChallengeInd"], "04");
    }

    #[test]
    fn control_endpoint_json_needs_only_pan_and_amount() {
        let purchase: Purchase =
            serde_json::from_value(json!({"pan": "4000000000001000", "amount_minor": 999})).unwrap();
        assert_eq!(purchase, Purchase::new("4000000000001000", 999));
    }
}
