//! Push notifications (issue 4) against a local recording server that plays APNs (HTTP/2
//! cleartext, prior knowledge) and FCM with its OAuth token endpoint: the requests are
//! checked header by header, the JWTs are verified with the test keys' public halves,
//! and queued notes travel through the outbox worker on each backend.
//!
//! The keys in `tests/fixtures/push/` are test-only (see the README there).

use crate::support::{START, TestApp};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode as ClientStatus;
use serde_json::{Value, json};
use sigillo_core::time::UnixMillis;
use sigillo_device::Device;
use sigillo_device::keystore::FileKeystore;
use sigillo_device::state::State as PhoneState;
use sigillo_server::clock::{Clock, ManualClock};
use sigillo_server::config::{Apns, Config, Fcm};
use sigillo_server::notify::worker::deliver_due;
use sigillo_server::push::apns::{self, ApnsConfig, ApnsSender};
use sigillo_server::push::fcm::{self, FcmConfig, FcmSender, ServiceAccount};
use sigillo_server::push::{PushError, PushNote, PushTarget};
use sigillo_store::repo::{bindings, outbox, users};
use sigillo_store::testing::backends;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const APNS_KEY: &str = include_str!("../fixtures/push/apns-test-key.p8");
const APNS_PUB: &str = include_str!("../fixtures/push/apns-test-key.pub.pem");
const FCM_KEY: &str = include_str!("../fixtures/push/fcm-test-key.pem");
const FCM_PUB: &str = include_str!("../fixtures/push/fcm-test-key.pub.pem");
const KEY_ID: &str = "TESTKEY123";
const TEAM_ID: &str = "TESTTEAM99";
const TOPIC: &str = "it.bank.smartbanking";
const CLIENT_EMAIL: &str = "sigillo-push@test-project.iam.gserviceaccount.com";
const APNS_TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const FCM_TOKEN: &str = "fKx9-test:APA91bH_registration_token_for_tests";
const PHONE: &str = "+393331234567";
const PIN: &str = "24680";

/// One request the recording server got.
#[derive(Clone, Debug)]
struct Seen {
    version: Version,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn form(&self) -> Vec<(String, String)> {
        String::from_utf8(self.body.clone())
            .unwrap()
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A scripted answer; when none is left the server answers 200.
struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<&'static str>,
}

/// The recording server: APNs, FCM and Google's token endpoint (`/token`) in one.
#[derive(Clone, Default)]
struct Provider {
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    tokens_issued: Arc<AtomicUsize>,
}

impl Provider {
    fn reply(&self, status: u16, body: Value, retry_after: Option<&'static str>) {
        self.replies.lock().unwrap().push_back(Reply { status, body, retry_after });
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn sends(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path != "/token").collect()
    }
}

async fn record(State(p): State<Provider>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
    let path = parts.uri.path().to_owned();
    p.seen.lock().unwrap().push(Seen { version: parts.version, path: path.clone(), headers: parts.headers, body });
    if path == "/token" {
        let n = p.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
        return Json(json!({ "access_token": format!("ya29.test-{n}"), "expires_in": 3600, "token_type": "Bearer" }))
            .into_response();
    }
    let reply = p.replies.lock().unwrap().pop_front();
    match reply {
        Some(r) => {
            let mut resp = (StatusCode::from_u16(r.status).unwrap(), Json(r.body)).into_response();
            if let Some(secs) = r.retry_after {
                resp.headers_mut().insert("retry-after", HeaderValue::from_static(secs));
            }
            resp
        }
        None => (StatusCode::OK, Json(json!({ "name": "projects/test-project/messages/0:1" }))).into_response(),
    }
}

/// Serves HTTP/1.1 and, with prior knowledge, HTTP/2 cleartext (axum's `http2` feature).
async fn start(p: Provider) -> String {
    let app = axum::Router::new().fallback(record).with_state(p);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(START))
}

fn apns_sender(base: &str, clock: Arc<ManualClock>) -> ApnsSender {
    let cfg = ApnsConfig { endpoint: base.into(), key_id: KEY_ID.into(), team_id: TEAM_ID.into(), topic: TOPIC.into() };
    ApnsSender::new(cfg, APNS_KEY, clock).unwrap()
}

