//! Issue 4 end to end over the JSON API, with `sigillo-device` as the phone: pushed
//! logins with number matching, the login OTP, payments approved by push, by the
//! transaction OTP from the signed QR and by SMS OTP, and the wake-ups (SSE) that carry
//! the answer to the waiting client, also from another node.

use crate::each_backend;
use crate::support::TestApp;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sigillo_core::device::offline::{OfflinePurpose, TransactionQr};
use sigillo_core::device::{matching, messages::Operation};
use sigillo_device::keystore::FileKeystore;
use sigillo_device::prompt::Unlock;
use sigillo_device::state::State;
use sigillo_device::{Device, DeviceError};
use sigillo_server::clock::Clock;
use std::time::Duration;

const PHONE: &str = "+393331234567";
const PASSWORD: &str = "58301649";
pub(crate) const PIN: &str = "24680";
const IBAN: &str = "IT60X0542811101000000123456";

fn now(app: &TestApp) -> u64 {
    u64::try_from(app.clock.now().0).unwrap()
}

/// A customer past first access with one bound phone: (user code, session, phone).
pub(crate) async fn customer_with_phone(app: &TestApp) -> (String, String, Device<FileKeystore>) {
    let env = app.user_with_phone(PHONE).await;
    let token = app.activate(&env, PASSWORD, PHONE).await;
    let resp = app.post("/api/v1/devices/activation", json!({}), Some(&token)).await;
    let code = resp.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_owned();
    let mut phone = Device::new(
        State { version: State::VERSION, ..State::default() },
        FileKeystore::in_memory(),
        "Pixel",
        "android",
    );
    phone.activate(&app.base, &code, PIN, false, now(app)).await.unwrap();
    (env.user_code, token, phone)
}

/// Reads `status` events of a server-sent-events response.
struct Events {
    resp: Response,
    buf: String,
}

impl Events {
    async fn open(app: &TestApp, path: &str, token: Option<&str>) -> Self {
        let resp = app.get(path, token).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        Self { resp, buf: String::new() }
    }

    /// The next `status` event's data; panics after `wait`.
    async fn next(&mut self, wait: Duration) -> Value {
        tokio::time::timeout(wait, async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..end + 2).collect();
                    if block.lines().any(|l| l == "event: status") {
                        let data = block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                        return serde_json::from_str(data).unwrap();
                    }
                    continue;
                }
                let chunk = self.resp.chunk().await.unwrap().expect("the stream ended early");
                self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .expect("no event in time")
    }
}

