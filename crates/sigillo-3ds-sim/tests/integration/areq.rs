//! The AReq the simulated DS forwards, and how the simulator reads the ACS's answer.

use serde_json::Value;
use sigillo_3ds_sim::Purchase;

use crate::support::{self, CHALLENGE_PAN, FRICTIONLESS_PAN, tags};

/// Elements of a browser (deviceChannel 02) payment AReq in EMV 3DS 2.2.0 Table A.1 that
/// the ACS contract relies on.
const BROWSER_PAYMENT_FIELDS: &[&str] = &[
    "messageType",
    "messageVersion",
    "messageCategory",
    "deviceChannel",
    "threeDSServerTransID",
    "threeDSServerRefNumber",
    "threeDSRequestorID",
    "threeDSRequestorName",
    "threeDSRequestorURL",
    "threeDSRequestorAuthenticationInd",
    "threeDSCompInd",
    "dsTransID",
    "dsReferenceNumber",
    "dsURL",
    "notificationURL",
    "acctNumber",
    "cardExpiryDate",
    "purchaseAmount",
    "purchaseCurrency",
    "purchaseExponent",
    "purchaseDate",
    "merchantName",
    "mcc",
    "merchantCountryCode",
    "acquirerBIN",
    "acquirerMerchantID",
    "browserAcceptHeader",
    "browserIP",
    "browserJavaEnabled",
    "browserJavascriptEnabled",
    "browserLanguage",
    "browserColorDepth",
    "browserScreenHeight",
    "browserScreenWidth",
    "browserTZ",
    "browserUserAgent",
];

fn uuid_v4(value: &Value) -> uuid::Uuid {
    let text = value.as_str().unwrap();
    let id = uuid::Uuid::parse_str(text).unwrap();
    assert_eq!(id.get_version_num(), 4, "{text}");
    assert_eq!(id.hyphenated().to_string(), text, "canonical form");
    id
}

#[tokio::test]
async fn areq_carries_every_browser_payment_field_and_points_back_at_the_sim() {
    let (sim, acs) = support::start().await;
    let outcome = sim.purchase(&acs.base_url, &Purchase::new(FRICTIONLESS_PAN, 1250)).await.unwrap();

    let received = acs.areqs();
    assert_eq!(received.len(), 1);
    let (content_type, areq) = &received[0];
    assert_eq!(content_type.as_deref(), Some("application/json; charset=utf-8"));
    assert_eq!(&outcome.areq, areq);
    for field in BROWSER_PAYMENT_FIELDS {
        let value = &areq[*field];
        assert!(!value.is_null() && value != "", "{field} missing");
    }
    assert_eq!(areq["messageType"], "AReq");
    assert_eq!(areq["messageVersion"], "2.2.0");
    assert_eq!(areq["messageCategory"], "01");
    assert_eq!(areq["deviceChannel"], "02");
    assert_eq!(areq["threeDSRequestorAuthenticationInd"], "01");
    assert_eq!(areq["threeDSCompInd"], "Y");
    assert_ne!(uuid_v4(&areq["threeDSServerTransID"]), uuid_v4(&areq["dsTransID"]));
    assert_eq!(areq["dsURL"], format!("{}/ds/rreq", sim.base_url()));
    assert_eq!(areq["notificationURL"], format!("{}/merchant/notify", sim.base_url()));
    assert_eq!(areq["acctNumber"], FRICTIONLESS_PAN);
    assert_eq!(areq["purchaseAmount"], "1250");
    assert_eq!(areq["purchaseCurrency"], "978");
    assert_eq!(areq["purchaseExponent"], "2");
    let date = areq["purchaseDate"].as_str().unwrap();
    assert!(date.len() == 14 && date.bytes().all(|b| b.is_ascii_digit()) && date.starts_with("20"), "{date}");
    assert_eq!(areq["browserJavascriptEnabled"], true);
    assert!(areq.get("threeDSRequestorChallengeInd").is_none());

    assert_eq!(outcome.http_status, 200);
    assert_eq!(outcome.ares.as_ref().unwrap()["transStatus"], "Y");
    assert!(outcome.erro.is_none() && outcome.checkout_url.is_none());
    assert_eq!(outcome.problems, Vec::<String>::new());
}

#[tokio::test]
async fn version_210_leaves_out_the_javascript_flag_and_ids_are_fresh_per_purchase() {
    let (sim, acs) = support::start().await;
    let mut purchase = Purchase::new(CHALLENGE_PAN, 1);
    purchase.message_version = "2.1.0".into();
    purchase.challenge_ind = Some("04".into());
    let first = sim.purchase(&acs.base_url, &purchase).await.unwrap();
    let second = sim.purchase(&acs.base_url, &purchase).await.unwrap();
    assert!(first.areq.get("browserJavascriptEnabled").is_none());
    assert_eq!(first.areq["threeDSRequestorChallengeInd"], "04");
    assert_eq!(first.ares.as_ref().unwrap()["messageVersion"], "2.1.0");
    for id in ["threeDSServerTransID", "dsTransID"] {
        assert_ne!(first.areq[id], second.areq[id], "{id}");
    }
}

#[tokio::test]
async fn a_frictionless_checkout_shows_the_outcome_at_once_and_unknown_ones_are_404() {
    let (sim, acs) = support::start().await;
    let outcome = sim.purchase(&acs.base_url, &Purchase::new(FRICTIONLESS_PAN, 5)).await.unwrap();
    let id = outcome.areq["threeDSServerTransID"].as_str().unwrap();
    let (status, page) = support::get(&format!("{}/merchant/checkout/{id}", sim.base_url())).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"id="outcome" data-trans-status="Y""#), "{page}");
    assert!(tags(&page, "iframe").is_empty());
    let (status, _) = support::get(&format!("{}/merchant/checkout/{}", sim.base_url(), uuid::Uuid::new_v4())).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_erro_is_returned_whatever_the_http_status() {
    let (sim, acs) = support::start().await;
    let outcome = sim.send_areq_raw(&acs.base_url, "{\"messageType\": \"AReq\",").await.unwrap();
    assert_eq!(outcome.http_status, 400);
    assert!(outcome.areq.is_null() && outcome.ares.is_none());
    assert_eq!(outcome.erro.unwrap()["errorCode"], "101");
}

#[tokio::test]
async fn a_hand_altered_areq_is_sent_as_is() {
    let (sim, acs) = support::start().await;
    let mut areq = sim.build_areq(&Purchase::new(CHALLENGE_PAN, 100));
    areq.as_object_mut().unwrap().remove("acctNumber");
    let outcome = sim.send_areq_raw(&acs.base_url, areq.clone()).await.unwrap();
    assert_eq!(acs.areqs()[0].1, areq);
    assert_eq!(outcome.http_status, 200);
    assert_eq!(outcome.erro.unwrap()["errorCode"], "201");
}