fn service_account_json(base: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "test-key-1",
        "private_key": FCM_KEY,
        "client_email": CLIENT_EMAIL,
        "token_uri": format!("{base}/token"),
    })
    .to_string()
}

fn fcm_sender(base: &str, clock: Arc<ManualClock>) -> FcmSender {
    let account = ServiceAccount::from_json(&service_account_json(base)).unwrap();
    let cfg =
        FcmConfig { endpoint: base.into(), project_id: "test-project".into(), token_uri: format!("{base}/token") };
    FcmSender::new(cfg, &account, clock).unwrap()
}

fn note(op: &str, kind: &str, expires_at: UnixMillis) -> PushNote {
    PushNote { op: op.into(), kind: kind.into(), expires_at: expires_at.0 }
}

fn apns_target() -> PushTarget {
    PushTarget { provider: "apns".into(), token: APNS_TOKEN.into() }
}

fn fcm_target() -> PushTarget {
    PushTarget { provider: "fcm".into(), token: FCM_TOKEN.into() }
}

fn plus(t: UnixMillis, secs: i64) -> UnixMillis {
    UnixMillis(t.0 + secs * 1000)
}

/// Verifies an APNs provider token with the test key's public half.
fn verify_apns_jwt(jwt: &str) -> (jsonwebtoken::Header, apns::Claims) {
    let key = DecodingKey::from_ec_pem(APNS_PUB.as_bytes()).unwrap();
    let mut v = Validation::new(Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    let data = jsonwebtoken::decode::<apns::Claims>(jwt, &key, &v).expect("the provider token verifies");
    (data.header, data.claims)
}

/// Verifies the FCM token request's assertion with the test RSA key's public half.
fn verify_assertion(jwt: &str, token_uri: &str) -> (jsonwebtoken::Header, fcm::AssertionClaims) {
    let key = DecodingKey::from_rsa_pem(FCM_PUB.as_bytes()).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[token_uri]);
    // The test clock is not the wall clock: exp is checked by value below.
    v.validate_exp = false;
    let data = jsonwebtoken::decode::<fcm::AssertionClaims>(jwt, &key, &v).expect("the assertion verifies");
    (data.header, data.claims)
}

/// APNs: HTTP/2, the path names the device token, the headers say topic, type, priority,
/// expiry and collapse id, the body holds the operation id and kind only, and the
/// provider token verifies with the team key, is reused, and is replaced after 50 minutes.
#[tokio::test]
async fn apns_requests_are_http2_signed_and_carry_only_the_operation() {
    let provider = Provider::default();
    let base = start(provider.clone()).await;
    let clock = clock();
    let sender = apns_sender(&base, clock.clone());
    let expires = plus(START, 300);
    sender.send(&apns_target(), &note("op-1", "login", expires)).await.unwrap();
    clock.advance(Duration::from_secs(19 * 60));
    sender.send(&apns_target(), &note("op-2", "payment", expires)).await.unwrap();

    let seen = provider.seen();
    assert_eq!(seen.len(), 2);
    let first = &seen[0];
    assert_eq!(first.version, Version::HTTP_2, "APNs speaks HTTP/2 only");
    assert_eq!(first.path, format!("/3/device/{APNS_TOKEN}"));
    assert_eq!(first.header("apns-topic"), TOPIC);
    assert_eq!(first.header("apns-push-type"), "alert");
    assert_eq!(first.header("apns-priority"), "10");
    assert_eq!(first.header("apns-expiration"), (expires.0 / 1000).to_string());
    assert_eq!(first.header("apns-collapse-id"), "op-1");
    assert_eq!(
        first.json(),
        json!({
            "aps": { "alert": { "loc-key": "SIGILLO_OPERATION_PENDING" }, "sound": "default", "mutable-content": 1 },
            "op": "op-1",
            "kind": "login",
        }),
        "nothing but the operation id and kind"
    );
    assert_eq!(seen[1].json()["kind"], "payment");

    let auth = first.header("authorization");
    let jwt = auth.strip_prefix("bearer ").expect("bearer provider token");
    let (header, claims) = verify_apns_jwt(jwt);
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some(KEY_ID));
    assert_eq!(claims.iss, TEAM_ID);
    assert_eq!(claims.iat, START.0 / 1000);
    assert_eq!(seen[1].header("authorization"), auth, "reused: Apple refuses a new token every send");

    // Past 50 minutes the token is replaced (Apple: never older than 60).
    clock.advance(Duration::from_secs(32 * 60));
    sender.send(&apns_target(), &note("op-3", "login", plus(START, 4000))).await.unwrap();
    let third = provider.seen()[2].header("authorization").to_owned();
    assert_ne!(third, auth);
    let (_, claims) = verify_apns_jwt(third.strip_prefix("bearer ").unwrap());
    assert_eq!(claims.iat, clock.now().0 / 1000);
}

