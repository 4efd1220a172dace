//! Login step two with a bound phone on the web (DESIGN flow 3): the page that waits for
//! the push shows the number and carries a CSRF token, its event stream needs the flow
//! cookie, and nothing claims the session before the phone answers. The browser side
//! (the stream moving the page on, the phone's answers) is in e2e/tests/push-login.test.js.

use crate::each_backend;
use crate::support::TestApp;
use crate::web_devices::{browser, csrf_of};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sigillo_device::keystore::FileKeystore;
use sigillo_device::prompt::Unlock;
use sigillo_device::state::State;
use sigillo_device::{Device, DeviceError};
use sigillo_server::clock::Clock;
use sigillo_store::repo::{operations, users};

const PHONE: &str = "+393331234567";
const PASSWORD: &str = "58301649";
const PIN: &str = "24680";

fn now(app: &TestApp) -> u64 {
    u64::try_from(app.clock.now().0).unwrap()
}

/// A customer past first access with one active phone (the `sigillo-device` SDK): the
/// user code and the phone.
async fn user_with_bound_phone(app: &TestApp) -> (String, Device<FileKeystore>) {
    let env = app.user_with_phone(PHONE).await;
    let token = app.activate(&env, PASSWORD, PHONE).await;
    let resp = app.post("/api/v1/devices/activation", json!({}), Some(&token)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let qr = resp.json::<Value>().await.unwrap()["qr"].as_str().unwrap().to_owned();
    let mut phone = Device::new(
        State { version: State::VERSION, ..State::default() },
        FileKeystore::in_memory(),
        "Pixel 8",
        "android",
    );
    let bound = phone.activate(&app.base, &qr, PIN, false, now(app)).await.unwrap();
    assert_eq!(bound.status, "active");
    (env.user_code, phone)
}

/// The page's number.
fn number_of(html: &str) -> u8 {
    regex::Regex::new(r#"id="match-number"[^>]*>(\d{2})<"#).unwrap().captures(html).unwrap()[1].parse().unwrap()
}

/// The password on the login page: the browser, its CSRF token and where it was sent.
async fn password_step(app: &TestApp, user_code: &str) -> (Client, String, String) {
    let b = browser();
    let csrf = csrf_of(&b.get(app.url("/login")).send().await.unwrap().text().await.unwrap());
    let resp = b
        .post(app.url("/login"))
        .form(&[("csrf", csrf.as_str()), ("username", user_code), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    (b, csrf, location)
}

/// With a phone the password leads to the waiting page, which shows the number the
/// store holds for the pushed login, a CSRF token for its fallbacks and its event
/// stream; no SMS goes out by itself, and no flow handle is in the page.
/// Requirements: flow 3, P3 (number matching), P10.
#[tokio::test]
async fn the_wait_page_shows_the_number_and_a_csrf_token() {
    each_backend!(|app| {
        let (user_code, _phone) = user_with_bound_phone(&app).await;
        let sms_before = app.outbox().await.iter().filter(|m| m.channel == "sms").count();
        let (b, csrf, location) = password_step(&app, &user_code).await;
        assert_eq!(location, "/login/push");
        assert_eq!(app.outbox().await.iter().filter(|m| m.channel == "sms").count(), sms_before, "no SMS by itself");

        let resp = b.get(app.url("/login/push")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let html = resp.text().await.unwrap();

        let number = i64::from(number_of(&html));
        let ops = {
            let mut conn = app.services.store.conn().await.unwrap();
            let user = users::by_username(&mut conn, &user_code).await.unwrap().unwrap();
            operations::recent_for_user(&mut conn, &user.id, "login", 10).await.unwrap()
        };
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].match_number, Some(number), "the page shows the number the phone must pick");
        assert_eq!(csrf_of(&html), csrf, "the fallback forms carry the browser's CSRF token");
        assert!(html.contains(r#"action="/login/push/otp""#) && html.contains(r#"action="/login/sms""#));
        // (minijinja escapes `/` in values as `&#x2f;`.)
        let unescaped = html.replace("&#x2f;", "/");
        assert!(unescaped.contains(r#"data-events="/login/events""#) && html.contains(r#"src="/static/wait.js""#));
        assert!(html.contains("Ho approvato") && html.contains("Non hai ricevuto la notifica?"));
        assert!(!html.contains(ops[0].flow_id.as_deref().unwrap()), "no flow id in the page");

        // Nothing is claimed while the phone has not answered: back to the waiting page.
        let resp = b.get(app.url("/login/complete")).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/login/push");
        assert!(resp.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().starts_with("sg_session=")));

        // The script is served from the site itself.
        let js = b.get(app.url("/static/wait.js")).send().await.unwrap();
        assert_eq!(js.status(), StatusCode::OK);
        assert!(js.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    });
}

/// The stream reads the flow from the cookie only: without one, or with one that names
/// no flow, it is refused; with the flow it starts with `pending`.
/// Requirements: flow 3, P10 (the handle in no URL).
#[tokio::test]
async fn the_login_event_stream_needs_the_flow_cookie() {
    each_backend!(|app| {
        let resp = browser().get(app.url("/login/events")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let resp = app
            .client
            .get(app.url("/login/events"))
            .header("cookie", "sg_flow=not-a-flow-handle-at-all-0123456789")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);

        let (user_code, _phone) = user_with_bound_phone(&app).await;
        let (b, _, _) = password_step(&app, &user_code).await;
        let mut resp = b.get(app.url("/login/events")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let first =
            tokio::time::timeout(std::time::Duration::from_secs(5), resp.chunk()).await.unwrap().unwrap().unwrap();
        let first = String::from_utf8(first.to_vec()).unwrap();
        assert!(first.contains("event: status") && first.contains("data: pending"), "{first}");
    });
}

/// Without a phone the login stays as it was: the SMS page, and the waiting page sends
/// there.
/// Requirements: flow 3 (SMS for customers without the app).
#[tokio::test]
async fn without_a_phone_the_password_leads_to_the_sms_page() {
    each_backend!(|app| {
        let env = app.user_with_phone(PHONE).await;
        app.activate(&env, PASSWORD, PHONE).await;
        let (b, _, location) = password_step(&app, &env.user_code).await;
        assert_eq!(location, "/login/otp");
        let resp = b.get(app.url("/login/push")).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/login/otp");
        // Its stream follows the SMS flow all the same.
        let flow = b.get(app.url("/login/events")).send().await.unwrap();
        assert_eq!(flow.status(), StatusCode::OK);
    });
}

/// The phone approves with the page's number: the completion page claims the session
/// (once) and goes home. Another number: refused, and the page says why.
/// Requirements: flow 3, P3 (number matching), P8.
#[tokio::test]
async fn the_phone_answer_decides_what_the_completion_page_does() {
    each_backend!(|app| {
        let (user_code, phone) = user_with_bound_phone(&app).await;

        // Approved with the number shown.
        let (b, _, _) = password_step(&app, &user_code).await;
        let number = number_of(&b.get(app.url("/login/push")).send().await.unwrap().text().await.unwrap());
        let op = phone.pending(None, now(&app)).await.unwrap().into_iter().find(|op| op.kind == "login").unwrap();
        assert!(op.numbers.unwrap().contains(&number));
        phone.approve(None, &op.id, &Unlock::pin(PIN), Some(number), now(&app)).await.unwrap();
        let resp = b.get(app.url("/login/push")).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/login/complete", "an answered flow moves on");
        let resp = b.get(app.url("/login/complete")).send().await.unwrap();
        assert_eq!(resp.headers()["location"], "/");
        let cookies: Vec<String> =
            resp.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_owned()).collect();
        assert!(cookies.iter().any(|c| c.starts_with("sg_session=") && c.contains("HttpOnly")), "{cookies:?}");
        assert_eq!(b.get(app.url("/")).send().await.unwrap().status(), StatusCode::OK, "signed in");

        // Another number: refused; the page says so and gives no session.
        let (b, _, _) = password_step(&app, &user_code).await;
        let number = number_of(&b.get(app.url("/login/push")).send().await.unwrap().text().await.unwrap());
        let op = phone.pending(None, now(&app)).await.unwrap().into_iter().find(|op| op.kind == "login").unwrap();
        let other = op.numbers.unwrap().into_iter().find(|n| *n != number).unwrap();
        let err = phone.approve(None, &op.id, &Unlock::pin(PIN), Some(other), now(&app)).await.unwrap_err();
        assert!(matches!(&err, DeviceError::Server { code, .. } if code == "wrong_number"), "{err:?}");
        let resp = b.get(app.url("/login/complete")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let cookies: Vec<String> =
            resp.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_owned()).collect();
        assert!(!cookies.iter().any(|c| c.starts_with("sg_session=")), "no session: {cookies:?}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("numero diverso"), "{html}");
        assert_eq!(b.get(app.url("/")).send().await.unwrap().headers()["location"], "/login");
    });
}