async fn start_login(app: &TestApp, user: &str) -> (String, Value) {
    let resp = app.post("/api/v1/login", json!({ "username": user, "password": PASSWORD }), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    (body["flow"].as_str().unwrap().to_owned(), body)
}

fn server_error(e: &DeviceError) -> (u16, &str) {
    match e {
        DeviceError::Server { status, code, .. } => (*status, code.as_str()),
        other => panic!("expected a server refusal, got {other:?}"),
    }
}

/// DESIGN flow 3: the password pushes a login to the phone; the page shows one number,
/// the phone three; approving with the number on the page wakes the waiting client at
/// once (SSE) with the session; another number refuses the login as suspected fraud.
/// Requirements: R5, R8, R13, P3, P8.
#[tokio::test]
async fn a_pushed_login_is_approved_with_the_number_on_the_page() {
    each_backend!(|app| {
        let (user, _, phone) = customer_with_phone(&app).await;

        let (flow, body) = start_login(&app, &user).await;
        assert_eq!(body["methods"], json!(["push", "otp", "sms"]));
        let number = u8::try_from(body["number"].as_u64().unwrap()).unwrap();
        let mut events = Events::open(&app, &format!("/api/v1/login/{flow}/events"), None).await;
        assert_eq!(events.next(Duration::from_secs(5)).await["status"], "pending");

        let ops = phone.pending(None, now(&app)).await.unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].kind, matching::LOGIN_KIND);
        let offered = ops[0].numbers.expect("a login offers three numbers");
        assert!(offered.contains(&number));
        // The app refuses to approve a login without one of the offered numbers.
        let not_offered = (10..=99).find(|n| !offered.contains(n)).unwrap();
        let err = phone.approve(None, &ops[0].id, &Unlock::pin(PIN), Some(not_offered), now(&app)).await;
        assert!(matches!(err, Err(DeviceError::State(_))));

        phone.approve(None, &ops[0].id, &Unlock::pin(PIN), Some(number), now(&app)).await.unwrap();
        let approved = events.next(Duration::from_secs(5)).await;
        assert_eq!(approved["status"], "approved");
        let token = approved["token"].as_str().expect("the session comes with the event");
        let me: Value = app.get("/api/v1/me", Some(token)).await.json().await.unwrap();
        assert_eq!(me["user_code"], user.as_str());
        assert!(phone.pending(None, now(&app)).await.unwrap().is_empty(), "decided once (P8)");

        // Another number: the login is refused and the attempt is suspected fraud.
        let (flow, body) = start_login(&app, &user).await;
        let number = u8::try_from(body["number"].as_u64().unwrap()).unwrap();
        let op = phone.pending(None, now(&app)).await.unwrap().remove(0);
        let wrong = op.numbers.unwrap().into_iter().find(|n| *n != number).unwrap();
        let err = phone.approve(None, &op.id, &Unlock::pin(PIN), Some(wrong), now(&app)).await.unwrap_err();
        assert_eq!(server_error(&err), (409, "wrong_number"));
        let status: Value = app.get(&format!("/api/v1/login/{flow}"), None).await.json().await.unwrap();
        assert_eq!(status["status"], "rejected");
        assert!(app.audit_actions().await.iter().any(|a| a == "operation.number_mismatch"));

        // "Non sono io": the phone rejects; the client learns it at once.
        let (flow, _) = start_login(&app, &user).await;
        let mut events = Events::open(&app, &format!("/api/v1/login/{flow}/events"), None).await;
        events.next(Duration::from_secs(5)).await;
        let op = phone.pending(None, now(&app)).await.unwrap().remove(0);
        phone.reject(None, &op.id, now(&app)).await.unwrap();
        assert_eq!(events.next(Duration::from_secs(5)).await["status"], "rejected");
    });
}

/// The offline login OTP ("Genera OTP → OTP login"): accepted as the second step, each
/// time step once; a wrong PIN makes a wrong code that counts against the phone, and the
/// count suspends it at the limit with an alert. Requirements: R5, R8, R10, R11, P2, P4, P8.
#[tokio::test]
async fn the_login_otp_signs_in_once_per_time_step_and_wrong_pins_count() {
    each_backend!(|app| {
        let (user, _, phone) = customer_with_phone(&app).await;
        let code = phone.login_otp(None, PIN, now(&app)).unwrap();
        assert_eq!(code.len(), 6);
        let (flow, _) = start_login(&app, &user).await;
        let resp = app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": code }), None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.json::<Value>().await.unwrap()["token"].is_string());
        assert!(phone.pending(None, now(&app)).await.unwrap().is_empty(), "the pushed login left the phone");

        // The same code again, on a new login: refused (P8).
        let (flow, _) = start_login(&app, &user).await;
        let resp = app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": code }), None).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        app.advance(Duration::from_secs(30));
        let fresh = phone.login_otp(None, PIN, now(&app)).unwrap();
        let resp = app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": fresh }), None).await;
        assert_eq!(resp.status(), StatusCode::OK, "the next time step works");

        // Five wrong PINs: five wrong codes, all counted; then even the right code fails.
        app.advance(Duration::from_secs(30));
        for (i, pin) in ["11111", "22222", "33333", "44444", "55555"].iter().enumerate() {
            let (flow, _) = start_login(&app, &user).await;
            let wrong = phone.login_otp(None, pin, now(&app)).unwrap();
            let resp = app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": wrong }), None).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "wrong PIN {i}");
        }
        let (flow, _) = start_login(&app, &user).await;
        let right = phone.login_otp(None, PIN, now(&app)).unwrap();
        let resp = app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": right }), None).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "the PIN is suspended");
        assert!(app.audit_actions().await.iter().any(|a| a == "device.suspended"));
        assert!(app.outbox().await.iter().any(|m| m.channel == "sms" && m.body.contains("sospeso")));
    });
}