/// APNs answers: a dead token (410 Unregistered, 400 BadDeviceToken) ends the retries and
/// clears the token; 500 and 429 (with Retry-After) are worth another try; an expired
/// provider token is replaced on the next send.
#[tokio::test]
async fn apns_errors_tell_dead_tokens_from_retryable_ones() {
    let provider = Provider::default();
    let base = start(provider.clone()).await;
    let sender = apns_sender(&base, clock());
    let n = note("op-1", "login", plus(START, 300));
    provider.reply(410, json!({ "reason": "Unregistered", "timestamp": 1_795_420_000_000u64 }), None);
    provider.reply(400, json!({ "reason": "BadDeviceToken" }), None);
    provider.reply(500, json!({ "reason": "InternalServerError" }), None);
    provider.reply(429, json!({ "reason": "TooManyRequests" }), Some("30"));
    provider.reply(403, json!({ "reason": "ExpiredProviderToken" }), None);
    provider.reply(400, json!({ "reason": "DeviceTokenNotForTopic" }), None);

    let e = sender.send(&apns_target(), &n).await.unwrap_err();
    assert!(e.token_is_dead() && !e.is_retryable(), "{e}");
    let e = sender.send(&apns_target(), &n).await.unwrap_err();
    assert!(e.token_is_dead(), "{e}");
    let e = sender.send(&apns_target(), &n).await.unwrap_err();
    assert!(e.is_retryable() && e.retry_after().is_none(), "{e}");
    let e = sender.send(&apns_target(), &n).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    let e = sender.send(&apns_target(), &n).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let e = sender.send(&apns_target(), &n).await.unwrap_err();
    assert!(matches!(e, PushError::Permanent { .. }), "a wrong topic is configuration, not a dead token: {e}");
    let seen = provider.seen();
    assert_ne!(seen[4].header("authorization"), seen[5].header("authorization"), "a new provider token");

    // A token that is not hex never reaches the URL.
    let odd = PushTarget { provider: "apns".into(), token: "../../x".into() };
    assert!(sender.send(&odd, &n).await.unwrap_err().token_is_dead());
    assert_eq!(provider.seen().len(), 6);
}

