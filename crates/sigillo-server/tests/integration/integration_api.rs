//! The integration API (issue 4): the bank's back end asks for a payment approval with its
//! API key, the customer's phone approves, and the outcome reaches the back end's webhook
//! signed with HMAC-SHA256; expired operations are reported too, each outcome once.

use crate::support::TestApp;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sigillo_device::Device;
use sigillo_device::keystore::FileKeystore;
use sigillo_device::prompt::Unlock;
use sigillo_device::state::State as PhoneState;
use sigillo_server::clock::Clock;
use sigillo_server::config::IntegrationClient;
use sigillo_server::notify::worker::deliver_due;
use sigillo_store::testing::backends;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "sk_test_3f9a1c0e7b5d";
const OTHER_KEY: &str = "sk_test_other_client";
const SECRET: &str = "whsec_test_51f0";
const PHONE: &str = "+393331234567";
const PIN: &str = "24680";

type Hooks = Arc<Mutex<Vec<(String, Value)>>>;

async fn hook(State(hooks): State<Hooks>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    let signature = headers.get("sigillo-signature").unwrap().to_str().unwrap().to_owned();
    // Verified here, independently of sigillo's code: HMAC-SHA256(secret, "t.body").
    let (t, v1) = signature.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&body);
    mac.verify_slice(&hex::decode(v1).unwrap()).expect("the webhook signature verifies");
    hooks.lock().unwrap().push((t.to_owned(), serde_json::from_slice(&body).unwrap()));
    AxumStatus::NO_CONTENT
}

async fn start_hook(hooks: Hooks) -> String {
    let app = axum::Router::new().route("/outcome", axum::routing::post(hook)).with_state(hooks);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/outcome", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn client(name: &str, key: &str, webhook: Option<&str>) -> IntegrationClient {
    IntegrationClient {
        name: name.into(),
        api_key_sha256: hex::encode(Sha256::digest(key.as_bytes())),
        webhook_url: webhook.map(str::to_owned),
        webhook_secret: webhook.map(|_| SECRET.to_owned()),
        webhook_secret_file: None,
    }
}

