//! The simulated DS's RReq endpoint: failures on demand, duplicates and refusals.

use std::time::Duration;

use serde_json::{Value, json};
use sigillo_3ds_sim::AreqOutcome;

use crate::challenge::{challenge_purchase, run_challenge};
use crate::support;

/// A complete, valid RReq for the challenge `outcome` announced.
fn rreq_for(outcome: &AreqOutcome) -> Value {
    let ares = outcome.ares.as_ref().unwrap();
    json!({
        "threeDSServerTransID": ares["threeDSServerTransID"], "acsTransID": ares["acsTransID"],
        "dsTransID": ares["dsTransID"], "messageType": "RReq", "messageVersion": "2.2.0",
        "messageCategory": "01", "transStatus": "Y", "interactionCounter": "01",
        "authenticationValue": "AAABBZEEBgAAAAAAAAQGAAAAAAA=", "eci": "05",
    })
}

async fn post_rreq(outcome: &AreqOutcome, body: &Value) -> (u16, Value) {
    let ds_url = outcome.areq["dsURL"].as_str().unwrap();
    let response = reqwest::Client::new().post(ds_url).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn failures_on_demand_make_the_acs_retry_until_it_lands() {
    let (sim, acs) = support::start().await;
    sim.fail_next_rreqs(2);
    let outcome = challenge_purchase(&sim, &acs, "02").await;
    run_challenge(outcome.checkout_url.as_deref().unwrap()).await;
    let statuses: Vec<u16> = acs.rreq_attempts().iter().map(|a| a.status).collect();
    assert_eq!(statuses, [500, 500, 200]);
    let exchanges = sim.ds_exchanges();
    let failed: Vec<bool> = exchanges.iter().map(|e| e.failed_on_demand()).collect();
    assert_eq!(failed, [true, true, false]);
    assert!(exchanges[2].accepted());
    assert_eq!(sim.rreqs().len(), 1);
    let acs_id = outcome.ares.unwrap()["acsTransID"].as_str().unwrap().to_owned();
    assert!(sim.wait_rreq(&acs_id, Duration::from_secs(1)).await.is_some());
}

#[tokio::test]
async fn a_duplicate_rreq_is_recorded_and_answered_with_erro() {
    let (sim, acs) = support::start().await;
    let outcome = challenge_purchase(&sim, &acs, "02").await;
    run_challenge(outcome.checkout_url.as_deref().unwrap()).await;
    let (status, answer) = post_rreq(&outcome, &sim.rreqs()[0]).await;
    assert_eq!(status, 200);
    assert_eq!(answer["messageType"], "Erro");
    assert_eq!(answer["errorCode"], "305");
    assert_eq!(answer["errorComponent"], "D");
    assert_eq!(answer["acsTransID"], outcome.ares.as_ref().unwrap()["acsTransID"]);
    assert_eq!(sim.rreqs().len(), 2);
}

#[tokio::test]
async fn rreqs_that_break_the_rules_get_the_matching_erro() {
    let (sim, acs) = support::start().await;
    let outcome = challenge_purchase(&sim, &acs, "02").await;
    let valid = rreq_for(&outcome);
    let altered = |change: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut rreq = valid.clone();
        change(rreq.as_object_mut().unwrap());
        rreq
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([1, 2]), "101", "body is not a JSON object"),
        (altered(&|r| drop(r.insert("messageType".into(), json!("RRes")))), "101", "messageType"),
        (altered(&|r| drop(r.remove("interactionCounter"))), "201", "interactionCounter"),
        (altered(&|r| drop(r.insert("transStatus".into(), json!("C")))), "203", "transStatus"),
        (altered(&|r| drop(r.insert("eci".into(), json!(5)))), "203", "eci"),
        (altered(&|r| drop(r.insert("dsTransID".into(), json!(uuid::Uuid::new_v4().to_string())))), "301", "dsTransID"),
        (
            altered(&|r| drop(r.insert("threeDSServerTransID".into(), json!(uuid::Uuid::new_v4().to_string())))),
            "301",
            "threeDSServerTransID",
        ),
        (
            altered(&|r| drop(r.insert("messageVersion".into(), json!("2.1.0")))),
            "203",
            "messageVersion differs from the AReq's",
        ),
        (altered(&|r| drop(r.remove("authenticationValue"))), "201", "authenticationValue"),
        (altered(&|r| drop(r.insert("transStatus".into(), json!("N")))), "201", "transStatusReason"),
    ];
    for (rreq, code, detail) in cases {
        let (status, answer) = post_rreq(&outcome, &rreq).await;
        assert_eq!(status, 200);
        assert_eq!(answer["messageType"], "Erro", "{rreq}");
        assert_eq!(
            (answer["errorCode"].as_str(), answer["errorDetail"].as_str()),
            (Some(code), Some(detail)),
            "{rreq}"
        );
        assert_eq!(answer["errorMessageType"], "RReq");
    }
    assert!(sim.ds_exchanges().iter().all(|e| !e.accepted()));
    let (_, answer) = post_rreq(&outcome, &valid).await;
    assert_eq!(answer["messageType"], "RRes");
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_erro_101() {
    let (sim, acs) = support::start().await;
    let outcome = challenge_purchase(&sim, &acs, "02").await;
    let ds_url = outcome.areq["dsURL"].as_str().unwrap();
    let response = reqwest::Client::new().post(ds_url).body("RReq?").send().await.unwrap();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["errorCode"], "101");
    assert!(sim.rreqs().is_empty(), "a body that is not JSON is no RReq");
    assert_eq!(sim.ds_exchanges().len(), 1);
}
