//! The devices page (DESIGN flow 2 on the web): the list, the activation code and QR,
//! removal and unblock. The phone's side of an activation is played through the
//! services with real keys; a blocked binding is made in the store.

use crate::each_backend;
use crate::support::{START, TestApp};
use regex::Regex;
use reqwest::{Client, StatusCode};
use sigillo_core::device::keys::{Factor, KeyPair};
use sigillo_core::device::messages::{self, OfferedKeys};
use sigillo_server::service::Origin;
use sigillo_server::service::binding::ActivationRequest;
use sigillo_store::repo::bindings::{self, BindingStatus};

const PHONE: &str = "+393331234567";
pub(crate) const PASSWORD: &str = "58301649";

pub(crate) fn csrf_of(html: &str) -> String {
    Regex::new(r#"name="csrf" value="([^"]+)""#).unwrap().captures(html).unwrap()[1].to_owned()
}

/// A browser-like client that keeps cookies.
pub(crate) fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A customer past first access, signed in on the web with password + SMS OTP: the
/// browser and its CSRF token.
pub(crate) async fn signed_in(app: &TestApp, phone: &str) -> (Client, String) {
    let env = app.user_with_phone(phone).await;
    app.activate(&env, PASSWORD, phone).await;
    let b = browser();
    let csrf = csrf_of(&b.get(app.url("/login")).send().await.unwrap().text().await.unwrap());
    let resp = b
        .post(app.url("/login"))
        .form(&[("csrf", csrf.as_str()), ("username", env.user_code.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["location"], "/login/otp");
    let code = app.last_otp(phone).await;
    let resp =
        b.post(app.url("/login/otp")).form(&[("csrf", csrf.as_str()), ("code", code.as_str())]).send().await.unwrap();
    assert_eq!(resp.headers()["location"], "/");
    (b, csrf)
}

pub(crate) async fn page(app: &TestApp, b: &Client, path: &str) -> String {
    let resp = b.get(app.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.text().await.unwrap()
}

/// Presses "bind a new device": the activation page.
pub(crate) async fn bind(app: &TestApp, b: &Client, csrf: &str) -> String {
    let resp = b.post(app.url("/devices/activation")).form(&[("csrf", csrf)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the code comes in the answer, not behind a redirect");
    assert!(resp.headers().get("location").is_none());
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.text().await.unwrap()
}

pub(crate) fn code_of(html: &str) -> String {
    let re = Regex::new(r#"id="activation-code"[^>]*>([0-9A-Z]{5}(?:-[0-9A-Z]{5}){3})<"#).unwrap();
    re.captures(html).unwrap_or_else(|| panic!("no activation code in\n{html}"))[1].to_owned()
}

/// The phone's activation with the code from the page: fresh P-256 keys, each proving
/// its private half. Returns the binding id.
pub(crate) async fn activate_phone(app: &TestApp, code: &str, name: &str) -> String {
    let possession = KeyPair::generate(&mut rand::rngs::OsRng);
    let knowledge = KeyPair::generate(&mut rand::rngs::OsRng);
    let (p, k) = (possession.public_key(), knowledge.public_key());
    let offered = OfferedKeys { possession: &p, knowledge: &k, biometry: None };
    let proofs = [(Factor::Possession, &possession), (Factor::Knowledge, &knowledge)]
        .into_iter()
        .map(|(f, key)| (f, key.sign(&messages::activation_proof(f, code, name, "android", &offered))))
        .collect();
    let req = ActivationRequest {
        code: code.to_owned(),
        device_name: name.to_owned(),
        platform: "android".into(),
        possession_key: p.clone(),
        knowledge_key: k.clone(),
        biometry_key: None,
        proofs,
    };
    app.services.activate_device(&req, &Origin { channel: "app", ip: None }).await.unwrap().binding
}

async fn set_status(app: &TestApp, binding: &str, from: BindingStatus, to: BindingStatus) {
    let mut conn = app.services.store.conn().await.unwrap();
    assert!(bindings::transition(&mut conn, binding, from, to, START.0).await.unwrap());
}

async fn count(app: &TestApp, action: &str) -> usize {
    app.audit_actions().await.iter().filter(|a| *a == action).count()
}

/// Empty list, then an activation code and QR that a phone can use, and the phone in
/// the list. The code is in no URL and no audit record.
/// Requirements: flow 2, P10.
#[tokio::test]
async fn the_devices_page_issues_a_code_and_qr_and_lists_the_phone() {
    each_backend!(|app| {
        let (b, csrf) = signed_in(&app, PHONE).await;
        assert!(page(&app, &b, "/").await.contains(r#"href="/devices""#), "home links to the devices page");
        let resp = b.get(app.url("/devices")).send().await.unwrap();
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let html = resp.text().await.unwrap();
        assert!(html.contains(r#"id="no-devices""#) && html.contains("Dispositivi"), "{html}");
        assert!(html.contains(r#"action="/devices/activation""#));

        let html = bind(&app, &b, &csrf).await;
        let code = code_of(&html);
        assert!(html.contains("<svg") && html.contains(r#"role="img""#), "the QR is inline SVG with a label");
        assert!(!html.contains("<?xml"));
        assert!(html.contains("valido per 10 minuti"));
        assert!(html.contains(r#"<time datetime="2026-11-23T08:10:00Z">08:10 UTC</time>"#), "{html}");
        assert!(html.contains("Smart PIN") && html.contains("biometria"));
        assert!(html.contains(r#"id="approval-note""#) && !html.contains("autorizzare il nuovo"), "a first phone");
        assert!(!html.contains(&format!("={code}")) && !html.contains(&format!("/{code}")), "the code is in no link");
        assert_eq!(count(&app, "device.activation_issued").await, 1);
        let audit = app.services.audit_tail(1000).await.unwrap();
        assert!(audit.iter().all(|r| !r.detail.contains(&code[..5])), "the code is in no audit record");

        // A reload by address goes back to the list rather than showing (or issuing) a code.
        let resp = b.get(app.url("/devices/activation")).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/devices");

        let binding = activate_phone(&app, &code, "Pixel 8").await;
        let html = page(&app, &b, "/devices").await;
        assert!(!html.contains(r#"id="no-devices""#));
        assert!(html.contains("Pixel 8") && html.contains("Android"), "{html}");
        assert!(html.contains("in attesa di conferma"));
        let text = html.replace("&#x2f;", "/");
        assert!(text.contains(r#"<time datetime="2026-11-23T08:00:00Z">23/11/2026, 08:00 UTC</time>"#), "{html}");
        assert!(html.contains(">mai<"));
        assert!(html.contains(&format!(r#"action="/devices/{binding}/remove""#)));
        assert!(!html.contains("/unblock"), "only a blocked phone can be unblocked");

        // English on request.
        let en = b.get(app.url("/devices")).header("accept-language", "en").send().await.unwrap();
        let en = en.text().await.unwrap();
        assert!(en.contains("waiting for confirmation") && en.contains("23 Nov 2026, 08:00 UTC"), "{en}");
        assert!(en.contains("Bind a new device") && en.contains(">never<"));
    });
}

/// The bind form needs this browser's CSRF token; a forged post issues no code.
/// Requirements: P10.
#[tokio::test]
async fn the_bind_form_refuses_missing_or_foreign_csrf_tokens() {
    each_backend!(|app| {
        let (b, _) = signed_in(&app, PHONE).await;
        let attacker = browser();
        let attacker_csrf = csrf_of(&attacker.get(app.url("/login")).send().await.unwrap().text().await.unwrap());
        let resp = b.post(app.url("/devices/activation")).form(&[("x", "1")]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        for csrf in ["", "forged", attacker_csrf.as_str()] {
            let resp = b.post(app.url("/devices/activation")).form(&[("csrf", csrf)]).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            let html = resp.text().await.unwrap();
            assert!(!html.contains("activation-code") && !html.contains("<svg"));
        }
        assert_eq!(count(&app, "device.activation_issued").await, 0, "no code was issued");
        assert!(page(&app, &b, "/devices").await.contains(r#"id="no-devices""#));
    });
}

/// Without a session the page and its forms send to the login; a session that must
/// still change the envelope's password is sent to first access.
/// Requirements: flow 2, P10.
#[tokio::test]
async fn the_devices_page_needs_a_full_session() {
    each_backend!(|app| {
        let b = browser();
        let resp = b.get(app.url("/devices")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/login");
        let csrf = csrf_of(&b.get(app.url("/login")).send().await.unwrap().text().await.unwrap());
        let resp = b.post(app.url("/devices/activation")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/login");
        assert_eq!(count(&app, "device.activation_issued").await, 0);

        // Signed in with the envelope's initial password: first access comes first.
        let env = app.user().await;
        let resp = b
            .post(app.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", env.user_code.as_str()),
                ("password", env.initial_password.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["location"], "/login/otp");
        let code = app.last_otp(PHONE).await;
        b.post(app.url("/login/otp")).form(&[("csrf", csrf.as_str()), ("code", code.as_str())]).send().await.unwrap();
        assert_eq!(b.get(app.url("/devices")).send().await.unwrap().headers()["location"], "/first-access");
        let resp = b.post(app.url("/devices/activation")).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/first-access");
        assert_eq!(count(&app, "device.activation_issued").await, 0);
    });
}

/// "Rimuovi" asks for confirmation, then removes; another user's phone cannot be removed.
/// Requirements: flow 2.
#[tokio::test]
async fn a_phone_is_removed_after_confirmation_and_only_by_its_user() {
    each_backend!(|app| {
        let (b, csrf) = signed_in(&app, PHONE).await;
        let code = code_of(&bind(&app, &b, &csrf).await);
        let binding = activate_phone(&app, &code, "Pixel 8").await;

        // Another customer's phone.
        let (other, other_csrf) = signed_in(&app, "+393339876543").await;
        let other_code = code_of(&bind(&app, &other, &other_csrf).await);
        let foreign = activate_phone(&app, &other_code, "iPhone di Anna").await;
        for confirm in ["", "yes"] {
            let resp = b
                .post(app.url(&format!("/devices/{foreign}/remove")))
                .form(&[("csrf", csrf.as_str()), ("confirm", confirm)])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);
            assert!(!resp.text().await.unwrap().contains("iPhone di Anna"));
        }
        assert!(page(&app, &other, "/devices").await.contains("iPhone di Anna"), "still bound");

        // The list's button shows the confirmation page and removes nothing.
        let resp = b
            .post(app.url(&format!("/devices/{binding}/remove")))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let html = resp.text().await.unwrap();
        assert!(html.contains("Pixel 8") && html.contains(r#"name="confirm" value="yes""#), "{html}");
        assert_eq!(count(&app, "device.removed").await, 0);
        assert!(page(&app, &b, "/devices").await.contains("Pixel 8"));

        let resp = b
            .post(app.url(&format!("/devices/{binding}/remove")))
            .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/devices?done=removed");
        let html = page(&app, &b, "/devices?done=removed").await;
        assert!(html.contains(r#"id="notice""#) && html.contains("è stato rimosso"));
        assert!(html.contains(r#"id="no-devices""#) && !html.contains("Pixel 8"));
        assert_eq!(count(&app, "device.removed").await, 1);

        // A second removal finds nothing.
        let resp = b
            .post(app.url(&format!("/devices/{binding}/remove")))
            .form(&[("csrf", csrf.as_str()), ("confirm", "yes")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        // Without the CSRF token nothing happens.
        let resp = other
            .post(app.url(&format!("/devices/{foreign}/remove")))
            .form(&[("csrf", "forged"), ("confirm", "yes")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(count(&app, "device.removed").await, 1);
    });
}

/// A blocked phone shows "Sblocca"; once unblocked the page says the app will ask for a
/// new Smart PIN, and a further phone will need this one's approval.
/// Requirements: flow 2, P2.
#[tokio::test]
async fn a_blocked_phone_is_unblocked_and_will_ask_for_a_new_pin() {
    each_backend!(|app| {
        let (b, csrf) = signed_in(&app, PHONE).await;
        let code = code_of(&bind(&app, &b, &csrf).await);
        let binding = activate_phone(&app, &code, "Pixel 8").await;
        let unblock = format!("/devices/{binding}/unblock");

        // Not blocked: nothing to unblock.
        let resp = b.post(app.url(&unblock)).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(resp.text().await.unwrap().contains("non è bloccato"));

        set_status(&app, &binding, BindingStatus::PendingCommit, BindingStatus::Blocked).await;
        let html = page(&app, &b, "/devices").await;
        assert!(html.contains(">bloccato<") && html.contains(&format!(r#"action="{unblock}""#)), "{html}");
        assert!(html.contains("Sblocca"));

        let resp = b.post(app.url(&unblock)).form(&[("csrf", "forged")]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(count(&app, "device.unblocked").await, 0);

        let resp = b.post(app.url(&unblock)).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/devices?done=unblocked");
        let html = page(&app, &b, "/devices?done=unblocked").await;
        assert!(html.contains("nuovo Smart PIN") && html.contains(r#"id="notice""#), "{html}");
        assert!(html.contains(">attivo<") && html.contains(&format!(r#"id="device-{binding}-pin-reset""#)));
        assert!(!html.contains(&format!(r#"action="{unblock}""#)));
        assert_eq!(count(&app, "device.unblocked").await, 1);

        // With an active phone, a new one needs its approval: both pages say so.
        assert!(html.contains(r#"id="bind-approval-hint""#));
        let html = bind(&app, &b, &csrf).await;
        assert!(html.contains(r#"class="notice" role="note" id="approval-note""#), "{html}");
        let other = activate_phone(&app, &code_of(&html), "iPhone").await;
        let html = page(&app, &b, "/devices").await;
        assert!(html.contains("in attesa di approvazione") && html.contains(&format!(r#"id="device-{other}""#)));
    });
}