/// P4 against an independent implementation: the Python `oath` package computes the
/// login TOTP (RFC 6238, SHA-256, 6 digits, 30 s) from the same derived key, and the
/// server accepts it.
#[tokio::test]
async fn python_oath_computes_login_codes_the_server_accepts() {
    each_backend!(|app| {
        let (user, _, phone) = customer_with_phone(&app).await;
        let key = phone.offline_key(None, PIN, OfflinePurpose::Login).unwrap();
        let secs = now(&app) / 1000;
        let script = format!(
            "import hashlib, oath; print(oath.totp('{}', format='dec6', period=30, t={secs}, hash=hashlib.sha256))",
            hex::encode(*key)
        );
        let out = std::process::Command::new("python3").args(["-c", &script]).output().expect("python3");
        assert!(out.status.success(), "python oath: {}", String::from_utf8_lossy(&out.stderr));
        let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert_eq!(code, phone.login_otp(None, PIN, now(&app)).unwrap());
        let (flow, _) = start_login(&app, &user).await;
        let resp = app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": code }), None).await;
        assert_eq!(resp.status(), StatusCode::OK);
    });
}

async fn create_payment(app: &TestApp, token: &str, body: Value) -> Response {
    app.post("/api/v1/operations", body, Some(token)).await
}

fn transfer(amount: &str) -> Value {
    json!({ "kind": "payment", "amount": amount, "currency": "EUR", "payee": "Mario Rossi", "iban": IBAN })
}

