//! Issue 5, Key6 from web banking and the JSON API (DESIGN flow 8): set, change, view and
//! unlock; viewing and unlocking need an approved SCA operation about the card and the
//! action, used once; trivial codes and another customer's cards are refused.

use crate::each_backend;
use crate::operations::{PIN, customer_with_phone};
use crate::support::TestApp;
use crate::web_devices::{csrf_of, page, signed_in};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sigillo_core::attempts::{Lock, Secret};
use sigillo_device::prompt::Unlock;
use sigillo_server::clock::Clock;
use sigillo_server::service::cards::CardRequest;
use sigillo_server::service::{Actor, Origin};
use sigillo_store::repo::attempts;

const PAN: &str = "4111111111111111";
const OTHER_PAN: &str = "5555555555554444";
const CARD_PHONE: &str = "+393339876543";
const PHONE: &str = "+393331234567";
const KEY6: &str = "583920";

/// A card held by `user_code`: its id.
async fn card(app: &TestApp, user_code: &str, pan: &str) -> String {
    let req = CardRequest {
        pan,
        brand: if pan.starts_with('4') { "visa" } else { "mastercard" },
        kind: "credit",
        holder_user_code: Some(user_code),
        phone: CARD_PHONE,
        corporate: false,
        expiry: Some("3012"),
    };
    app.services.create_card(&req, &Actor::Operator("test".into()), &Origin::cli()).await.unwrap().card_id
}

