//! Issue 5: the 3-D Secure ACS over real HTTP, driven by `sigillo-3ds-sim` (an independent
//! 3DS Server + Directory Server): frictionless purchases under the RTS exemptions, the
//! browser challenge by SMS OTP + Key6 and by the app, cancel, time-outs, the RReq with
//! retries, and every refusal. The challenge pages in Chromium are in e2e/tests/acs.test.js.

use crate::each_backend;
use crate::operations::{PIN, customer_with_phone};
use crate::support::TestApp;
use regex::Regex;
use reqwest::StatusCode;
use serde_json::Value;
use sigillo_3ds_sim::{Purchase, Sim, SimConfig};
use sigillo_core::threeds::authval::{self, AuthValueInput, Brand};
use sigillo_device::prompt::Unlock;
use sigillo_server::service::cards::CardRequest;
use sigillo_server::service::{Actor, Origin};
use std::time::Duration;

pub(crate) const PAN: &str = "4111111111111111";
const CARD_PHONE: &str = "+393339876543";
const KEY6: &str = "583920";
const WAIT: Duration = Duration::from_secs(10);

/// A Visa card with Key6, held by a web banking user without a phone bound: (card id, user id).
async fn card(app: &TestApp, holder: Option<&str>) -> (String, String) {
    let user_code = match holder {
        Some(code) => code.to_owned(),
        None => app.user().await.user_code,
    };
    let req = CardRequest {
        pan: PAN,
        brand: "visa",
        kind: "credit",
        holder_user_code: Some(&user_code),
        phone: CARD_PHONE,
        corporate: false,
        expiry: Some("3012"),
    };
    let view = app.services.create_card(&req, &Actor::Operator("test".into()), &Origin::cli()).await.unwrap();
    let user_id = user_id_of(app, &user_code).await;
    app.services.set_key6(&user_id, &view.card_id, KEY6, &Origin::cli()).await.unwrap();
    (view.card_id, user_id)
}

async fn user_id_of(app: &TestApp, user_code: &str) -> String {
    let mut conn = app.services.store.conn().await.unwrap();
    let row: (String,) = sqlx::query_as("SELECT id FROM users WHERE user_code = $1")
        .bind(user_code)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    row.0
}

async fn sim() -> Sim {
    Sim::start(SimConfig::default()).await.unwrap()
}

async fn rows(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.services.store.conn().await.unwrap();
    let row: (i64,) = sqlx::query_as(sql).fetch_one(&mut *conn).await.unwrap();
    row.0
}

/// Sends a purchase, asserts the simulator found nothing wrong with the answer, returns the ARes.
async fn ares(app: &TestApp, sim: &Sim, purchase: &Purchase) -> Value {
    let out = sim.purchase(&app.base, purchase).await.unwrap();
    assert!(out.problems.is_empty(), "the 3DS Server objects: {:?}", out.problems);
    out.ares.unwrap_or_else(|| panic!("no ARes: {}", out.response_text))
}

/// A challenge opened in the "browser": the page and its token.
struct Challenge {
    acs: String,
    token: String,
    page: String,
}