/// DESIGN flow 4 by push: bad input is a 400 naming the field and stores nothing; a valid
/// payment reaches the phone as signed bytes showing amount, payee and IBAN, and the
/// approval wakes the waiting client. Requirements: R5, R15, R17, R19, P3, P5, P6.
#[tokio::test]
async fn a_payment_is_approved_on_the_phone_from_the_bytes_it_shows() {
    each_backend!(|app| {
        let (_, token, phone) = customer_with_phone(&app).await;
        for (bad, field) in [
            (
                json!({ "kind": "payment", "amount": "12.50", "currency": "EUR", "payee": "Mario Rossi", "iban": "IT60X0542811101000000123457" }),
                "iban",
            ),
            (
                json!({ "kind": "payment", "amount": "12.505", "currency": "EUR", "payee": "Mario Rossi", "iban": IBAN }),
                "amount",
            ),
            (
                json!({ "kind": "payment", "amount": "12.50", "currency": "EUX", "payee": "Mario Rossi", "iban": IBAN }),
                "currency",
            ),
            (
                json!({ "kind": "payment", "amount": "-1", "currency": "EUR", "payee": "Mario Rossi", "iban": IBAN }),
                "amount",
            ),
            (
                json!({ "kind": "payment", "amount": "1", "currency": "EUR", "payee": "Mario\u{202e}Rossi", "iban": IBAN }),
                "payee",
            ),
        ] {
            let resp = create_payment(&app, &token, bad).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            let body: Value = resp.json().await.unwrap();
            assert_eq!((body["error"].as_str(), body["field"].as_str()), (Some("invalid_request"), Some(field)));
        }
        let list: Value = app.get("/api/v1/operations", Some(&token)).await.json().await.unwrap();
        assert_eq!(list, json!([]), "nothing stored");

        let resp = create_payment(&app, &token, transfer("12.5")).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let op: Value = resp.json().await.unwrap();
        assert_eq!(op["status"], "pending");
        assert_eq!(op["methods"], json!(["push", "otp", "sms"]));
        assert!(op["qr"].as_str().unwrap().starts_with("SIGILLOTX1:"));
        let id = op["id"].as_str().unwrap();
        let mut events = Events::open(&app, &format!("/api/v1/operations/{id}/events"), Some(&token)).await;
        assert_eq!(events.next(Duration::from_secs(5)).await["status"], "pending");

        let pending = phone.pending(None, now(&app)).await.unwrap();
        assert_eq!(pending.len(), 1);
        let shown: Vec<(&str, &str)> = pending[0].fields.iter().map(|(l, v)| (l.as_str(), v.as_str())).collect();
        assert_eq!(shown, [("amount", "12.50"), ("currency", "EUR"), ("payee", "Mario Rossi"), ("iban", IBAN)]);
        phone.approve(None, id, &Unlock::pin(PIN), None, now(&app)).await.unwrap();
        let done = events.next(Duration::from_secs(5)).await;
        assert_eq!((done["status"].as_str(), done["method"].as_str()), (Some("approved"), Some("push")));
        let again = phone.approve(None, id, &Unlock::pin(PIN), None, now(&app)).await.unwrap_err();
        assert!(matches!(again, DeviceError::State(_)), "no longer pending on the phone");
        let resp = app.post(&format!("/api/v1/operations/{id}/otp"), json!({ "code": "12345678" }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::GONE, "decided once (P8)");
    });
}

/// DESIGN flow 4 offline: the app checks the QR's signature, shows the payment from the
/// signed bytes and computes the transaction OTP over them; one cent more, another payee
/// or one IBAN character more gives a code the server refuses (counted), the right one approves
/// once. Requirements: R5, R15, R16, R17, R18, R19, P4, P5, P6, P8.
#[tokio::test]
async fn the_transaction_otp_is_bound_to_amount_and_payee() {
    each_backend!(|app| {
        let (_, token, phone) = customer_with_phone(&app).await;
        let op: Value = create_payment(&app, &token, transfer("250.00")).await.json().await.unwrap();
        let id = op["id"].as_str().unwrap();
        let qr = op["qr"].as_str().unwrap();
        let scanned = phone.transaction_otp(None, qr, PIN, now(&app)).unwrap();
        assert_eq!(scanned.id, id);
        assert!(scanned.fields.contains(&("payee".into(), "Mario Rossi".into())));
        assert!(scanned.fields.contains(&("amount".into(), "250.00".into())));
        assert_eq!(scanned.code.len(), 8);

        // A QR whose signature does not match is refused by the app (P6).
        let forged = qr.replace(&qr[12..16], "AAAA");
        assert!(phone.transaction_otp(None, &forged, PIN, now(&app)).is_err());

        // Codes for a changed amount or IBAN, made with the right key: refused.
        let key = phone.offline_key(None, PIN, OfflinePurpose::Transaction).unwrap();
        let original = TransactionQr::verify(qr, &app.services.master_public_key()).unwrap();
        let mut op_bytes = Operation::decode(&original.operation).unwrap();
        for (label, changed) in
            [("amount", "250.01"), ("payee", "Mario Rossi Srl"), ("iban", "IT60X0542811101000000123457")]
        {
            let mut tampered = op_bytes.clone();
            tampered.fields.iter_mut().find(|(l, _)| l == label).unwrap().1 = changed.into();
            let code = TransactionQr { operation: tampered.encode(), nonce: original.nonce.clone() }.code(&key);
            assert_ne!(code, scanned.code);
            let resp = app.post(&format!("/api/v1/operations/{id}/otp"), json!({ "code": code }), Some(&token)).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{label} changed");
        }
        op_bytes.fields.clear();
        let resp =
            app.post(&format!("/api/v1/operations/{id}/otp"), json!({ "code": scanned.code }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        assert_eq!((body["status"].as_str(), body["method"].as_str()), (Some("approved"), Some("transaction_otp")));
        let resp =
            app.post(&format!("/api/v1/operations/{id}/otp"), json!({ "code": scanned.code }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::GONE, "once (P8)");
        let failures = app.audit_actions().await.iter().filter(|a| *a == "operation.code_failed").count();
        assert_eq!(failures, 3, "each wrong code counted against the operation");
    });
}

/// Customers without the app: the SMS OTP of a payment states amount and payee and is
/// bound to that payment; five wrong codes fail it. Requirements: R10, R15, R16, R23, P2, P5.
#[tokio::test]
async fn without_the_app_a_payment_is_approved_by_an_sms_that_names_it() {
    each_backend!(|app| {
        let env = app.user_with_phone(PHONE).await;
        let token = app.activate(&env, PASSWORD, PHONE).await;
        let op: Value = create_payment(&app, &token, transfer("12.50")).await.json().await.unwrap();
        assert_eq!(op["methods"], json!(["sms"]));
        assert!(op.get("qr").is_none());
        let id = op["id"].as_str().unwrap().to_owned();
        let resp = app.post(&format!("/api/v1/operations/{id}/sms"), json!({}), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let sms = app.outbox().await.into_iter().rev().find(|m| m.channel == "sms").unwrap();
        assert!(sms.body.contains("12.50 EUR") && sms.body.contains("Mario Rossi"), "{}", sms.body);
        let code = app.last_otp(PHONE).await;
        let resp = app.post(&format!("/api/v1/operations/{id}/otp"), json!({ "code": code }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::OK);

        // The code of one payment does not approve another; five wrong codes fail it.
        let other: Value = create_payment(&app, &token, transfer("13.00")).await.json().await.unwrap();
        let other = other["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/operations/{other}/sms"), json!({}), Some(&token)).await;
        let right = app.last_otp(PHONE).await;
        let wrong = if right == "000000" { "000001" } else { "000000" };
        let resp = app.post(&format!("/api/v1/operations/{other}/otp"), json!({ "code": code }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "another payment's code");
        for _ in 0..4 {
            let resp =
                app.post(&format!("/api/v1/operations/{other}/otp"), json!({ "code": wrong }), Some(&token)).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        let resp = app.post(&format!("/api/v1/operations/{other}/otp"), json!({ "code": right }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::GONE, "failed after five wrong codes");
        let status: Value = app.get(&format!("/api/v1/operations/{other}"), Some(&token)).await.json().await.unwrap();
        assert_eq!(status["status"], "failed");
    });
}

/// Scale-out (DESIGN.md): two nodes on one PostgreSQL; the client waits on node A, the
/// phone approves through node B, and A's stream moves on at once (LISTEN/NOTIFY).
#[tokio::test]
async fn an_approval_on_one_node_wakes_the_client_on_another() {
    for backend in sigillo_store::testing::backends() {
        if backend != sigillo_store::Backend::Postgres {
            continue;
        }
        let a = TestApp::spawn(backend).await;
        let b = a.second_node().await;
        let (_, token, mut phone) = customer_with_phone(&a).await;
        phone.set_server(&b.base);
        let op: Value = create_payment(&a, &token, transfer("99.99")).await.json().await.unwrap();
        let id = op["id"].as_str().unwrap();
        let mut events = Events::open(&a, &format!("/api/v1/operations/{id}/events"), Some(&token)).await;
        assert_eq!(events.next(Duration::from_secs(5)).await["status"], "pending");
        phone.approve(None, id, &Unlock::pin(PIN), None, now(&a)).await.unwrap();
        // Well under the streams' 10 s safety-net re-read: the wake-up came from B.
        let done = events.next(Duration::from_secs(3)).await;
        assert_eq!(done["status"], "approved");
        b.stop().await;
        a.stop().await;
    }
}

/// The phone's event stream (`sigillo-device listen`): what is pending now, then each new
/// operation as soon as it is created, with no polling. Requirements: P6.
#[tokio::test]
async fn the_phone_hears_of_a_new_payment_at_once() {
    each_backend!(|app| {
        let (_, token, phone) = customer_with_phone(&app).await;
        let mut seen: Vec<Vec<String>> = Vec::new();
        let listen = phone.listen(None, |ids| {
            let done = !ids.is_empty();
            seen.push(ids);
            !done
        });
        let create = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let op: Value = create_payment(&app, &token, transfer("5.00")).await.json().await.unwrap();
            op["id"].as_str().unwrap().to_owned()
        };
        let (heard, id) = tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(listen, create) })
            .await
            .expect("the phone heard of it well before the streams' safety-net re-read");
        heard.unwrap();
        assert_eq!(seen, vec![vec![], vec![id]]);
    });
}

/// P8 under concurrency: the same operation approved twice at once (two challenges, two
/// valid signatures): exactly one approval wins, the other is told it is over.
/// Requirements: R5, P8.
#[tokio::test]
async fn two_concurrent_approvals_of_one_operation_exactly_one_wins() {
    each_backend!(|app| {
        let (_, token, phone) = customer_with_phone(&app).await;
        for _ in 0..3 {
            let op: Value = create_payment(&app, &token, transfer("1.00")).await.json().await.unwrap();
            let id = op["id"].as_str().unwrap();
            let unlock = Unlock::pin(PIN);
            let (a, b) = tokio::join!(
                phone.approve(None, id, &unlock, None, now(&app)),
                phone.approve(None, id, &unlock, None, now(&app))
            );
            let results = [a, b];
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
            let loser = results.into_iter().find_map(Result::err).unwrap();
            match &loser {
                DeviceError::Server { status, .. } => assert_eq!(*status, 410),
                // The loser may already see the operation gone from its pending list.
                DeviceError::State(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let approved = app.audit_actions().await.iter().filter(|a| *a == "operation.approved").count();
        assert_eq!(approved, 3, "one approval per operation");
    });
}

/// Operations live 5 minutes: then the client sees `expired`, the phone no longer lists
/// it, and neither an approval nor a code is accepted. Requirements: R13.
#[tokio::test]
async fn operations_and_pushed_logins_expire() {
    each_backend!(|app| {
        let (user, token, phone) = customer_with_phone(&app).await;
        let op: Value = create_payment(&app, &token, transfer("7.00")).await.json().await.unwrap();
        let id = op["id"].as_str().unwrap();
        let scanned = phone.transaction_otp(None, op["qr"].as_str().unwrap(), PIN, now(&app)).unwrap();
        let (flow, _) = start_login(&app, &user).await;
        app.advance(Duration::from_secs(301));
        // The first session ended (5 minutes idle): a fresh one, by SMS.
        let (token, _) = app.login(&user, PASSWORD, PHONE).await;
        let status: Value = app.get(&format!("/api/v1/operations/{id}"), Some(&token)).await.json().await.unwrap();
        assert_eq!((status["status"].as_str(), status.get("qr")), (Some("expired"), None));
        let resp =
            app.post(&format!("/api/v1/operations/{id}/otp"), json!({ "code": scanned.code }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::GONE);
        let login: Value = app.get(&format!("/api/v1/login/{flow}"), None).await.json().await.unwrap();
        assert_eq!(login["status"], "expired");
        let pending = phone.pending(None, now(&app)).await.unwrap();
        assert!(pending.iter().all(|p| p.id != id), "the phone no longer lists it");
        let err = phone.transaction_otp(None, op["qr"].as_str().unwrap(), PIN, now(&app)).unwrap_err();
        assert!(matches!(err, DeviceError::State(_)), "the app refuses an expired QR");
    });
}

/// P2 across channels: wrong PINs through a push approval, the login OTP and the
/// transaction OTP all count on the one binding; the fifth suspends it (alert first).
/// Requirements: R10, R11, P2.
#[tokio::test]
async fn five_wrong_pins_through_any_mix_of_channels_suspend_the_binding() {
    each_backend!(|app| {
        let (user, token, phone) = customer_with_phone(&app).await;
        let wrong = Unlock::pin("13579");
        for _ in 0..2 {
            let op: Value = create_payment(&app, &token, transfer("3.00")).await.json().await.unwrap();
            let err = phone.approve(None, op["id"].as_str().unwrap(), &wrong, None, now(&app)).await.unwrap_err();
            assert_eq!(server_error(&err).0, 401);
        }
        for _ in 0..2 {
            let (flow, _) = start_login(&app, &user).await;
            let code = phone.login_otp(None, "13579", now(&app)).unwrap();
            let resp = app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": code }), None).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        assert!(!app.audit_actions().await.iter().any(|a| a == "device.suspended"), "four are not enough");
        let op: Value = create_payment(&app, &token, transfer("4.00")).await.json().await.unwrap();
        let id = op["id"].as_str().unwrap();
        let code = phone.transaction_otp(None, op["qr"].as_str().unwrap(), "13579", now(&app)).unwrap().code;
        let resp = app.post(&format!("/api/v1/operations/{id}/otp"), json!({ "code": code }), Some(&token)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(app.audit_actions().await.iter().any(|a| a == "device.suspended"));
        // Suspended: even the right PIN approves nothing now.
        let err = phone.approve(None, id, &Unlock::pin(PIN), None, now(&app)).await.unwrap_err();
        assert_eq!(server_error(&err).0, 401);
    });
}

/// P9: every failed code gets the same status and body, whatever the cause (wrong code,
/// wrong PIN behind it, malformed, a replay, an unknown flow). Requirements: R9.
#[tokio::test]
async fn every_failed_code_looks_the_same() {
    each_backend!(|app| {
        let (user, token, phone) = customer_with_phone(&app).await;
        let mut bodies = Vec::new();
        let used = phone.login_otp(None, PIN, now(&app)).unwrap();
        let (flow, _) = start_login(&app, &user).await;
        let ok = app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": used }), None).await;
        assert_eq!(ok.status(), StatusCode::OK);
        for (flow, code) in [
            (start_login(&app, &user).await.0, used.clone()),
            (start_login(&app, &user).await.0, "abcdef".to_owned()),
            (start_login(&app, &user).await.0, phone.login_otp(None, "97531", now(&app)).unwrap()),
            ("no-such-flow".to_owned(), "123456".to_owned()),
        ] {
            let resp = app.post(&format!("/api/v1/login/{flow}/otp"), json!({ "code": code }), None).await;
            bodies.push((resp.status(), resp.text().await.unwrap()));
        }
        let op: Value = create_payment(&app, &token, transfer("2.00")).await.json().await.unwrap();
        let id = op["id"].as_str().unwrap();
        for code in ["12345678", "123456", "x"] {
            let resp = app.post(&format!("/api/v1/operations/{id}/otp"), json!({ "code": code }), Some(&token)).await;
            bodies.push((resp.status(), resp.text().await.unwrap()));
        }
        let first = bodies[0].clone();
        assert_eq!(first.0, StatusCode::UNAUTHORIZED);
        assert!(bodies.iter().all(|b| *b == first), "{bodies:#?}");
    });
}

/// A `sigillo serve` process of the test's own binary, killed when dropped.
struct Node {
    child: std::process::Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_env(cmd: &mut std::process::Command, db_url: &str, data_dir: &std::path::Path) {
    cmd.env("SIGILLO_DATABASE_URL", db_url)
        .env("SIGILLO_DATA_DIR", data_dir)
        .env("SIGILLO_SECURITY__HASHING__MEMORY_KIB", "256")
        .env("SIGILLO_SECURITY__HASHING__ITERATIONS", "1")
        .env("SIGILLO_OUTBOX__POLL_MS", "3600000")
        .current_dir(data_dir);
}

async fn start_node(db_url: &str, data_dir: &std::path::Path) -> Node {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sigillo"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    node_env(&mut cmd, db_url, data_dir);
    let node = Node { child: cmd.spawn().expect("spawn sigillo serve"), base: format!("http://127.0.0.1:{port}") };
    for _ in 0..200 {
        if reqwest::get(format!("{}/healthz", node.base)).await.is_ok_and(|r| r.status().is_success()) {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sigillo serve did not come up");
}

/// DESIGN.md "Scale-out", literally: two `sigillo serve` processes on one PostgreSQL. The
/// customer's client waits on node A; the phone approves through node B; A's stream moves
/// on at once (LISTEN/NOTIFY), well before the streams' 10 s re-read.
#[tokio::test]
async fn two_serve_processes_share_one_postgresql() {
    if sigillo_store::testing::postgres_url().is_none() {
        return;
    }
    let db = sigillo_store::testing::TestDb::new(sigillo_store::Backend::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    // Node A generates the dev-mode key into the shared folder; B starts after and reads it.
    let a = start_node(&db.url, dir.path()).await;
    let b = start_node(&db.url, dir.path()).await;
    let mut create = std::process::Command::new(env!("CARGO_BIN_EXE_sigillo"));
    create.args(["admin", "user", "create", "--phone", PHONE, "--email", "anna@example.it", "--json"]);
    node_env(&mut create, &db.url, dir.path());
    let out = create.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let env: Value = serde_json::from_slice(&out.stdout).unwrap();
    let http = reqwest::Client::new();
    let post = |base: &str, path: &str, body: Value, token: Option<&str>| {
        let mut req = http.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let last_sms_code = || async {
        let outbox: Value = http.get(format!("{}/dev/outbox", a.base)).send().await.unwrap().json().await.unwrap();
        let text = outbox.as_array().unwrap().iter().rev().find(|m| m["channel"] == "sms").unwrap()["text"].clone();
        let text = text.as_str().unwrap().to_owned();
        text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).unwrap().to_owned()
    };
    let login: Value = post(
        &a.base,
        "/api/v1/login",
        json!({ "username": env["user_code"], "password": env["initial_password"] }),
        None,
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let flow = login["flow"].as_str().unwrap();
    post(&a.base, &format!("/api/v1/login/{flow}/sms"), json!({}), None).await.unwrap();
    let code = last_sms_code().await;
    let grant: Value = post(&a.base, &format!("/api/v1/login/{flow}/otp"), json!({ "code": code }), None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = grant["token"].as_str().unwrap().to_owned();
    let resp =
        post(&a.base, "/api/v1/password", json!({ "current": env["initial_password"], "new": PASSWORD }), Some(&token))
            .await
            .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let activation: Value =
        post(&a.base, "/api/v1/devices/activation", json!({}), Some(&token)).await.unwrap().json().await.unwrap();
    let mut phone = Device::new(
        State { version: State::VERSION, ..State::default() },
        FileKeystore::in_memory(),
        "Pixel",
        "android",
    );
    let now_ms = || u64::try_from(chrono_now()).unwrap();
    phone.activate(&a.base, activation["code"].as_str().unwrap(), PIN, false, now_ms()).await.unwrap();
    phone.set_server(&b.base);

    let op: Value =
        post(&a.base, "/api/v1/operations", transfer("99.99"), Some(&token)).await.unwrap().json().await.unwrap();
    let id = op["id"].as_str().unwrap();
    let resp = http.get(format!("{}/api/v1/operations/{id}/events", a.base)).bearer_auth(&token).send().await.unwrap();
    let mut events = Events { resp, buf: String::new() };
    assert_eq!(events.next(Duration::from_secs(5)).await["status"], "pending");
    phone.approve(None, id, &Unlock::pin(PIN), None, now_ms()).await.unwrap();
    assert_eq!(events.next(Duration::from_secs(3)).await["status"], "approved", "node A woken by node B");
    drop((a, b));
    db.cleanup().await;
}

/// The wall clock, for the real processes of the scale-out test.
#[expect(clippy::disallowed_methods, reason = "real `sigillo serve` processes run on the system clock")]
fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
