//! The browser challenge, played over HTTP: the checkout page, the CReq post into the
//! iframe, the ACS's CRes post back to the merchant, and what the simulator recorded.

use std::time::Duration;

use sigillo_3ds_sim::{AreqOutcome, Purchase, Sim};

use crate::support::{self, CHALLENGE_PAN, TestAcs, attribute, decode_b64url_json, first_form, tags};

const WAIT: Duration = Duration::from_secs(5);

/// Opens the checkout page and follows both auto-posted forms as the browser would;
/// returns the checkout page and the notification page.
pub async fn run_challenge(checkout_url: &str) -> (String, String) {
    let (status, checkout) = support::get(checkout_url).await;
    assert_eq!(status, 200);
    let (status, acs_page) = support::submit(&first_form(&checkout)).await;
    assert_eq!(status, 200, "{acs_page}");
    let (status, notified) = support::submit(&first_form(&acs_page)).await;
    assert_eq!(status, 200);
    (checkout, notified)
}

pub async fn challenge_purchase(sim: &Sim, acs: &TestAcs, window_size: &str) -> AreqOutcome {
    let mut purchase = Purchase::new(CHALLENGE_PAN, 4_999);
    purchase.window_size = window_size.into();
    sim.purchase(&acs.base_url, &purchase).await.unwrap()
}

#[tokio::test]
async fn a_challenge_goes_from_checkout_to_rreq_and_cres() {
    let (sim, acs) = support::start().await;
    let outcome = challenge_purchase(&sim, &acs, "03").await;
    let ares = outcome.ares.clone().unwrap();
    let server_id = ares["threeDSServerTransID"].as_str().unwrap();
    let acs_id = ares["acsTransID"].as_str().unwrap();
    assert_eq!(ares["transStatus"], "C");
    assert_eq!(outcome.checkout_url.as_deref(), Some(&*format!("{}/merchant/checkout/{server_id}", sim.base_url())));
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);

    let (checkout, notified) = run_challenge(outcome.checkout_url.as_deref().unwrap()).await;
    let form = first_form(&checkout);
    assert_eq!(form.action, ares["acsURL"]);
    assert_eq!(form.target.as_deref(), Some("challenge"));
    assert_eq!(attribute(tags(&checkout, "iframe")[0], "name").as_deref(), Some("challenge"));
    let creq_field = &form.fields["creq"];
    assert!(!creq_field.contains('='));
    assert_eq!(creq_field, &sim.creq_for(&ares).unwrap());
    let creq = decode_b64url_json(creq_field);
    assert_eq!(creq["messageType"], "CReq");
    assert_eq!(creq["threeDSServerTransID"], server_id);
    assert_eq!(creq["acsTransID"], acs_id);
    assert_eq!(creq["messageVersion"], "2.2.0");
    assert_eq!(creq["challengeWindowSize"], "03");
    let session_data = sim.session_data_for(server_id).unwrap();
    assert_eq!(form.fields["threeDSSessionData"], session_data);
    assert!(session_data.len() <= 1024 && !session_data.contains(['=', '+', '/']));
    assert!(checkout.contains(r#"id="outcome""#) && checkout.contains("form.submit()"));
    assert!(notified.contains(r#"data-trans-status="Y""#) && notified.contains("postMessage"), "{notified}");

    let notification = sim.wait_notification(server_id, WAIT).await.unwrap();
    assert!(notification.session_data_matches);
    assert_eq!(notification.problems, Vec::<String>::new());
    assert_eq!(notification.three_ds_session_data, session_data);
    assert_eq!(notification.cres["transStatus"], "Y");
    assert_eq!(notification.cres["acsTransID"], acs_id);

    let rreq = sim.wait_rreq(acs_id, WAIT).await.unwrap();
    assert_eq!(rreq["threeDSServerTransID"], server_id);
    let exchanges = sim.ds_exchanges();
    assert_eq!(exchanges.len(), 1);
    assert!(exchanges[0].accepted());
    assert_eq!(exchanges[0].content_type.as_deref(), Some("application/json"));
    let attempts = acs.rreq_attempts();
    assert_eq!(attempts.len(), 1);
    let rres: serde_json::Value = serde_json::from_str(&attempts[0].body).unwrap();
    assert_eq!(rres["messageType"], "RRes");
    assert_eq!(rres["resultsStatus"], "01");
    assert_eq!(rres["messageVersion"], "2.2.0");
    for id in ["threeDSServerTransID", "acsTransID", "dsTransID"] {
        assert_eq!(rres[id], rreq[id], "{id}");
    }
}

#[tokio::test]
async fn the_iframe_follows_the_challenge_window_size() {
    let (sim, acs) = support::start().await;
    let sizes = [
        ("01", "250", "400"),
        ("02", "390", "400"),
        ("03", "500", "600"),
        ("04", "600", "400"),
        ("05", "100%", "100%"),
    ];
    for (code, width, height) in sizes {
        let outcome = challenge_purchase(&sim, &acs, code).await;
        let (_, page) = support::get(outcome.checkout_url.as_deref().unwrap()).await;
        let iframes = tags(&page, "iframe");
        assert_eq!(iframes.len(), 1);
        assert_eq!(attribute(iframes[0], "width").as_deref(), Some(width), "{code}");
        assert_eq!(attribute(iframes[0], "height").as_deref(), Some(height), "{code}");
        assert_eq!(decode_b64url_json(&first_form(&page).fields["creq"])["challengeWindowSize"], code);
    }
}

#[tokio::test]
async fn altered_session_data_is_recorded_and_flagged() {
    let (sim, acs) = support::start().await;
    *acs.state.tamper_session_data.lock().unwrap() = Some("c29tZXRoaW5nLWVsc2U".into());
    let outcome = challenge_purchase(&sim, &acs, "02").await;
    run_challenge(outcome.checkout_url.as_deref().unwrap()).await;
    let server_id = outcome.areq["threeDSServerTransID"].as_str().unwrap();
    let notification = sim.wait_notification(server_id, WAIT).await.unwrap();
    assert!(!notification.session_data_matches);
    assert_eq!(notification.three_ds_session_data, "c29tZXRoaW5nLWVsc2U");
    assert_eq!(notification.problems, ["threeDSSessionData differs from what the merchant posted"]);
    assert_eq!(sim.notifications().len(), 1);
}