/// FCM: the service account's RS256 assertion is exchanged for an access token (form
/// fields, scope, audience), the token is cached across sends and renewed before it
/// expires, and the message is data-only: operation id and kind.
#[tokio::test]
async fn fcm_exchanges_a_signed_assertion_and_caches_the_access_token() {
    let provider = Provider::default();
    let base = start(provider.clone()).await;
    let clock = clock();
    let sender = fcm_sender(&base, clock.clone());
    sender.send(&fcm_target(), &note("op-1", "login", plus(START, 120))).await.unwrap();
    clock.advance(Duration::from_secs(30 * 60));
    sender.send(&fcm_target(), &note("op-2", "payment", plus(clock.now(), 300))).await.unwrap();

    let seen = provider.seen();
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        ["/token", "/v1/projects/test-project/messages:send", "/v1/projects/test-project/messages:send",]
    );
    let token_request = &seen[0];
    assert_eq!(token_request.header("content-type"), "application/x-www-form-urlencoded");
    let form = token_request.form();
    assert_eq!(form[0], ("grant_type".into(), "urn:ietf:params:oauth:grant-type:jwt-bearer".into()));
    assert_eq!(form[1].0, "assertion");
    let token_uri = format!("{base}/token");
    let (header, claims) = verify_assertion(&form[1].1, &token_uri);
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some("test-key-1"));
    assert_eq!(claims.iss, CLIENT_EMAIL);
    assert_eq!(claims.scope, "https://www.googleapis.com/auth/firebase.messaging");
    assert_eq!(claims.aud, token_uri);
    assert_eq!(claims.iat, START.0 / 1000);
    assert_eq!(claims.exp, claims.iat + 3600);

    for send in &seen[1..] {
        assert_eq!(send.header("authorization"), "Bearer ya29.test-1", "the cached access token");
    }
    assert_eq!(
        seen[1].json(),
        json!({ "message": {
            "token": FCM_TOKEN,
            "data": { "op": "op-1", "kind": "login" },
            "android": { "priority": "HIGH", "ttl": "120s", "collapse_key": "op-1" },
        } }),
        "a data message with the operation id and kind only"
    );
    assert_eq!(seen[2].json()["message"]["data"], json!({ "op": "op-2", "kind": "payment" }));

    // 3600 s tokens are dropped five minutes early.
    clock.advance(Duration::from_secs(26 * 60));
    sender.send(&fcm_target(), &note("op-3", "login", plus(clock.now(), 60))).await.unwrap();
    let seen = provider.seen();
    assert_eq!(seen[3].path, "/token");
    assert_eq!(seen[4].header("authorization"), "Bearer ya29.test-2");
}

/// FCM answers: 404 UNREGISTERED and 400 INVALID_ARGUMENT on the token are dead tokens;
/// 500 and 429 are retryable; a 401 drops the access token so the next try gets another.
#[tokio::test]
async fn fcm_errors_tell_dead_tokens_from_retryable_ones() {
    let provider = Provider::default();
    let base = start(provider.clone()).await;
    let sender = fcm_sender(&base, clock());
    let n = note("op-1", "payment", plus(START, 300));
    let fcm_error = |code: u16, status: &str, error_code: &str| {
        json!({ "error": { "code": code, "message": "Requested entity was not found.", "status": status, "details": [
            { "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code }
        ] } })
    };
    provider.reply(404, fcm_error(404, "NOT_FOUND", "UNREGISTERED"), None);
    provider.reply(
        400,
        json!({ "error": { "code": 400, "status": "INVALID_ARGUMENT",
            "message": "The registration token is not a valid FCM registration token",
            "details": [
                { "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT" },
                { "@type": "type.googleapis.com/google.rpc.BadRequest",
                  "fieldViolations": [{ "field": "message.token", "description": "Invalid registration token" }] }
            ] } }),
        None,
    );
    provider.reply(500, fcm_error(500, "INTERNAL", "INTERNAL"), None);
    provider.reply(429, fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), Some("12"));
    provider.reply(401, fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), None);

    assert!(sender.send(&fcm_target(), &n).await.unwrap_err().token_is_dead());
    assert!(sender.send(&fcm_target(), &n).await.unwrap_err().token_is_dead());
    assert!(sender.send(&fcm_target(), &n).await.unwrap_err().is_retryable());
    let e = sender.send(&fcm_target(), &n).await.unwrap_err();
    assert_eq!((e.is_retryable(), e.retry_after()), (true, Some(Duration::from_secs(12))));
    assert!(sender.send(&fcm_target(), &n).await.unwrap_err().is_retryable());
    sender.send(&fcm_target(), &n).await.unwrap();
    let seen = provider.seen();
    assert_eq!(provider.tokens_issued.load(Ordering::SeqCst), 2, "a 401 costs the cached token");
    assert_eq!(seen.last().unwrap().header("authorization"), "Bearer ya29.test-2");
}

/// Config for an app whose providers are the recording server.
fn with_providers(base: String) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        let dir = std::env::temp_dir().join(format!("sigillo-push-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("apns-test-key.p8");
        std::fs::write(&key_file, APNS_KEY).unwrap();
        c.push.apns = Some(Apns {
            key_file: Some(key_file),
            key_id: KEY_ID.into(),
            team_id: TEAM_ID.into(),
            topic: TOPIC.into(),
            endpoint: base.clone(),
            ..Apns::default()
        });
        c.push.fcm = Some(Fcm { service_account: Some(service_account_json(&base)), endpoint: base, ..Fcm::default() });
    }
}