async fn open_challenge(app: &TestApp, sim: &Sim, ares: &Value) -> Challenge {
    assert_eq!(ares["transStatus"], "C");
    // acs.public_url (the test server's public_url is the default one): post to this server.
    assert_eq!(ares["acsURL"], "http://127.0.0.1:8080/3ds/v2/challenge");
    let acs_url = app.url("/3ds/v2/challenge");
    let server_id = ares["threeDSServerTransID"].as_str().unwrap();
    let creq = sim.creq_for(ares).unwrap();
    let session = sim.session_data_for(server_id).unwrap();
    let resp = app
        .client
        .post(&acs_url)
        .form(&[("creq", creq.as_str()), ("threeDSSessionData", &session)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors *"), "the merchant may frame it: {csp}");
    assert!(resp.headers().get("x-frame-options").is_none());
    let page = resp.text().await.unwrap();
    let token = Regex::new(r#"name="t" value="([A-Za-z0-9_-]{43})""#).unwrap().captures(&page).unwrap()[1].to_owned();
    Challenge { acs: ares["acsTransID"].as_str().unwrap().to_owned(), token, page }
}

impl Challenge {
    async fn post(&self, app: &TestApp, action: &str, extra: &[(&str, &str)]) -> (StatusCode, String) {
        let mut form = vec![("t", self.token.as_str())];
        form.extend_from_slice(extra);
        let url = app.url(&format!("/3ds/v2/challenge/{}/{action}", self.acs));
        let resp = app.client.post(url).form(&form).send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }
}

/// The `cres` form the last page posts to the merchant: (action, cres, session data).
fn cres_form(page: &str) -> (String, String, String) {
    // minijinja escapes `/` in attributes as `&#x2f;`, which the browser reads back as `/`.
    let grab =
        |re: &str| Regex::new(re).unwrap().captures(page).map(|c| c[1].replace("&#x2f;", "/")).unwrap_or_default();
    (
        grab(r#"<form method="post" action="([^"]+)" id="cres-form""#),
        grab(r#"name="cres" value="([^"]+)""#),
        grab(r#"name="threeDSSessionData" value="([^"]+)""#),
    )
}

/// The browser posts the CRes to the merchant, as the page's form does.
async fn post_cres(app: &TestApp, sim: &Sim, page: &str, server_id: &str) -> sigillo_3ds_sim::records::Notification {
    let (action, cres, session) = cres_form(page);
    assert!(action.ends_with("/merchant/notify"), "{page}");
    let resp = app.client.post(&action).form(&[("cres", cres), ("threeDSSessionData", session)]).send().await.unwrap();
    assert!(resp.status().is_success());
    let n = sim.wait_notification(server_id, WAIT).await.expect("the merchant got the CRes");
    assert!(n.session_data_matches && n.problems.is_empty(), "{:?}", n.problems);
    n
}

fn error_text(page: &str) -> String {
    Regex::new(r#"id="error">([^<]+)<"#).unwrap().captures(page).unwrap()[1].to_owned()
}

fn last_sms(outbox: &[sigillo_server::notify::Outgoing], to: &str) -> String {
    outbox.iter().rev().find(|m| m.recipient == to).map(|m| m.body.clone()).unwrap_or_default()
}

/// Frictionless under RTS art. 16 until the low-value limits, then a challenge; the
/// authentication value is bound to amount and merchant (it verifies only with both).
/// Requirements: R34 (RTS art. 16 low value), R16, R18, R20 (the value is specific to the amount).
#[tokio::test]
async fn low_value_purchases_are_frictionless_until_the_limits_and_the_value_binds_amount_and_merchant() {
    each_backend!(|app| {
        let sim = sim().await;
        let (card_id, _) = card(&app, None).await;
        let mut first = Purchase::new(PAN, 1_500);
        first.merchant_name = "Libreria Rossi".into();
        let y = ares(&app, &sim, &first).await;
        assert_eq!((y["transStatus"].as_str(), y["eci"].as_str()), (Some("Y"), Some("05")), "{y}");
        assert!(y.get("acsURL").is_none());

        // The value verifies with this transaction's facts, and not with another amount or merchant.
        let pan_lookup: Vec<u8> = {
            let mut conn = app.services.store.conn().await.unwrap();
            sqlx::query_scalar("SELECT pan_lookup FROM cards WHERE id = $1")
                .bind(&card_id)
                .fetch_one(&mut *conn)
                .await
                .unwrap()
        };
        let digest: [u8; 32] = pan_lookup.try_into().unwrap();
        let value = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            y["authenticationValue"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(value.len(), 20);
        let key = app.cfg.av_key(Brand::Visa, app.services.kek()).unwrap();
        assert!(sim.rreqs().is_empty(), "a frictionless purchase has no RReq");
        let acs_id = y["acsTransID"].as_str().unwrap();
        let stored_date: String = {
            let mut conn = app.services.store.conn().await.unwrap();
            sqlx::query_scalar("SELECT purchase_date FROM threeds_transactions WHERE acs_trans_id = $1")
                .bind(acs_id)
                .fetch_one(&mut *conn)
                .await
                .unwrap()
        };
        let verify = |amount: u64, merchant: &str| {
            let input = AuthValueInput {
                acs_trans_id: acs_id,
                ds_trans_id: y["dsTransID"].as_str().unwrap(),
                pan_digest: &digest,
                amount_minor: amount,
                currency: 978,
                merchant_name: merchant,
                purchase_date: &stored_date,
                trans_status: "Y",
            };
            authval::verify_authentication_value(&key, Brand::Visa, &input, &value)
        };
        assert!(verify(1_500, "Libreria Rossi"));
        assert!(!verify(1_501, "Libreria Rossi"), "another amount");
        assert!(!verify(1_500, "Libreria Bianchi"), "another merchant");

        // Above 30 EUR: SCA.
        let big = ares(&app, &sim, &Purchase::new(PAN, 3_001)).await;
        assert_eq!(big["transStatus"], "C");
        assert_eq!(big["acsChallengeMandated"], "Y");

        // Keep buying at 29 EUR: the cumulative 100 EUR / five purchases since the last SCA end the exemption.
        let mut statuses = vec![];
        for _ in 0..6 {
            statuses
                .push(ares(&app, &sim, &Purchase::new(PAN, 2_900)).await["transStatus"].as_str().unwrap().to_owned());
        }
        let first_c = statuses.iter().position(|s| s == "C").expect("the exemption ends");
        assert!(statuses[..first_c].iter().all(|s| s == "Y") && first_c >= 1, "{statuses:?}");
        assert!(statuses[first_c..].iter().all(|s| s == "C"), "{statuses:?}");

        // The requestor may still ask for a challenge.
        let mut mandated = Purchase::new(PAN, 100);
        mandated.challenge_ind = Some("04".into());
        let fresh = sim_card_reset(&app, &card_id).await;
        assert!(fresh);
        assert_eq!(ares(&app, &sim, &mandated).await["transStatus"], "C");
    });
}

/// Resets the low-value counters as an SCA does (a successful challenge is tested below).
async fn sim_card_reset(app: &TestApp, card_id: &str) -> bool {
    let mut conn = app.services.store.conn().await.unwrap();
    sqlx::query("UPDATE cards SET lv_count = 0, lv_eur_cents = 0 WHERE id = $1")
        .bind(card_id)
        .execute(&mut *conn)
        .await
        .unwrap()
        .rows_affected()
        == 1
}

/// The challenge by SMS OTP + Key6: the SMS names merchant and amount (R23, dynamic
/// linking), a wrong Key6 and a wrong OTP give the same answer (R7), the right pair
/// authenticates, the RReq reaches the DS before the CRes goes to the merchant with its
/// session data unchanged, and a second CReq is refused (P8).
/// Requirements: R15 (the SMS names amount and payee), R9 (no hint which element failed), R5 (once).
#[tokio::test]
async fn a_challenge_by_sms_otp_and_key6_authenticates_and_reports_to_ds_and_merchant() {
    each_backend!(|app| {
        let sim = sim().await;
        card(&app, None).await;
        let mut purchase = Purchase::new(PAN, 4_999);
        purchase.merchant_name = "Elettronica Verdi".into();
        let c_ares = ares(&app, &sim, &purchase).await;
        let server_id = c_ares["threeDSServerTransID"].as_str().unwrap().to_owned();
        let ch = open_challenge(&app, &sim, &c_ares).await;
        assert!(ch.page.contains("Elettronica Verdi") && ch.page.contains("49.99 EUR") && ch.page.contains("1111"));
        assert!(!ch.page.contains(PAN), "never the full PAN");
        assert!(!ch.page.contains(r#"id="use-app""#), "no phone bound: no app method");

        // The same CReq again: refused, nothing changes.
        let creq = sim.creq_for(&c_ares).unwrap();
        let again =
            app.client.post(app.url("/3ds/v2/challenge")).form(&[("creq", creq.as_str())]).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::CONFLICT);

        // Without the page token (P10: it is the pages' CSRF defence) nothing happens.
        let forged = Challenge { token: "A".repeat(43), acs: ch.acs.clone(), page: String::new() };
        let (status, _) = forged.post(&app, "sms", &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(app.outbox().await.iter().all(|m| m.recipient != CARD_PHONE), "no SMS sent");

        let (status, page) = ch.post(&app, "sms", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(r#"id="verify-form""#));
        let sms = last_sms(&app.outbox().await, CARD_PHONE);
        assert!(sms.contains("49.99 EUR") && sms.contains("Elettronica Verdi") && sms.contains("1111"), "{sms}");
        assert!(!sms.contains(PAN));
        // Resends: three SMS in all, then no more (the last code stays valid).
        for _ in 0..2 {
            let (status, page) = ch.post(&app, "sms", &[]).await;
            assert_eq!(status, StatusCode::OK);
            assert!(page.contains(r#"id="otp-sent""#));
        }
        let (status, page) = ch.post(&app, "sms", &[]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!page.contains(r#"id="resend""#), "no resend button after the third SMS");
        let sent = app.outbox().await.iter().filter(|m| m.recipient == CARD_PHONE).count();
        assert_eq!(sent, 3);
        let otp = app.last_otp(CARD_PHONE).await;

        let wrong_otp = if otp == "000000" { "111111" } else { "000000" };
        let (s1, p1) = ch.post(&app, "verify", &[("otp", wrong_otp), ("key6", KEY6)]).await;
        let (s2, p2) = ch.post(&app, "verify", &[("otp", &otp), ("key6", "111222")]).await;
        assert_eq!((s1, s2), (StatusCode::UNPROCESSABLE_ENTITY, StatusCode::UNPROCESSABLE_ENTITY));
        assert_eq!(error_text(&p1), error_text(&p2), "one message for a wrong OTP and a wrong Key6");

        let (status, done) = ch.post(&app, "verify", &[("otp", &otp), ("key6", KEY6)]).await;
        assert_eq!(status, StatusCode::OK);
        let rreq = sim.wait_rreq(&ch.acs, WAIT).await.expect("the DS got the RReq");
        assert_eq!((rreq["transStatus"].as_str(), rreq["eci"].as_str()), (Some("Y"), Some("05")), "{rreq}");
        assert_eq!(rreq["interactionCounter"], "03", "three answers typed");
        assert_eq!(rreq["authenticationMethod"], "02");
        assert!(rreq["authenticationValue"].as_str().is_some_and(|v| v.len() == 28));
        let n = post_cres(&app, &sim, &done, &server_id).await;
        assert_eq!(n.cres["transStatus"], "Y");

        // After the RReq: the page shows the end again, nothing reopens; the CReq stays refused.
        let again =
            app.client.post(app.url("/3ds/v2/challenge")).form(&[("creq", creq.as_str())]).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::CONFLICT);
        let (_, still) = ch.post(&app, "verify", &[("otp", &otp), ("key6", KEY6)]).await;
        assert!(still.contains(r#"id="cres-form""#));
        assert_eq!(sim.rreqs().len(), 1, "one RReq per transaction");
        assert!(app.audit_actions().await.iter().any(|a| a == "threeds.challenge_finished"));
    });
}

/// Five consecutive failures (wrong OTP or Key6, in any mix) block Key6; the fourth warns
/// the holder by SMS first; the purchase ends N and the next one is rejected (R).
/// Requirements: R10 (five failures block), R11 (alert before the block), R12 (unlock needs SCA).
#[tokio::test]
async fn five_wrong_codes_block_key6_after_an_sms_warning() {
    each_backend!(|app| {
        let sim = sim().await;
        let (card_id, user_id) = card(&app, None).await;
        let c_ares = ares(&app, &sim, &Purchase::new(PAN, 8_000)).await;
        let ch = open_challenge(&app, &sim, &c_ares).await;
        ch.post(&app, "sms", &[]).await;
        let otp = app.last_otp(CARD_PHONE).await;
        for i in 1..=4 {
            let (status, _) = ch.post(&app, "verify", &[("otp", &otp), ("key6", "123450")]).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
        }
        let warning = last_sms(&app.outbox().await, CARD_PHONE);
        assert!(warning.contains("Un altro errore"), "warned before the block: {warning}");
        let (_, last) = ch.post(&app, "verify", &[("otp", "000001"), ("key6", KEY6)]).await;
        assert!(last.contains(r#"id="cres-form""#), "the purchase ended");
        let rreq = sim.wait_rreq(&ch.acs, WAIT).await.unwrap();
        assert_eq!((rreq["transStatus"].as_str(), rreq["transStatusReason"].as_str()), (Some("N"), Some("01")));
        assert!(last_sms(&app.outbox().await, CARD_PHONE).contains("bloccato"));
        let view = app.services.card_view(&card_id).await.unwrap();
        assert!(view.key6_blocked);
        let r = ares(&app, &sim, &Purchase::new(PAN, 1_000)).await;
        assert_eq!((r["transStatus"].as_str(), r["transStatusReason"].as_str()), (Some("R"), Some("01")));
        // The holder changes nothing while it is blocked; unlocking needs an approved SCA.
        assert!(app.services.set_key6(&user_id, &card_id, "902817", &Origin::cli()).await.is_err());
        assert!(app.services.unlock_key6(&user_id, &card_id, "no-such-operation", &Origin::cli()).await.is_err());
        assert!(app.audit_actions().await.iter().any(|a| a == "key6.blocked"));
    });
}

/// Approve in the app: the phone sees merchant, amount and card in the signed operation,
/// approves with the PIN, the challenge ends Y and the page's event stream says so.
/// Requirements: R15 (the app shows amount and payee), R16, R23 (possession: the bound phone).
#[tokio::test]
async fn a_challenge_approved_in_the_app_authenticates() {
    each_backend!(|app| {
        let sim = sim().await;
        let (user_code, _token, phone) = customer_with_phone(&app).await;
        card(&app, Some(&user_code)).await;
        let mut purchase = Purchase::new(PAN, 12_345);
        purchase.merchant_name = "Viaggi Blu".into();
        let c_ares = ares(&app, &sim, &purchase).await;
        let server_id = c_ares["threeDSServerTransID"].as_str().unwrap().to_owned();
        let ch = open_challenge(&app, &sim, &c_ares).await;
        assert!(ch.page.contains(r#"id="use-app""#));
        let (status, waiting) = ch.post(&app, "app", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(waiting.contains(r#"id="wait""#), "{waiting}");

        let now = u64::try_from(sigillo_server::clock::Clock::now(app.clock.as_ref()).0).unwrap();
        let ops = phone.pending(None, now).await.unwrap();
        assert_eq!(ops.len(), 1);
        let fields: Vec<(String, String)> = ops[0].fields.clone();
        assert!(fields.contains(&("merchant".into(), "Viaggi Blu".into())), "{fields:?}");
        assert!(
            fields.contains(&("amount".into(), "123.45".into())) && fields.contains(&("currency".into(), "EUR".into()))
        );
        phone.approve(None, &ops[0].id, &Unlock::pin(PIN), None, now).await.unwrap();

        let rreq = sim.wait_rreq(&ch.acs, WAIT).await.expect("RReq after the app's approval");
        assert_eq!(rreq["transStatus"], "Y");
        assert_eq!(rreq["authenticationType"], "03", "out of band");
        let resp =
            app.client.get(app.url(&format!("/3ds/v2/challenge/{}?t={}", ch.acs, ch.token))).send().await.unwrap();
        let page = resp.text().await.unwrap();
        assert_eq!(post_cres(&app, &sim, &page, &server_id).await.cres["transStatus"], "Y");
    });
}

/// Cancel → N with challengeCancel 01; no CReq in time → U with 05; a challenge left open
/// → N with 04; each RReq once, and the DS's failures are retried until it answers.
/// Requirements: R5 (one outcome per transaction, a late answer changes nothing).
#[tokio::test]
async fn cancel_time_outs_and_ds_failures_give_the_right_rreq() {
    each_backend!(|app| {
        let sim = sim().await;
        card(&app, None).await;
        let a = ares(&app, &sim, &Purchase::new(PAN, 5_000)).await;
        let ch = open_challenge(&app, &sim, &a).await;
        let (_, done) = ch.post(&app, "cancel", &[]).await;
        let rreq = sim.wait_rreq(&ch.acs, WAIT).await.unwrap();
        assert_eq!((rreq["transStatus"].as_str(), rreq["challengeCancel"].as_str()), (Some("N"), Some("01")));
        let n = post_cres(&app, &sim, &done, a["threeDSServerTransID"].as_str().unwrap()).await;
        assert_eq!(n.cres["transStatus"], "N");

        // No CReq within 30 s; and the DS fails twice before it answers.
        let quiet = ares(&app, &sim, &Purchase::new(PAN, 5_000)).await;
        let opened = ares(&app, &sim, &Purchase::new(PAN, 5_000)).await;
        let idle = open_challenge(&app, &sim, &opened).await;
        sim.fail_next_rreqs(2);
        app.advance(Duration::from_secs(31));
        app.services.sweep_threeds().await.unwrap();
        let quiet_id = quiet["acsTransID"].as_str().unwrap();
        for _ in 0..3 {
            app.advance(Duration::from_secs(20));
            app.services.sweep_threeds().await.unwrap();
        }
        let rreq = sim.wait_rreq(quiet_id, WAIT).await.expect("delivered after the DS's failures");
        assert_eq!((rreq["transStatus"].as_str(), rreq["challengeCancel"].as_str()), (Some("U"), Some("05")));
        assert!(sim.ds_exchanges().iter().filter(|e| e.http_status == 500).count() >= 2);

        // The opened one runs out at 300 s.
        app.advance(Duration::from_secs(300));
        app.services.sweep_threeds().await.unwrap();
        let rreq = sim.wait_rreq(&idle.acs, WAIT).await.unwrap();
        assert_eq!((rreq["transStatus"].as_str(), rreq["challengeCancel"].as_str()), (Some("N"), Some("04")));
        let (_, page) = idle.post(&app, "verify", &[("otp", "123456"), ("key6", KEY6)]).await;
        assert!(page.contains(r#"id="cres-form""#), "a late answer changes nothing");
        let delivered = rows(&app, "SELECT COUNT(*) FROM threeds_transactions WHERE rreq_state = 'delivered'").await;
        assert_eq!(delivered, 3);
    });
}

/// Refusals: each bad AReq gets an Erro with the right code naming the field, and nothing
/// is stored; an unknown card gets N (reason 08); a dsURL outside the configured
/// Directory Servers gets 303; a repeated dsTransID 305.
/// Requirements: none of the RTS directly (EMV 3DS error handling); DESIGN "bad input changes nothing".
#[tokio::test]
async fn bad_areqs_get_an_erro_and_store_nothing() {
    each_backend!(with | c | c.acs.ds_url_prefixes = vec!["http://127.0.0.1:".into()], |app| {
        let sim = sim().await;
        card(&app, None).await;
        let erro = |out: &sigillo_3ds_sim::sim::AreqOutcome| {
            let e = out.erro.clone().unwrap_or_else(|| panic!("not an Erro: {}", out.response_text));
            (e["errorCode"].as_str().unwrap().to_owned(), e["errorDetail"].as_str().unwrap_or_default().to_owned())
        };
        let malformed = sim.send_areq_raw(&app.base, "{not json").await.unwrap();
        assert_eq!(erro(&malformed).0, "101");

        let mut missing = sim.build_areq(&Purchase::new(PAN, 5_000));
        missing.as_object_mut().unwrap().remove("acctNumber");
        let (code, detail) = erro(&sim.send_areq_raw(&app.base, missing).await.unwrap());
        assert_eq!((code.as_str(), detail.contains("acctNumber")), ("201", true), "{detail}");

        let mut version = sim.build_areq(&Purchase::new(PAN, 5_000));
        version["messageVersion"] = "1.0.2".into();
        assert_eq!(erro(&sim.send_areq_raw(&app.base, version).await.unwrap()).0, "102");

        let mut bad_amount = sim.build_areq(&Purchase::new(PAN, 5_000));
        bad_amount["purchaseAmount"] = "12.50".into();
        let (code, detail) = erro(&sim.send_areq_raw(&app.base, bad_amount).await.unwrap());
        assert_eq!((code.as_str(), detail.contains("purchaseAmount")), ("203", true), "{detail}");

        let mut elsewhere = sim.build_areq(&Purchase::new(PAN, 5_000));
        elsewhere["dsURL"] = "https://attacker.example/collect".into();
        let (code, detail) = erro(&sim.send_areq_raw(&app.base, elsewhere).await.unwrap());
        assert_eq!((code.as_str(), detail.as_str()), ("303", "dsURL"));
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM threeds_transactions").await, 0, "nothing stored");

        let good = sim.build_areq(&Purchase::new(PAN, 5_000));
        let first = sim.send_areq_raw(&app.base, good.clone()).await.unwrap();
        assert_eq!(first.ares.unwrap()["transStatus"], "C");
        assert_eq!(erro(&sim.send_areq_raw(&app.base, good).await.unwrap()).0, "305", "the same dsTransID again");

        let unknown = ares(&app, &sim, &Purchase::new("4000000000000002", 5_000)).await;
        assert_eq!((unknown["transStatus"].as_str(), unknown["transStatusReason"].as_str()), (Some("N"), Some("08")));
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM threeds_transactions").await, 1);

        // A CReq that is not one: an error page, nothing opened.
        let resp = app.client.post(app.url("/3ds/v2/challenge")).form(&[("creq", "bm90IGpzb24")]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM threeds_transactions WHERE challenge = 'open'").await, 0);
    });
}

/// No full PAN in the audit trail, the transactions, the outbox or the pages (P10).
/// Requirements: P10; R40 (Key6 and codes protected in every phase).
#[tokio::test]
async fn the_full_pan_is_stored_nowhere_in_clear() {
    each_backend!(|app| {
        let sim = sim().await;
        card(&app, None).await;
        let a = ares(&app, &sim, &Purchase::new(PAN, 5_000)).await;
        let ch = open_challenge(&app, &sim, &a).await;
        ch.post(&app, "sms", &[]).await;
        ch.post(&app, "cancel", &[]).await;
        sim.wait_rreq(&ch.acs, WAIT).await.unwrap();
        let mut conn = app.services.store.conn().await.unwrap();
        for (table, column) in [
            ("audit_log", "detail"),
            ("audit_log", "subject"),
            ("cards", "last4"),
            ("threeds_transactions", "merchant_name"),
        ] {
            let values: Vec<String> =
                sqlx::query_scalar(&format!("SELECT {column} FROM {table}")).fetch_all(&mut *conn).await.unwrap();
            assert!(!values.is_empty(), "{table}");
            assert!(values.iter().all(|v| !v.contains(PAN)), "{table}.{column} holds the PAN");
        }
        let sealed: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT pan_sealed FROM cards").fetch_all(&mut *conn).await.unwrap();
        assert!(sealed.iter().all(|s| !s.windows(PAN.len()).any(|w| w == PAN.as_bytes())), "sealed, not clear");
        // P7: Key6 must be viewable, so it is sealed, never stored in clear (nor hashed).
        let key6s: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT key6_sealed FROM cards").fetch_all(&mut *conn).await.unwrap();
        assert_eq!(key6s.len(), 1);
        assert!(key6s.iter().all(|k| k.len() > KEY6.len() && !k.windows(KEY6.len()).any(|w| w == KEY6.as_bytes())));
        drop(conn);
        assert!(app.outbox().await.iter().all(|m| !m.body.contains(PAN)));
    });
}

/// Twenty AReqs for one card at once, each 29 EUR: the low-value counters hold under the
/// race (group commit + conditional update), so exactly five go through without SCA.
/// Requirements: R34 (RTS art. 16(c): at most five since the last SCA).
#[tokio::test]
async fn parallel_low_value_purchases_never_exceed_the_limit() {
    each_backend!(|app| {
        let sim = sim().await;
        card(&app, None).await;
        let purchase = Purchase::new(PAN, 2_900);
        let answers = futures::future::join_all((0..20).map(|_| sim.purchase(&app.base, &purchase))).await;
        let mut statuses: Vec<String> =
            answers.into_iter().map(|a| a.unwrap().ares.unwrap()["transStatus"].as_str().unwrap().to_owned()).collect();
        statuses.sort();
        assert_eq!(statuses.iter().filter(|s| *s == "Y").count(), 5, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| *s == "C").count(), 15, "{statuses:?}");
        assert_eq!(rows(&app, "SELECT lv_count FROM cards").await, 5);
        assert_eq!(rows(&app, "SELECT COUNT(*) FROM threeds_transactions").await, 20);
    });
}

/// EMV 3DS 2.1.0 is accepted: its challenge ends with a 2.1.0 RReq (no authenticationMethod,
/// which 2.1.0 does not define); a Mastercard card gets Mastercard's ECI values.
/// Requirements: none of the RTS (EMV 3DS versions and brands).
#[tokio::test]
async fn version_2_1_0_and_mastercard_are_served() {
    each_backend!(|app| {
        let sim = sim().await;
        card(&app, None).await;
        let mut old = Purchase::new(PAN, 6_000);
        old.message_version = "2.1.0".into();
        let a = ares(&app, &sim, &old).await;
        assert_eq!((a["messageVersion"].as_str(), a["transStatus"].as_str()), (Some("2.1.0"), Some("C")));
        let ch = open_challenge(&app, &sim, &a).await;
        ch.post(&app, "cancel", &[]).await;
        let rreq = sim.wait_rreq(&ch.acs, WAIT).await.unwrap();
        assert_eq!(rreq["messageVersion"], "2.1.0");
        assert!(rreq.get("authenticationMethod").is_none(), "{rreq}");

        let mc = "5555555555554444";
        let req = CardRequest {
            pan: mc,
            brand: "mastercard",
            kind: "debit",
            holder_user_code: None,
            phone: CARD_PHONE,
            corporate: true,
            expiry: None,
        };
        app.services.create_card(&req, &Actor::Operator("test".into()), &Origin::cli()).await.unwrap();
        let y = ares(&app, &sim, &Purchase::new(mc, 999)).await;
        assert_eq!((y["transStatus"].as_str(), y["eci"].as_str()), (Some("Y"), Some("02")));
        // No holder, no Key6: nothing to challenge with → U (reason 13).
        let u = ares(&app, &sim, &Purchase::new(mc, 9_999)).await;
        assert_eq!((u["transStatus"].as_str(), u["transStatusReason"].as_str()), (Some("U"), Some("13")));
        // A card taken out of 3-D Secure: U (13) even for a low-value purchase.
        let visa = app.services.card_by_pan(PAN).await.unwrap();
        app.services
            .set_card_enrolled(&visa.card_id, false, &Actor::Operator("test".into()), &Origin::cli())
            .await
            .unwrap();
        let out = ares(&app, &sim, &Purchase::new(PAN, 500)).await;
        assert_eq!((out["transStatus"].as_str(), out["transStatusReason"].as_str()), (Some("U"), Some("13")));
    });
}
