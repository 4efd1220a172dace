//! The JSON control endpoints that browser tests and demos use instead of the Rust API.

use serde_json::{Value, json};

use crate::challenge::run_challenge;
use crate::support::{self, CHALLENGE_PAN};

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_purchase_driven_over_http_is_inspectable_over_http() {
    let (sim, acs) = support::start().await;
    let base = sim.base_url().to_owned();
    let (status, pending) =
        call(reqwest::Method::POST, format!("{base}/sim/fail-next-rreqs"), Some(json!({"n": 1}))).await;
    assert_eq!((status, pending), (200, json!({"pending_failures": 1})));

    let request = json!({"acs": acs.base_url, "pan": CHALLENGE_PAN, "amount_minor": 1250, "window_size": "04"});
    let (status, started) = call(reqwest::Method::POST, format!("{base}/sim/purchase"), Some(request)).await;
    assert_eq!(status, 200);
    assert_eq!(started["areq"]["purchaseAmount"], "1250");
    assert_eq!(started["response"]["transStatus"], "C");
    assert_eq!(started["http_status"], 200);
    assert_eq!(started["problems"], json!([]));
    run_challenge(started["checkout_url"].as_str().unwrap()).await;

    let (_, rreqs) = call(reqwest::Method::GET, format!("{base}/sim/rreqs"), None).await;
    assert_eq!(rreqs.as_array().unwrap().len(), 1);
    assert_eq!(rreqs[0]["acsTransID"], started["response"]["acsTransID"]);
    assert_eq!(acs.rreq_attempts().iter().map(|a| a.status).collect::<Vec<_>>(), [500, 200]);
    let (_, notifications) = call(reqwest::Method::GET, format!("{base}/sim/notifications"), None).await;
    assert_eq!(notifications[0]["cres"]["transStatus"], "Y");
    assert_eq!(notifications[0]["session_data_matches"], true);
    assert_eq!(notifications[0]["problems"], json!([]));
}

#[tokio::test]
async fn an_unreachable_acs_is_a_bad_gateway() {
    let (sim, _acs) = support::start().await;
    // Port 9 (discard) on loopback: nothing listens there in the test environment.
    let request = json!({"acs": "http://127.0.0.1:9", "pan": CHALLENGE_PAN, "amount_minor": 1});
    let (status, body) = call(reqwest::Method::POST, format!("{}/sim/purchase", sim.base_url()), Some(request)).await;
    assert_eq!(status, 502);
    assert!(body["error"].as_str().unwrap().contains("sending the AReq"));
}