async fn put(app: &TestApp, path: &str, body: Value, token: &str) -> reqwest::Response {
    app.client.put(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn json_of(resp: reqwest::Response) -> Value {
    resp.json().await.unwrap()
}

fn now(app: &TestApp) -> u64 {
    u64::try_from(app.clock.now().0).unwrap()
}

async fn start(app: &TestApp, card: &str, action: &str, token: &str) -> Value {
    let resp = app.post(&format!("/api/v1/cards/{card}/key6/sca"), json!({ "action": action }), Some(token)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    json_of(resp).await
}

/// Five failures, as five wrong answers in 3-D Secure challenges leave them.
async fn block(app: &TestApp, card: &str) {
    let mut conn = app.services.store.conn().await.unwrap();
    let now = app.clock.now().0;
    for _ in 0..5 {
        attempts::reserve(&mut conn, card, Secret::Key6, 5, now).await.unwrap().unwrap();
    }
    assert!(attempts::lock(&mut conn, card, Secret::Key6, 5, Lock::Permanent, now).await.unwrap());
}

/// The user code the home page shows.
pub(crate) fn user_code_of(home: &str) -> String {
    regex::Regex::new(r#"id="user-code">(\d+)<"#).unwrap().captures(home).unwrap()[1].to_owned()
}

fn sms_to(outbox: &[sigillo_server::notify::Outgoing], to: &str) -> String {
    outbox.iter().rev().find(|m| m.channel == "sms" && m.recipient == to).unwrap().body.clone()
}

/// The list shows the customer's cards only, with the last four digits; Key6 is set, then
/// changed; trivial codes, codes with the card's digits, another customer's card and a
/// session that may only change its password are refused.
/// Requirements: R22 (a knowledge element hard to guess: trivial codes refused), P10.
#[tokio::test]
async fn key6_is_set_and_changed_over_the_api_and_bad_codes_are_refused() {
    each_backend!(|app| {
        let (user, token, _phone) = customer_with_phone(&app).await;
        let id = card(&app, &user, PAN).await;
        let stranger = app.user_with_phone("+393330000001").await;
        let foreign = card(&app, &stranger.user_code, OTHER_PAN).await;

        let resp = app.get("/api/v1/cards", Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let text = resp.text().await.unwrap();
        assert!(!text.contains(PAN) && !text.contains("411111"), "no full PAN: {text}");
        let list: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "only the customer's own card");
        assert_eq!(list[0]["card_id"], id.as_str());
        assert_eq!(list[0]["last4"], "1111");
        assert_eq!((list[0]["key6_set"].as_bool(), list[0]["key6_blocked"].as_bool()), (Some(false), Some(false)));

        let path = format!("/api/v1/cards/{id}/key6");
        for (code, rule) in [
            ("123456", "key6.trivial"),
            ("111111", "key6.trivial"),
            ("901111", "key6.contains_card_digits"),
            ("12345", "key6.not_six_digits"),
        ] {
            let resp = put(&app, &path, json!({ "key6": code }), &token).await;
            assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{code}");
            assert_eq!(json_of(resp).await["error"], rule);
        }
        assert_eq!(put(&app, &path, json!({ "key6": KEY6 }), &token).await.status(), StatusCode::NO_CONTENT);
        let list = json_of(app.get("/api/v1/cards", Some(&token)).await).await;
        assert_eq!(list[0]["key6_set"], true);
        assert_eq!(put(&app, &path, json!({ "key6": "902817" }), &token).await.status(), StatusCode::NO_CONTENT);
        let actions = app.audit_actions().await;
        assert!(actions.iter().any(|a| a == "key6.set") && actions.iter().any(|a| a == "key6.changed"));

        // Another customer's card looks like no card at all.
        let resp = put(&app, &format!("/api/v1/cards/{foreign}/key6"), json!({ "key6": KEY6 }), &token).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_of(resp).await["error"], "not_found");
        let resp =
            app.post(&format!("/api/v1/cards/{foreign}/key6/sca"), json!({ "action": "view" }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let resp =
            app.post(&format!("/api/v1/cards/{foreign}/key6/reveal"), json!({ "operation": "x" }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);

        // A session made with the envelope's initial password may only change it.
        let fresh = app.user_with_phone("+393330000002").await;
        card(&app, &fresh.user_code, "4012888888881881").await;
        let (limited, must_change) = app.login(&fresh.user_code, &fresh.initial_password, "+393330000002").await;
        assert!(must_change);
        assert_eq!(app.get("/api/v1/cards", Some(&limited)).await.status(), StatusCode::FORBIDDEN);
    });
}

/// Viewing needs an approved SCA: nothing before the phone approves, the Key6 once after,
/// then 403 for the same operation. The SMS route works too, and its text names the card
/// and the action, never the Key6.
/// Requirements: R5 (one approval, one view), R40 (Key6 shown only after SCA).
#[tokio::test]
async fn viewing_needs_an_approved_sca_and_reveals_once() {
    each_backend!(|app| {
        let (user, token, phone) = customer_with_phone(&app).await;
        let id = card(&app, &user, PAN).await;
        assert_eq!(
            put(&app, &format!("/api/v1/cards/{id}/key6"), json!({ "key6": KEY6 }), &token).await.status(),
            StatusCode::NO_CONTENT
        );
        let reveal = format!("/api/v1/cards/{id}/key6/reveal");

        let started = start(&app, &id, "view", &token).await;
        assert_eq!(started["methods"], json!(["push", "sms"]));
        let op = started["operation"].as_str().unwrap().to_owned();
        let resp = app.post(&reveal, json!({ "operation": op }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "not approved yet");

        let pending = phone.pending(None, now(&app)).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].kind, "key6_view");
        assert_eq!(pending[0].fields, vec![("card".to_owned(), "Visa •••• 1111".to_owned())]);
        phone.approve(None, &op, &Unlock::pin(PIN), None, now(&app)).await.unwrap();

        let resp = app.post(&reveal, json!({ "operation": op }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(json_of(resp).await["key6"], KEY6);
        let resp = app.post(&reveal, json!({ "operation": op }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "one view per approval (P8)");
        assert!(app.audit_actions().await.iter().any(|a| a == "key6.viewed"));

        // By SMS OTP: the text says what it authorizes; a wrong code is refused first.
        let op = start(&app, &id, "view", &token).await["operation"].as_str().unwrap().to_owned();
        let resp = app.post(&format!("/api/v1/operations/{op}/sms"), json!({}), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let text = sms_to(&app.outbox().await, PHONE);
        assert!(text.contains("visualizzare il Key6 della carta che termina con 1111"), "{text}");
        assert!(!text.contains(KEY6), "the SMS never carries the Key6");
        let code = app.last_otp(PHONE).await;
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let resp = app.post(&format!("/api/v1/operations/{op}/otp"), json!({ "code": wrong }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(app.post(&reveal, json!({ "operation": op }), Some(&token)).await.status(), StatusCode::FORBIDDEN);
        let resp = app.post(&format!("/api/v1/operations/{op}/otp"), json!({ "code": code }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(json_of(resp).await["method"], "sms");
        let resp = app.post(&reveal, json!({ "operation": op }), Some(&token)).await;
        assert_eq!(json_of(resp).await["key6"], KEY6);

        // An approval is good for two minutes only.
        let op = start(&app, &id, "view", &token).await["operation"].as_str().unwrap().to_owned();
        phone.approve(None, &op, &Unlock::pin(PIN), None, now(&app)).await.unwrap();
        app.advance(std::time::Duration::from_secs(121));
        assert_eq!(app.post(&reveal, json!({ "operation": op }), Some(&token)).await.status(), StatusCode::FORBIDDEN);
    });
}

/// An approval serves its card and its action only: a view approval unlocks nothing and
/// shows no other card's Key6, and those refusals do not use it up.
/// Requirements: R5, R16 (an approval is specific to its card and action).
#[tokio::test]
async fn an_approval_serves_only_its_card_and_action() {
    each_backend!(|app| {
        let (user, token, phone) = customer_with_phone(&app).await;
        let a = card(&app, &user, PAN).await;
        let b = card(&app, &user, OTHER_PAN).await;
        for id in [&a, &b] {
            put(&app, &format!("/api/v1/cards/{id}/key6"), json!({ "key6": KEY6 }), &token).await;
        }
        let op = start(&app, &a, "view", &token).await["operation"].as_str().unwrap().to_owned();
        phone.approve(None, &op, &Unlock::pin(PIN), None, now(&app)).await.unwrap();

        let resp = app.post(&format!("/api/v1/cards/{a}/key6/unlock"), json!({ "operation": op }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "a view approval does not unlock");
        let resp = app.post(&format!("/api/v1/cards/{b}/key6/reveal"), json!({ "operation": op }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "nor shows another card's Key6");
        let resp = app.post(&format!("/api/v1/cards/{a}/key6/reveal"), json!({ "operation": op }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::OK, "still good for what it was approved for");

        // An unlock approval for card b does not unlock card a.
        block(&app, &a).await;
        let op = start(&app, &b, "unlock", &token).await["operation"].as_str().unwrap().to_owned();
        phone.approve(None, &op, &Unlock::pin(PIN), None, now(&app)).await.unwrap();
        let resp = app.post(&format!("/api/v1/cards/{a}/key6/unlock"), json!({ "operation": op }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(app.services.card_view(&a).await.unwrap().key6_blocked);

        // A phone rejection is no approval.
        let op = start(&app, &a, "unlock", &token).await["operation"].as_str().unwrap().to_owned();
        phone.reject(None, &op, now(&app)).await.unwrap();
        let resp = app.post(&format!("/api/v1/cards/{a}/key6/unlock"), json!({ "operation": op }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    });
}

/// A blocked Key6 cannot be changed; an approved unlock resets its counter, once, and
/// then it can be changed again.
/// Requirements: R12 (a secure procedure to regain use after a block).
#[tokio::test]
async fn unlocking_a_blocked_key6_resets_its_counter() {
    each_backend!(|app| {
        let (user, token, phone) = customer_with_phone(&app).await;
        let id = card(&app, &user, PAN).await;
        put(&app, &format!("/api/v1/cards/{id}/key6"), json!({ "key6": KEY6 }), &token).await;
        block(&app, &id).await;
        let list = json_of(app.get("/api/v1/cards", Some(&token)).await).await;
        assert_eq!(list[0]["key6_blocked"], true);
        let resp = put(&app, &format!("/api/v1/cards/{id}/key6"), json!({ "key6": "902817" }), &token).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);

        let op = start(&app, &id, "unlock", &token).await["operation"].as_str().unwrap().to_owned();
        let pending = phone.pending(None, now(&app)).await.unwrap();
        assert_eq!(pending[0].kind, "key6_unlock");
        phone.approve(None, &op, &Unlock::pin(PIN), None, now(&app)).await.unwrap();
        let unlock = format!("/api/v1/cards/{id}/key6/unlock");
        assert_eq!(app.post(&unlock, json!({ "operation": op }), Some(&token)).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.post(&unlock, json!({ "operation": op }), Some(&token)).await.status(), StatusCode::FORBIDDEN);

        let list = json_of(app.get("/api/v1/cards", Some(&token)).await).await;
        assert_eq!(list[0]["key6_blocked"], false);
        let counter = {
            let mut conn = app.services.store.conn().await.unwrap();
            attempts::get(&mut conn, &id, Secret::Key6).await.unwrap()
        };
        assert_eq!(counter.failures, 0, "the counter starts again");
        let resp = put(&app, &format!("/api/v1/cards/{id}/key6"), json!({ "key6": "902817" }), &token).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert!(app.audit_actions().await.iter().any(|a| a == "key6.unlocked"));
    });
}

/// The web pages: the list with the Key6 state, the form (CSRF, the two codes must
/// match, the rule's message next to the field), and "Visualizza Key6" through the SMS
/// fallback to the Key6, shown once.
/// Requirements: R40, P10 (CSRF on every form).
#[tokio::test]
async fn web_pages_set_and_view_key6_with_csrf() {
    each_backend!(|app| {
        let (b, csrf) = signed_in(&app, PHONE).await;
        let home = page(&app, &b, "/").await;
        assert!(home.contains(r#"href="/cards""#));
        let user_code = user_code_of(&home);
        let id = card(&app, &user_code, PAN).await;

        let list = page(&app, &b, "/cards").await;
        assert!(list.contains("Visa •••• 1111") && list.contains("non impostato"), "{list}");
        assert!(!list.contains(PAN));

        let path = format!("/cards/{id}/key6");
        let form = page(&app, &b, &path).await;
        assert_eq!(csrf_of(&form), csrf);
        let post = |fields: Vec<(&'static str, String)>| {
            let (b, url) = (b.clone(), app.url(&path));
            async move { b.post(url).form(&fields).send().await.unwrap() }
        };
        let resp = post(vec![("csrf", "forged".into()), ("key6", KEY6.into()), ("key6_confirm", KEY6.into())]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let resp = post(vec![("csrf", csrf.clone()), ("key6", KEY6.into()), ("key6_confirm", "583921".into())]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(resp.text().await.unwrap().contains(r#"id="key6-error">I due Key6 non coincidono."#));
        let resp =
            post(vec![("csrf", csrf.clone()), ("key6", "123456".into()), ("key6_confirm", "123456".into())]).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(resp.text().await.unwrap().contains("troppo facile"));
        assert!(!app.services.card_view(&id).await.unwrap().key6_set, "nothing stored");
        let resp = post(vec![("csrf", csrf.clone()), ("key6", KEY6.into()), ("key6_confirm", KEY6.into())]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert!(page(&app, &b, "/cards").await.contains("attivo"));

        // "Visualizza Key6": a forged form starts nothing; the real one opens the wait.
        let view = app.url(&format!("/cards/{id}/key6/view"));
        let resp = b.post(&view).form(&[("csrf", "forged")]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let resp = b.post(&view).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let sca = resp.headers()["location"].to_str().unwrap().to_owned();
        let wait = page(&app, &b, &sca).await;
        assert!(wait.contains("Autorizza la visualizzazione del Key6") && wait.contains("Visa •••• 1111"));
        assert!(!wait.contains(KEY6) && !wait.contains(r#"id="done-form""#));

        let resp = b.post(app.url(&format!("{sca}/sms"))).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(resp.headers()["location"], format!("{sca}?sms=sent").as_str());
        let code = app.last_otp(PHONE).await;
        let resp = b
            .post(app.url(&format!("{sca}/otp")))
            .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["location"], sca.as_str());
        let approved = page(&app, &b, &sca).await;
        assert!(approved.contains(r#"id="done-form""#));

        let done = app.url(&format!("{sca}/done"));
        let resp = b.post(&done).form(&[("csrf", "forged")]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let resp = b.post(&done).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert!(resp.text().await.unwrap().contains(&format!(r#"<strong id="key6-value">{KEY6}</strong>"#)));
        let resp = b.post(&done).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "shown once");

        // Another customer's card: not found, on every page.
        let stranger = app.user_with_phone("+393330000001").await;
        let foreign = card(&app, &stranger.user_code, OTHER_PAN).await;
        let resp = b.get(app.url(&format!("/cards/{foreign}/key6"))).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let resp = b
            .post(app.url(&format!("/cards/{foreign}/key6/view")))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    });
}

/// The app (`sigillo-device key6 …`): lists its user's cards, sets Key6 with the PIN,
/// views it and unlocks it by approving the SCA itself; a wrong PIN approves nothing and
/// counts; the web's own request, approved on the phone, serves the web only once.
/// Requirements: R23 (possession: requests signed by the bound phone), R12.
#[tokio::test]
async fn the_app_sets_views_and_unlocks_key6_with_signed_requests() {
    each_backend!(|app| {
        let (user, _, phone) = customer_with_phone(&app).await;
        let id = card(&app, &user, PAN).await;
        let cards = phone.cards(None).await.unwrap();
        assert_eq!(cards.len(), 1);
        assert_eq!(
            (cards[0].card_id.as_str(), cards[0].last4.as_str(), cards[0].key6_set),
            (id.as_str(), "1111", false)
        );

        let err = phone.set_key6(None, &id, "123456", &Unlock::pin(PIN)).await.unwrap_err();
        assert!(
            matches!(err, sigillo_device::DeviceError::Server { status: 422, ref code, .. } if code == "key6.trivial")
        );
        let err = phone.set_key6(None, &id, KEY6, &Unlock::pin("13579")).await.unwrap_err();
        assert!(matches!(err, sigillo_device::DeviceError::Server { status: 401, .. }), "a wrong PIN sets nothing");
        assert!(!app.services.card_view(&id).await.unwrap().key6_set);
        phone.set_key6(None, &id, KEY6, &Unlock::pin(PIN)).await.unwrap();
        assert!(phone.cards(None).await.unwrap()[0].key6_set);

        let shown = phone.view_key6(None, &id, &Unlock::pin(PIN), now(&app)).await.unwrap();
        assert_eq!(shown.as_str(), KEY6);
        let err = phone.view_key6(None, &id, &Unlock::pin("13579"), now(&app)).await.unwrap_err();
        assert!(matches!(err, sigillo_device::DeviceError::Server { status: 401, .. }), "a wrong PIN approves nothing");
        assert!(app.audit_actions().await.iter().any(|a| a == "binding.failed"), "and counts (P2)");

        block(&app, &id).await;
        assert!(phone.cards(None).await.unwrap()[0].key6_blocked);
        phone.unlock_key6(None, &id, &Unlock::pin(PIN), now(&app)).await.unwrap();
        assert!(!phone.cards(None).await.unwrap()[0].key6_blocked);

        // Another user's card is no card for the phone either.
        let stranger = app.user_with_phone("+393330000001").await;
        let foreign = card(&app, &stranger.user_code, OTHER_PAN).await;
        let err = phone.view_key6(None, &foreign, &Unlock::pin(PIN), now(&app)).await.unwrap_err();
        assert!(matches!(err, sigillo_device::DeviceError::Server { status: 404, .. }));
    });
}