/// A customer with a phone bound through the real device API that registered `token`
/// with `provider`: the user id and the binding id.
async fn phone_with_push(app: &TestApp, provider: &str, token: &str) -> (String, String) {
    let env = app.user_with_phone(PHONE).await;
    let session = app.activate(&env, "58301649", PHONE).await;
    let resp = app.post("/api/v1/devices/activation", json!({}), Some(&session)).await;
    assert_eq!(resp.status(), ClientStatus::CREATED);
    let qr = resp.json::<Value>().await.unwrap()["qr"].as_str().unwrap().to_owned();
    let mut phone = Device::new(
        PhoneState { version: PhoneState::VERSION, ..PhoneState::default() },
        FileKeystore::in_memory(),
        "iPhone di Mario",
        "ios",
    );
    let now = u64::try_from(app.clock.now().0).unwrap();
    phone.activate(&app.base, &qr, PIN, false, now).await.unwrap();
    phone.register_push(None, provider, token).await.unwrap();
    let mut conn = app.services.store.conn().await.unwrap();
    let user = users::by_user_code(&mut conn, &env.user_code).await.unwrap().unwrap();
    let binding = bindings::for_user(&mut conn, &user.id).await.unwrap().remove(0);
    (user.id, binding.id)
}

/// `notify_phones` in the caller's transaction, as the login and payment services call it.
async fn notify(app: &TestApp, user_id: &str, op: &str, kind: &str, expires_at: UnixMillis) -> usize {
    let mut tx = app.services.store.begin().await.unwrap();
    let n = app.services.notify_phones(&mut tx, user_id, op, kind, expires_at, app.clock.now()).await.unwrap();
    sigillo_store::commit(tx).await.unwrap();
    n
}

async fn push_rows(app: &TestApp) -> Vec<outbox::Message> {
    let mut conn = app.services.store.conn().await.unwrap();
    outbox::recent(&mut conn, 100).await.unwrap().into_iter().filter(|m| m.channel == "push").collect()
}

/// End to end on each backend: a phone registers its APNs token through the device API,
/// the service queues a note in the outbox, the worker delivers it to APNs (after one
/// 503, with backoff) exactly once; a note whose operation expired is never sent.
#[tokio::test]
async fn queued_pushes_reach_the_phone_through_the_outbox() {
    for backend in backends() {
        let provider = Provider::default();
        let base = start(provider.clone()).await;
        let app = TestApp::spawn_with(backend, with_providers(base)).await;
        let (user_id, binding_id) = phone_with_push(&app, "apns", APNS_TOKEN).await;
        deliver_due(&app.services, &app.senders).await.unwrap(); // the SMS and emails so far
        provider.reply(503, json!({ "reason": "ServiceUnavailable" }), None);

        let expires = plus(app.clock.now(), 300);
        assert_eq!(notify(&app, &user_id, "op-login-1", "login", expires).await, 1);
        let rows = push_rows(&app).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].recipient, binding_id, "the recipient is the binding");
        assert!(!String::from_utf8_lossy(&rows[0].body).contains(APNS_TOKEN), "sealed at rest");

        assert_eq!(deliver_due(&app.services, &app.senders).await.unwrap(), 0, "APNs answered 503");
        app.advance(Duration::from_secs(3));
        assert_eq!(deliver_due(&app.services, &app.senders).await.unwrap(), 1);
        assert_eq!(deliver_due(&app.services, &app.senders).await.unwrap(), 0, "delivered once");
        let sends = provider.sends();
        assert_eq!(sends.len(), 2);
        assert_eq!(sends[1].path, format!("/3/device/{APNS_TOKEN}"));
        assert_eq!(sends[1].version, Version::HTTP_2);
        assert_eq!(sends[1].json()["op"], "op-login-1");
        assert_eq!(sends[1].header("apns-expiration"), (expires.0 / 1000).to_string());
        assert!(push_rows(&app).await[0].delivered_at.is_some());

        // Best effort: once the operation expired, the note is not worth sending.
        provider.reply(503, json!({ "reason": "ServiceUnavailable" }), None);
        assert_eq!(notify(&app, &user_id, "op-login-2", "login", plus(app.clock.now(), 5)).await, 1);
        assert_eq!(deliver_due(&app.services, &app.senders).await.unwrap(), 0);
        app.advance(Duration::from_secs(10));
        assert_eq!(deliver_due(&app.services, &app.senders).await.unwrap(), 0);
        app.advance(Duration::from_secs(3600));
        assert_eq!(deliver_due(&app.services, &app.senders).await.unwrap(), 0);
        assert_eq!(provider.sends().len(), 3, "one try, then nothing after the expiry");
        let metrics = app.get("/metrics", None).await.text().await.unwrap();
        assert!(
            metrics.contains(r#"sigillo_outbox_deliveries_total{channel="push",result="delivered"} 1"#),
            "{metrics}"
        );
        app.stop().await;
    }
}