async fn call(
    app: &TestApp,
    key: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(k) = key {
        req = req.header("X-Api-Key", k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

fn payment(user: &str) -> Value {
    json!({ "user": user, "reference": "ORD-1001", "kind": "payment", "amount": "42.00", "currency": "EUR",
            "payee": "ACME S.p.A.", "iban": "IT60X0542811101000000123456" })
}

/// The bank's back end: API key, validation, its own operations only, and the outcome by
/// signed webhook, exactly once, including expiry. Requirements: R15, R17.
#[tokio::test]
async fn the_bank_back_end_asks_and_learns_the_outcome_by_signed_webhook() {
    for backend in backends() {
        let hooks = Hooks::default();
        let url = start_hook(hooks.clone()).await;
        let clients = vec![client("webbank", KEY, Some(&url)), client("other", OTHER_KEY, None)];
        let app = TestApp::spawn_with(backend, move |cfg| cfg.integration.clients = clients).await;
        let env = app.user_with_phone(PHONE).await;
        let token = app.activate(&env, "58301649", PHONE).await;
        let resp = app.post("/api/v1/devices/activation", json!({}), Some(&token)).await;
        let code = resp.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned();
        let mut phone = Device::new(
            PhoneState { version: PhoneState::VERSION, ..PhoneState::default() },
            FileKeystore::in_memory(),
            "P",
            "ios",
        );
        let now = || u64::try_from(app.clock.now().0).unwrap();
        phone.activate(&app.base, &code, PIN, false, now()).await.unwrap();

        let post = reqwest::Method::POST;
        for key in [None, Some("sk_wrong"), Some("")] {
            let resp =
                call(&app, key, post.clone(), "/api/v1/integration/operations", Some(payment(&env.user_code))).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        let resp =
            call(&app, Some(KEY), post.clone(), "/api/v1/integration/operations", Some(payment("99999999"))).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let mut bad = payment(&env.user_code);
        bad["iban"] = json!("IT60X0542811101000000123457");
        let resp = call(&app, Some(KEY), post.clone(), "/api/v1/integration/operations", Some(bad)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let mut extra = payment(&env.user_code);
        extra["callback_url"] = json!("http://169.254.169.254/");
        let resp = call(&app, Some(KEY), post.clone(), "/api/v1/integration/operations", Some(extra)).await;
        assert!(resp.status().is_client_error(), "unknown fields refused, a callback URL cannot be injected");

        let resp =
            call(&app, Some(KEY), post.clone(), "/api/v1/integration/operations", Some(payment(&env.user_code))).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let op: Value = resp.json().await.unwrap();
        let id = op["id"].as_str().unwrap().to_owned();
        assert_eq!((op["reference"].as_str(), op["status"].as_str()), (Some("ORD-1001"), Some("pending")));
        let path = format!("/api/v1/integration/operations/{id}");
        assert_eq!(
            call(&app, Some(OTHER_KEY), reqwest::Method::GET, &path, None).await.status(),
            StatusCode::NOT_FOUND
        );

        let shown = phone.pending(None, now()).await.unwrap();
        assert!(shown[0].fields.contains(&("payee".into(), "ACME S.p.A.".into())));
        phone.approve(None, &id, &Unlock::pin(PIN), None, now()).await.unwrap();
        let status: Value = call(&app, Some(KEY), reqwest::Method::GET, &path, None).await.json().await.unwrap();
        assert_eq!(status["status"], "approved");
        deliver_due(&app.services, &app.senders).await.unwrap();
        {
            let got = hooks.lock().unwrap();
            assert_eq!(got.len(), 1);
            let body = &got[0].1;
            assert_eq!(body["id"], id.as_str());
            assert_eq!(
                (body["reference"].as_str(), body["status"].as_str(), body["method"].as_str()),
                (Some("ORD-1001"), Some("approved"), Some("push"))
            );
        }

        // Nobody answers the next one: the sweep expires it and reports it, once.
        let resp =
            call(&app, Some(KEY), post.clone(), "/api/v1/integration/operations", Some(payment(&env.user_code))).await;
        let late = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        app.advance(Duration::from_secs(301));
        app.services.sweep_operations().await.unwrap();
        app.services.sweep_operations().await.unwrap();
        deliver_due(&app.services, &app.senders).await.unwrap();
        {
            let got = hooks.lock().unwrap();
            assert_eq!(got.len(), 2, "each outcome once");
            assert_eq!((got[1].1["id"].as_str(), got[1].1["status"].as_str()), (Some(late.as_str()), Some("expired")));
        }
        assert!(app.audit_actions().await.iter().any(|a| a == "operation.expired"));
        app.stop().await;
    }
}

/// `sigillo admin integration key` makes a fresh random key and the SHA-256 that the
/// configuration takes; a server configured with that digest accepts the key.
#[tokio::test]
async fn an_operator_makes_an_api_key_the_server_accepts() {
    let db = sigillo_store::testing::TestDb::new(sigillo_store::Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = crate::operator::sigillo(&db, dir.path(), &["admin", "integration", "key", "--json"]);
    assert_eq!(code, 0);
    let made: Value = serde_json::from_str(&out).unwrap();
    let key = made["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_") && key.len() > 40);
    assert_eq!(made["api_key_sha256"], hex::encode(Sha256::digest(key.as_bytes())).as_str());
    let (_, again, _) = crate::operator::sigillo(&db, dir.path(), &["admin", "integration", "key", "--json"]);
    assert_ne!(serde_json::from_str::<Value>(&again).unwrap()["api_key"], key.as_str(), "random each time");
    db.cleanup().await;

    let clients = vec![client("webbank", &key, None)];
    let app = TestApp::spawn_with(sigillo_store::Backend::Sqlite, move |cfg| cfg.integration.clients = clients).await;
    let resp = call(&app, Some(&key), reqwest::Method::GET, "/api/v1/integration/operations/nope", None).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "authenticated; the operation does not exist");
    app.stop().await;
}