/// A dead token (FCM 404 UNREGISTERED) is given up at once, not retried, and cleared from
/// the binding, so the next operation queues nothing for it.
#[tokio::test]
async fn a_dead_token_is_cleared_and_not_retried() {
    for backend in backends() {
        let provider = Provider::default();
        let base = start(provider.clone()).await;
        let app = TestApp::spawn_with(backend, with_providers(base)).await;
        let (user_id, binding_id) = phone_with_push(&app, "fcm", FCM_TOKEN).await;
        deliver_due(&app.services, &app.senders).await.unwrap();
        provider.reply(
            404,
            json!({ "error": { "code": 404, "status": "NOT_FOUND", "message": "Requested entity was not found.",
                "details": [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED" }] } }),
            None,
        );

        assert_eq!(notify(&app, &user_id, "op-pay-1", "payment", plus(app.clock.now(), 300)).await, 1);
        assert_eq!(deliver_due(&app.services, &app.senders).await.unwrap(), 0);
        let mut conn = app.services.store.conn().await.unwrap();
        assert_eq!(bindings::active_push_token(&mut conn, &binding_id).await.unwrap(), None, "token forgotten");
        let binding = bindings::get(&mut conn, &binding_id).await.unwrap().unwrap();
        assert_eq!(binding.status, bindings::BindingStatus::Active, "the binding itself stays");
        drop(conn);

        app.advance(Duration::from_secs(3600));
        assert_eq!(deliver_due(&app.services, &app.senders).await.unwrap(), 0);
        assert_eq!(provider.sends().len(), 1, "not retried");
        let row = &push_rows(&app).await[0];
        assert!(row.delivered_at.is_none());
        assert_eq!(notify(&app, &user_id, "op-pay-2", "payment", plus(app.clock.now(), 300)).await, 0);
        app.stop().await;
    }
}

/// Dev mode without providers: the note is logged and listed at `GET /dev/push`, and
/// stays out of `GET /dev/outbox` (whose channels are sms and email).
#[tokio::test]
async fn dev_mode_lists_pushes_at_dev_push() {
    let app = TestApp::spawn(backends()[0]).await;
    let (user_id, _) = phone_with_push(&app, "apns", APNS_TOKEN).await;
    assert_eq!(notify(&app, &user_id, "op-dev-1", "login", plus(app.clock.now(), 300)).await, 1);
    deliver_due(&app.services, &app.senders).await.unwrap();

    let pushes: Vec<Value> = app.get("/dev/push", None).await.json().await.unwrap();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0]["provider"], "apns");
    assert_eq!(pushes[0]["token"], APNS_TOKEN);
    assert_eq!(pushes[0]["op"], "op-dev-1");
    assert_eq!(pushes[0]["kind"], "login");
    assert!(pushes[0]["at"].as_str().unwrap().starts_with("2026-11-23T"));
    let outbox: Vec<Value> = app.get("/dev/outbox", None).await.json().await.unwrap();
    assert!(outbox.iter().all(|m| m["channel"] == "sms" || m["channel"] == "email"));
    app.stop().await;

    let prod = TestApp::spawn_with(backends()[0], |c| c.dev_mode = false).await;
    assert_eq!(prod.get("/dev/push", None).await.status(), ClientStatus::NOT_FOUND);
    prod.stop().await;
}
